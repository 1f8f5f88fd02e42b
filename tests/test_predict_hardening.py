"""`zoo predict` hardening (issue 12): streaming with bounded memory, no silent
casts, positive --top/--batch-size, one-line errors, string batches for text
exports. Most cases run `zoo.cli.main` in-process; value and dtype checks run
before the SavedModel loads, so they cost no serving time."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo.cli import main

from conftest import zoo_env

SMALL, LARGE = 3_000, 30_000  # rows of the memory test (10x)


@pytest.fixture(scope="module")
def lenet_export(tmp_path_factory):
    """A LeNet-5 trained one epoch on digits and exported: uint8 (8, 8, 1) images in."""
    from zoo.runtime.exporter import export_trained

    root = tmp_path_factory.mktemp("lenet")
    result = zoo.train("lenet5", "digits", epochs=1, run_dir=root / "run", verbose=0)
    return export_trained(result.model, result.spec, result.plan, base_dir=root / "saved",
                          verify=False).path


@pytest.fixture(scope="module")
def text_export(tmp_path_factory):
    """A real but tiny language-model export: strings in, next-token probabilities out."""
    from zoo.runtime.exporter import export
    from zoo.tasks.language_modelling import text_serving_model

    tokens = ["[UNK]", "a", "b", "c", "d"]
    model = zoo.build("lstm_lm", vocab_size=len(tokens), embedding_dim=4, units=4, layers=1)
    serving = text_serving_model(model, tokens, "char", "text", "probabilities")
    return export(model, "tiny_lm", serving=serving, input_name="text",
                  output_name="probabilities", sample=np.array(["ab", "abcd"]),
                  class_names=tokens, base_dir=tmp_path_factory.mktemp("text"),
                  verify=False).path


def run(capsys, *args):
    """`zoo predict ARGS` in-process: (exit code, stdout, last stderr line)."""
    code = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    return code, captured.out, lines[-1] if lines else ""


def served(export_dir, batch):
    """The export's own signature on `batch`: the reference for predict's outputs."""
    import tensorflow as tf

    manifest = json.loads((export_dir / "manifest.json").read_text())
    (name, _), = manifest["inputs"].items()
    (output, _), = manifest["outputs"].items()
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    return serve(**{name: tf.constant(batch)})[output].numpy()


def digits(rows, seed=0):
    return np.random.default_rng(seed).integers(0, 17, size=(rows, 8, 8, 1)).astype("uint8")


# 1. Streaming, bounded memory, atomic outputs.

def test_peak_memory_does_not_grow_with_the_input(lenet_export, tmp_path):
    """10x more rows: peak RSS within 1.2x (today's code: ~790 MB -> ~1.4 GB)."""
    small = digits(SMALL)
    np.save(tmp_path / "small.npy", small)
    np.save(tmp_path / "large.npy", np.concatenate([small] * (LARGE // SMALL)))
    child = ("import resource, sys; from zoo.cli import main; "
             "rc = main(['predict', sys.argv[1], sys.argv[2], '--out', sys.argv[3]]); "
             "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    procs = [subprocess.Popen([sys.executable, "-c", child, str(lenet_export),
                               str(tmp_path / f"{n}.npy"), str(tmp_path / f"{n}-out.npy")],
                              cwd=tmp_path, env=zoo_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in ("small", "large")]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append([int(v) for v in out.strip().splitlines()[-1].split()])
    print("peak RSS (KiB), small and large:", results)
    (small_rc, small_rss), (large_rc, large_rss) = results
    assert (small_rc, large_rc) == (0, 0)
    assert large_rss <= 1.2 * small_rss, (small_rss, large_rss)
    small_out, large_out = (np.load(tmp_path / f"{n}-out.npy") for n in ("small", "large"))
    assert small_out.shape == (SMALL, 10) and large_out.shape == (LARGE, 10)
    np.testing.assert_allclose(small_out, served(lenet_export, small), atol=1e-6)
    np.testing.assert_allclose(large_out[-SMALL:], small_out, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "large-out.npy", "large.npy", "small-out.npy", "small.npy"]  # no temporary file left


def test_out_writes_npy_and_csv_in_batches(lenet_export, tmp_path, capsys):
    x = digits(7, seed=1)
    np.save(tmp_path / "x.npy", x)
    expected = served(lenet_export, x)
    code, out, _ = run(capsys, lenet_export, tmp_path / "x.npy", "--batch-size", 3,
                       "--out", tmp_path / "p.npy")
    assert code == 0 and out == f"Wrote 7 predictions to {tmp_path / 'p.npy'}\n"
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-6)
    code, out, _ = run(capsys, lenet_export, tmp_path / "x.npy", "--batch-size", 2,
                       "--out", tmp_path / "p.csv")
    assert code == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "row,prediction," + ",".join(str(i) for i in range(10))
    assert len(rows) == 8 and rows[7].startswith(f"6,{expected[6].argmax()},")
    np.testing.assert_allclose([float(v) for v in rows[7].split(",")[2:]], expected[6], atol=1e-6)
    # Printing keeps today's format, and batches change nothing.
    code, out, _ = run(capsys, lenet_export, tmp_path / "x.npy", "--batch-size", 2, "--top", 1)
    assert out.splitlines()[6] == f"[6] {expected[6].argmax()}: {expected[6].max():.4f}"
    code, _, err = run(capsys, lenet_export, tmp_path / "x.npy", "--out", tmp_path / "p.txt")
    assert code == 2 and err == (
        f"zoo: error: `out` must name a .npy or .csv file. Received: out='{tmp_path / 'p.txt'}'")


def test_a_failed_predict_leaves_no_half_file(lenet_export, tmp_path, capsys, monkeypatch):
    """Interrupted while writing: the previous file stays, no temporary is left."""
    import os

    import zoo.runtime.predict
    from zoo._common import temporary_path

    np.save(tmp_path / "x.npy", digits(9))
    (tmp_path / "p.npy").write_bytes(b"previous result")
    temporary_path(tmp_path / "p.npy", pid=999999999).write_bytes(b"left by a killed predict")
    ours = temporary_path(tmp_path / "p.npy", pid=os.getpid())
    original, written = zoo.runtime.predict.checked_batches, []

    def interrupted(*args, **kwargs):
        for start, batch in original(*args, **kwargs):
            if start == 4 and ours.exists():  # two batches already written
                written.append(ours.stat().st_size)
                raise KeyboardInterrupt
            yield start, batch

    monkeypatch.setattr(zoo.runtime.predict, "checked_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["predict", str(lenet_export), str(tmp_path / "x.npy"), "--batch-size", "2",
              "--out", str(tmp_path / "p.npy")])
    assert written and written[0] > 4 * 10 * 4  # written as it came: header and 4 rows
    assert (tmp_path / "p.npy").read_bytes() == b"previous result"
    # The stale temporary of a dead process and our own are gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy", "x.npy"]


def test_large_inputs_need_out(lenet_export, tmp_path, capsys, monkeypatch):
    import zoo.runtime.predict

    monkeypatch.setattr(zoo.runtime.predict, "PRINT_LIMIT", 4)
    np.save(tmp_path / "x.npy", digits(5))
    code, out, err = run(capsys, lenet_export, tmp_path / "x.npy")
    assert code == 2 and out == ""
    assert err == (f"zoo: error: {tmp_path / 'x.npy'} holds 5 examples; zoo predict prints at "
                   "most 4. Pass --out FILE.npy or --out FILE.csv to write them all.")


def test_empty_input_is_refused(lenet_export, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((0, 8, 8, 1), "uint8"))
    code, _, err = run(capsys, lenet_export, tmp_path / "x.npy")
    assert code == 2
    assert err == f"zoo: error: {tmp_path / 'x.npy'} holds no examples (shape (0, 8, 8, 1))."


# 2. No silent casts.

UINT8 = "uint8 integers in [0, 255]"


@pytest.mark.parametrize("array, received", [
    (np.full((2, 8, 8, 1), 0.5), "0.5 at row 0. For [0, 1] floats, pass --scale 255."),
    (np.full((1, 8, 8, 1), 300), "300 at row 0."),
    (np.full((1, 8, 8, 1), -1), "-1 at row 0."),
    (np.full((1, 8, 8, 1), np.nan), "nan at row 0."),
    (np.full((1, 8, 8, 1), np.inf, "float32"), "inf at row 0."),
    (np.full((1, 8, 8, 1), 3.0 + 4.0j), "an array of dtype complex128."),
    (np.zeros((1, 8, 8, 1), bool), "an array of dtype bool."),
    (np.array(["hello", "world"]), "an array of dtype str."),
    (np.concatenate([np.zeros((300, 8, 8, 1), int), np.full((1, 8, 8, 1), 256)]),
     "256 at row 300."),
], ids=["unit-float", "300", "-1", "nan", "inf", "complex", "bool", "str", "row-300"])
def test_values_that_do_not_fit_are_refused(lenet_export, tmp_path, capsys, array, received):
    np.save(tmp_path / "x.npy", array)
    code, out, err = run(capsys, lenet_export, tmp_path / "x.npy")
    assert code == 2 and out == ""
    assert err == (f"zoo: error: {tmp_path / 'x.npy'}: the export's input 'image' takes "
                   f"{UINT8}. Received: {received}")


def test_integral_values_of_any_real_dtype_are_served_exactly(lenet_export, tmp_path, capsys):
    x = digits(3)
    np.save(tmp_path / "x.npy", x.astype("float64"))
    code, out, _ = run(capsys, lenet_export, tmp_path / "x.npy", "--out", tmp_path / "p.npy")
    assert code == 0
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), served(lenet_export, x), atol=1e-6)


