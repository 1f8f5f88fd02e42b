"""Issue 16: ONNX and LiteRT files beside the SavedModel, verified without TensorFlow;
TF Serving warm-up records. Every model's formats are checked by the harness in
tests/test_models.py; this file checks the behaviour on one export."""

import json
import re

import numpy as np
import pytest

import zoo
from zoo.runtime import formats
from zoo.runtime.exporter import export_trained
from zoo.runtime.plan import plan_data
from zoo.runtime.warmup import WARMUP_FILE, prediction_log, read_warmup

from test_export_hardening import run_dir, zoo as run_zoo  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def lenet_export(tmp_path_factory):
    """LeNet-5 (test size, seeded, untrained) exported in all three formats."""
    import keras

    keras.utils.set_random_seed(0)
    spec = zoo.get_spec("lenet5")
    plan = plan_data(spec, overrides=spec.test_args)
    model = spec.builder(**plan.builder_args)
    return export_trained(model, spec, plan, base_dir=tmp_path_factory.mktemp("formats"),
                          formats="saved_model,onnx,litert")


def test_extra_formats_sit_beside_the_saved_model_with_their_manifest(lenet_export):
    folder = lenet_export.path
    assert (folder / "model.onnx").is_file() and (folder / "model.tflite").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["formats"] == lenet_export.manifest["formats"]
    onnx_entry, litert_entry = manifest["formats"]["onnx"], manifest["formats"]["litert"]
    for entry, name in ((onnx_entry, "model.onnx"), (litert_entry, "model.tflite")):
        (figures,) = entry["signatures"].values()
        assert figures["file"] == name
        assert figures["inputs"] == {"image": {"dtype": "uint8", "shape": [None, 8, 8, 1]}}
        assert figures["outputs"] == {"probabilities": {"dtype": "float32", "shape": [None, 10]}}
        assert figures["max_abs_diff"] <= 1e-5
        # `classify` returns strings: listed with the reason, never dropped silently.
        assert entry["skipped"] == {"classify": "returns strings (`class_name`); "
                                    "`serving_default` returns the same probabilities"}
    assert set(manifest["formats"]["saved_model"]["signatures"]) == {"serving_default",
                                                                     "classify"}


def test_extra_formats_run_without_tensorflow_on_new_inputs(lenet_export):
    """The files serve in plain runtimes, matching the SavedModel on other inputs."""
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8, 1)).astype("uint8")
    served = tf.saved_model.load(str(lenet_export.path)).signatures["serving_default"]
    expected = served(image=tf.constant(images))["probabilities"].numpy()
    session = onnxruntime.InferenceSession(str(lenet_export.path / "model.onnx"))
    (onnx_out,) = session.run(["probabilities"], {"image": images})
    runner = Interpreter(str(lenet_export.path / "model.tflite")).get_signature_runner(
        "serving_default")
    np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
    np.testing.assert_allclose(runner(image=images)["probabilities"], expected, atol=1e-5)


def test_warmup_records_parse_and_run_through_the_saved_model(lenet_export):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = lenet_export.path / WARMUP_FILE
    loaded = tf.saved_model.load(str(lenet_export.path))
    records = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
    signatures = []
    read_back = read_warmup(lenet_export.path)  # the zoo's own reader agrees
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        assert request.model_spec.name == "lenet5"
        signatures.append(request.model_spec.signature_name)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        assert list(read_back[signatures[-1]]) == list(inputs)
        for name, values in inputs.items():
            np.testing.assert_array_equal(read_back[signatures[-1]][name], values)
        assert list(inputs) == ["image"] and inputs["image"].shape == (8, 8, 8, 1)
        outputs = loaded.signatures[request.model_spec.signature_name](
            **{k: tf.constant(v) for k, v in inputs.items()})
        assert outputs["probabilities"].shape == (8, 10)
    assert signatures == ["serving_default", "classify"] == list(read_back)


def test_prediction_log_encoding_matches_tensorflow_serving():
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    tensor = tf.make_tensor_proto(np.array([b"a", b"bc"], dtype=object))
    expected = prediction_log_pb2.PredictionLog()
    expected.predict_log.request.model_spec.name = "m" * 200  # a two-byte length
    expected.predict_log.request.model_spec.signature_name = "words"
    expected.predict_log.request.inputs["text"].CopyFrom(tensor)
    encoded = prediction_log("m" * 200, "words", {"text": tensor.SerializeToString()})
    assert prediction_log_pb2.PredictionLog.FromString(encoded) == expected


@pytest.mark.parametrize("given, message", [
    ("onnx,tflite", "`formats` must be among saved_model, onnx, litert. "
                    "Received: formats='onnx,tflite'"),
    ("", "`formats` must be among saved_model, onnx, litert. Received: formats=''"),
])
def test_unknown_formats_are_refused(given, message):
    with pytest.raises(ValueError) as info:
        formats.check_formats(given)
    assert str(info.value) == message