def test_scale_maps_unit_floats_onto_uint8(lenet_export, tmp_path, capsys):
    x = digits(4) / 255.0
    np.save(tmp_path / "x.npy", x)
    code, _, _ = run(capsys, lenet_export, tmp_path / "x.npy", "--scale", 255,
                     "--out", tmp_path / "p.npy")
    assert code == 0
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"),
                               served(lenet_export, np.rint(x * 255).astype("uint8")), atol=1e-6)
    np.save(tmp_path / "y.npy", np.full((1, 8, 8, 1), 1.5))
    code, _, err = run(capsys, lenet_export, tmp_path / "y.npy", "--scale", 255)
    assert code == 2 and err == (f"zoo: error: {tmp_path / 'y.npy'}: the export's input 'image' "
                                 f"takes {UINT8}. Received: 1.5 at row 0 (x255 = 382.5).")
    for bad in ("0", "-1", "nan"):
        code, _, err = run(capsys, lenet_export, tmp_path / "x.npy", "--scale", bad)
        assert code == 2
        assert err == ("zoo: error: `scale` must be a finite number > 0. "
                       f"Received: scale={float(bad)}")


# 3. --top and --batch-size.

@pytest.mark.parametrize("option, value", [("--top", "0"), ("--top", "-1"),
                                           ("--batch-size", "0"), ("--batch-size", "-3")])