def test_formats_put_saved_model_first_and_need_verification(tmp_path):
    assert formats.check_formats("litert, onnx") == ("saved_model", "onnx", "litert")
    assert formats.check_formats(None) == ("saved_model",)
    from zoo.runtime.exporter import export

    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError) as info:
        export(model, "m", base_dir=tmp_path, verify=False, formats="onnx")
    assert str(info.value) == ("Extra formats are kept only when verified. Received: "
                               "verify=False, formats=saved_model,onnx")
    assert list(tmp_path.iterdir()) == []


def test_zoo_export_refuses_an_unknown_format_before_loading(run_dir, tmp_path, capsys):  # noqa: F811
    assert run_zoo(capsys, "export", run_dir, "--format", "saved_model,tf_js",
                   "--base-dir", tmp_path / "sm") == (
        2, "zoo: error: `formats` must be among saved_model, onnx, litert. "
           "Received: formats='saved_model,tf_js'")
    assert not (tmp_path / "sm").exists()


@pytest.mark.parametrize("command", [
    ("train", "softmax_regression", "--epochs", "1"),
    ("tune", "softmax_regression", "--max-trials", "1", "--epochs", "1"),
])
def test_train_and_tune_refuse_an_unknown_format_before_they_start(command, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_zoo(capsys, *command, "--export", "--format", "onnx,tf_js") == (
        2, "zoo: error: `formats` must be among saved_model, onnx, litert. "
           "Received: formats='onnx,tf_js'")
    assert list(tmp_path.iterdir()) == []  # no run folder, no search folder, no export


def test_zoo_train_exports_the_formats_it_is_asked_for(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from zoo.cli import main

    assert main(["train", "softmax_regression", "--epochs", "1", "--export", "--format", "onnx",
                 "--base-dir", "sm"]) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "sm" / "softmax_regression" / "1"
    assert f"Exported: {folder}\n" in printed
    assert "  onnx: model.onnx (serving_default, max abs diff " in printed
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["formats"]) == ["onnx", "saved_model"]
    assert (folder / "model.onnx").is_file() and not (folder / "model.tflite").exists()


def test_converter_errors_name_the_op():
    litert = ('loc(callsite(fused["BitwiseAnd:", "gen/latent_from_seed_1/BitwiseAnd_3@__inf"] '
              "at x)): error: 'tf.BitwiseAnd' op is neither a custom op nor a flex op\n")
    assert formats._litert_failure(litert) == (
        "the LiteRT converter does not convert op BitwiseAnd at gen/latent_from_seed_1/"
        "BitwiseAnd_3: is neither a custom op nor a flex op")
    log = "ERROR:tf2onnx.tfonnx:Unsupported ops: Counter({'BitwiseXor': 9, 'BitwiseAnd': 7})"
    assert formats._onnx_failure(log, "") == "tf2onnx does not convert op BitwiseXor, BitwiseAnd"
    checker = "Bad node spec for node. Name: a/UnicodeDecode OpType: UnicodeDecode"
    assert formats._onnx_failure("", checker) == (
        "tf2onnx wrote an invalid graph: op UnicodeDecode is no ONNX op")


def test_zoo_predict_reads_every_format_alike(lenet_export, tmp_path, capsys):
    """`zoo predict` takes the export folder, its model.onnx or its model.tflite: the
    format follows the file, and the printed classes agree."""
    images = np.random.default_rng(2).integers(0, 256, (3, 8, 8, 1)).astype("uint8")
    np.save(tmp_path / "x.npy", images)
    outputs = {}
    for source in ("", "model.onnx", "model.tflite"):
        code, _ = run_zoo(capsys, "predict", lenet_export.path / source, tmp_path / "x.npy",
                          "--out", tmp_path / f"{source or 'saved'}.npy")
        assert code == 0
        outputs[source] = np.load(tmp_path / f"{source or 'saved'}.npy")
    np.testing.assert_allclose(outputs["model.onnx"], outputs[""], atol=1e-5)
    np.testing.assert_allclose(outputs["model.tflite"], outputs[""], atol=1e-5)


def test_zoo_predict_refuses_a_file_that_is_not_the_exports(lenet_export, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(lenet_export.path, tmp_path / "export")
    other = folder / "other.onnx"
    shutil.copy(folder / "model.onnx", other)
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 1), "uint8"))
    assert run_zoo(capsys, "predict", other, tmp_path / "x.npy") == (
        2, f"zoo: error: {other} is not a file of the export in {folder} "
           "(not in its manifest's `formats`).")


def test_the_vocabulary_is_written_one_token_a_line_escaped(tmp_path):
    """A signature that tokenises text writes vocabulary.txt, line i = token i; a
    character model's line break and a backslash are escaped."""
    import keras

    from pipelines.layers import TextToIds
    from zoo.runtime.exporter import _write_vocabulary
    from zoo.tasks.serving import Endpoint

    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, TextToIds(["[UNK]", "a", "\n", "\\"], "char", length=4)(text))
    manifest = {}
    _write_vocabulary(tmp_path, {"serving_default": Endpoint(model, "text", "ids", "string",
                                                             None)}, manifest)
    assert (tmp_path / "vocabulary.txt").read_text() == "[UNK]\na\n\\n\n\\\\\n"
    assert manifest == {"vocabulary_file": "vocabulary.txt"}


def test_a_recurrent_failure_in_litert_says_how_to_convert():
    error = ("loc(fused[\"TensorListReserve:\", \"rnn/lstm/TensorArrayV2_1@__inf\"]): error: "
             "'tf.TensorListReserve' op requires element_shape to be static during TF Lite "
             "transformation pass\n")
    assert formats._litert_failure(error) == (
        "the LiteRT converter does not convert op TensorListReserve at rnn/lstm/TensorArrayV2_1: "
        "requires element_shape to be static during TF Lite transformation pass; export with "
        "--static-batch (`static_batch`) to convert it")


def test_a_recurrent_model_with_a_static_batch_converts_to_litert(tmp_path):
    """LiteRT builtins need the recurrent layers' static shapes: `static_batch` gives them,
    and the numeric `token_ids` signature is kept, verified without TensorFlow."""
    import keras

    keras.utils.set_random_seed(0)
    spec = zoo.get_spec("char_rnn")
    plan = plan_data(spec, spec.test_dataset, overrides=spec.test_args)
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=tmp_path, static_batch=8,
                            formats="saved_model,litert")
    litert = result.manifest["formats"]["litert"]
    assert list(litert["signatures"]) == ["token_ids"]
    assert litert["signatures"]["token_ids"]["max_abs_diff"] <= 1e-5
    assert (result.path / litert["signatures"]["token_ids"]["file"]).is_file()
    assert set(litert["skipped"]) == set(result.manifest["signatures"]) - {"token_ids"}
    assert all(reason.startswith("takes strings") for reason in litert["skipped"].values())


def _table_export(tmp_path, text_column: bool):
    """An MLP trained for one epoch on a generated table (a column name with a space),
    exported in all three formats."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"petal length": rng.normal(size=200), "width": rng.normal(size=200)})
    frame["target"] = np.where(frame["petal length"] > frame["width"], "wide", "long")
    if text_column:
        frame["colour"] = rng.choice(["red", "blue"], size=200)
    result = zoo.train("mlp", frame, epochs=1, verbose=0, data_options={"target": "target"},
                       runs_root=tmp_path / "runs")
    exported = export_trained(result.model, result.spec, result.plan, "table",
                              base_dir=tmp_path / "saved", formats="saved_model,onnx,litert")
    return frame, exported


def test_a_numeric_table_exports_to_every_format_and_predicts_rows_alike(tmp_path):
    """A table's export takes one input per column; ONNX and LiteRT take the same named
    columns, verified, and `zoo predict` serves a CSV of rows through any of the files."""
    from format_checks import check_formats
    from zoo.runtime.predict import predict_file

    frame, exported = _table_export(tmp_path, text_column=False)
    check_formats(exported)
    manifest = exported.manifest
    for fmt in ("onnx", "litert"):
        served = manifest["formats"][fmt]["signatures"]["serving_default"]
        assert sorted(served["inputs"]) == ["petal_length", "width"]
        assert manifest["formats"][fmt]["skipped"] == {
            "classify": "returns strings (`class_name`); `serving_default` returns the same "
                        "probabilities"}
    frame.iloc[:5].to_csv(tmp_path / "rows.csv", index=False)
    printed = {source: list(predict_file(exported.path / source, tmp_path / "rows.csv", top=2))
               for source in ("", "model.onnx", "model.tflite")}
    assert len(printed[""]) == 5
    # The same classes; the printed probabilities (4 decimals) within a rounding step.
    labels = {k: [re.sub(r"\d\.\d{4}", "#", line) for line in v] for k, v in printed.items()}
    values = {k: [float(x) for line in v for x in re.findall(r"\d\.\d{4}", line)]
              for k, v in printed.items()}
    assert labels["model.onnx"] == labels["model.tflite"] == labels[""]
    for source in ("model.onnx", "model.tflite"):
        np.testing.assert_allclose(values[source], values[""], atol=1.5e-4)


def test_a_table_with_a_text_column_keeps_the_saved_model_only(tmp_path):
    """Looking a string column up needs TensorFlow: the extra formats skip the table's
    signatures, naming the column, and the export still succeeds."""
    from format_checks import check_formats

    _, exported = _table_export(tmp_path, text_column=True)
    check_formats(exported, onnx_required=False)
    reason = ("takes strings (column colour), which ONNX Runtime and builtin LiteRT cannot "
              "look up; a table of numeric columns converts")
    for fmt in ("onnx", "litert"):
        assert exported.manifest["formats"][fmt] == {
            "signatures": {}, "skipped": {"serving_default": reason, "classify": reason}}
    assert not (exported.path / "model.onnx").exists()
    assert not (exported.path / "model.tflite").exists()