def test_top_and_batch_size_must_be_positive(lenet_export, tmp_path, capsys, option, value):
    np.save(tmp_path / "x.npy", digits(2))
    code, out, err = run(capsys, lenet_export, tmp_path / "x.npy", option, value)
    arg = option[2:].replace("-", "_")
    assert code == 2 and out == ""
    assert err == f"zoo: error: `{arg}` must be an integer >= 1. Received: {arg}={value}"


# 4. Unreadable inputs and folders: one line, exit 2.

def test_unreadable_inputs_are_one_line_errors(lenet_export, tmp_path, capsys):
    from PIL import Image

    for name in ("missing.npy", "missing.png"):
        code, _, err = run(capsys, lenet_export, tmp_path / name)
        assert code == 2 and err == f"zoo: error: Input file {tmp_path / name} does not exist."
    (tmp_path / "random.png").write_bytes(np.random.default_rng(0).bytes(300))
    noise = np.random.default_rng(0).integers(0, 256, size=(40, 40), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.png")
    (tmp_path / "truncated.png").write_bytes((tmp_path / "full.png").read_bytes()[:800])
    for name in ("random.png", "truncated.png"):
        code, out, err = run(capsys, lenet_export, tmp_path / name)
        assert code == 2 and out == ""
        assert re.fullmatch(rf"zoo: error: {re.escape(str(tmp_path / name))} is not a readable "
                            r"image \(corrupt, truncated or not an image\): .+", err), err
    (tmp_path / "random.npy").write_bytes(b"\x00" * 100)
    code, _, err = run(capsys, lenet_export, tmp_path / "random.npy")
    assert code == 2
    assert err == f"zoo: error: {tmp_path / 'random.npy'} is not a .npy file (no .npy header)."
    # The complete image still predicts.
    code, out, _ = run(capsys, lenet_export, tmp_path / "full.png", "--top", 2)
    assert code == 0 and out.startswith("[0] ") and out.count(": ") == 2


def test_folders_that_are_not_exports_are_one_line_errors(tmp_path, capsys):
    np.save(tmp_path / "x.npy", digits(1))
    code, _, err = run(capsys, tmp_path, tmp_path / "x.npy")
    assert code == 2 and err == f"zoo: error: {tmp_path} is not a zoo export (no manifest.json)."
    code, _, err = run(capsys, tmp_path / "nowhere", tmp_path / "x.npy")
    assert code == 2 and err == f"zoo: error: Export folder {tmp_path / 'nowhere'} does not exist."
    (tmp_path / "manifest.json").write_text('{"inputs": ')
    code, _, err = run(capsys, tmp_path, tmp_path / "x.npy")
    assert code == 2 and err.startswith(
        f"zoo: error: {tmp_path / 'manifest.json'} is not a zoo export manifest: ")


# 5. Strings for text exports.

def test_a_string_batch_is_served_by_a_text_export(text_export, tmp_path, capsys):
    texts = np.array(["ab", "abcd", "dcb"])
    np.save(tmp_path / "t.npy", texts)
    expected = served(text_export, texts)
    code, out, _ = run(capsys, text_export, tmp_path / "t.npy", "--top", 2)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    tokens = ["[UNK]", "a", "b", "c", "d"]
    for i, line in enumerate(lines):
        best = np.argsort(expected[i])[::-1][:2]
        assert line == f"[{i}] " + ", ".join(f"{tokens[j]}: {expected[i][j]:.4f}" for j in best)
    code, _, _ = run(capsys, text_export, tmp_path / "t.npy", "--out", tmp_path / "p.npy")
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-6)


def test_dtypes_that_do_not_match_the_export_are_refused(text_export, lenet_export, tmp_path,
                                                         capsys):
    np.save(tmp_path / "n.npy", np.zeros((2,), "float32"))
    code, _, err = run(capsys, text_export, tmp_path / "n.npy")
    assert code == 2 and err == (f"zoo: error: {tmp_path / 'n.npy'}: the export's input 'text' "
                                 "takes strings. Received: an array of dtype float32.")
    np.save(tmp_path / "t2.npy", np.array([["ab", "c"], ["d", "a"]]))
    code, _, err = run(capsys, text_export, tmp_path / "t2.npy")
    assert code == 2 and err == (f"zoo: error: {tmp_path / 't2.npy'} holds an array of shape "
                                 "(2, 2); the export expects () or (batch,).")
    np.save(tmp_path / "t.npy", np.array(["ab"]))
    code, _, err = run(capsys, text_export, tmp_path / "t.npy", "--scale", 2)
    assert code == 2 and err == ("zoo: error: `scale` applies to numeric inputs; the export's "
                                 "input 'text' takes strings. Received: scale=2.0")


def test_the_manifest_alone_decides_dtype_errors(tmp_path, capsys):
    """No SavedModel is loaded (there is none) before the input is refused."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "inputs": {"text": {"shape": [None], "dtype": "string"}},
        "outputs": {"probabilities": {"shape": [None, 5], "dtype": "float32"}}}))
    np.save(tmp_path / "ids.npy", np.arange(4, dtype="int32"))
    code, _, err = run(capsys, folder, tmp_path / "ids.npy")
    assert code == 2 and err == (f"zoo: error: {tmp_path / 'ids.npy'}: the export's input 'text' "
                                 "takes strings. Received: an array of dtype int32.")


# Exports with a fixed batch, and exports that check their input in the graph.

def test_a_fixed_batch_export_serves_any_number_of_examples(tmp_path, capsys):
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.plan import plan_data

    spec = zoo.get_spec("softmax_regression")
    plan = plan_data(spec)
    folder = export_trained(spec.builder(**plan.builder_args), spec, plan, base_dir=tmp_path,
                            static_batch=4, verify=False).path
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    code, _, _ = run(capsys, folder, tmp_path / "x.npy", "--out", tmp_path / "p.npy")
    assert code == 0
    expected = np.concatenate([served(folder, x[:4]), served(folder, x[2:])[2:]])
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-6)
    code, _, err = run(capsys, folder, tmp_path / "x.npy", "--batch-size", 3)
    assert code == 2 and err == ("zoo: error: `batch_size` must be 4: the export's batch size "
                                 "is fixed. Received: batch_size=3")


def test_a_refusal_inside_the_signature_is_one_line(tmp_path, capsys):
    import tensorflow as tf

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids")])
        def serve(self, ids):
            tf.debugging.assert_positive(ids, message="token ids must be >= 1")
            return {"doubled": ids * 2}

    module = Doubler()
    tf.saved_model.save(module, str(tmp_path / "export"),
                        signatures={"serving_default": module.serve})
    (tmp_path / "export" / "manifest.json").write_text(json.dumps({
        "inputs": {"ids": {"shape": [None], "dtype": "int32"}},
        "outputs": {"doubled": {"shape": [None], "dtype": "int32"}}}))
    np.save(tmp_path / "ids.npy", np.array([3, 1, 0, 2], "int32"))
    code, out, err = run(capsys, tmp_path / "export", tmp_path / "ids.npy", "--batch-size", 2)
    assert code == 2 and out == "[0] doubled=6.0000\n[1] doubled=2.0000\n"  # printing streams
    assert err.startswith(f"zoo: error: The export refused rows 2-3 of {tmp_path / 'ids.npy'}: "
                          "assertion failed: [token ids must be >= 1"), err
    code, out, err = run(capsys, tmp_path / "export", tmp_path / "ids.npy", "--batch-size", 2,
                         "--out", tmp_path / "doubled.npy")
    assert code == 2 and err.startswith("zoo: error: The export refused rows 2-3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "ids.npy"]  # no half file
