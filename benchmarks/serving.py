"""Serving latency and throughput of an export in each format, as ratios to the SavedModel.

For an export written with `zoo export RUN --format saved_model,onnx,litert`, every
signature that an extra format carries (see the manifest's `formats`) serves the
export's own verification inputs (its TF Serving warm-up records, so every value
passes the signature's checks) at batch sizes 1 and 64, in each format, in one
process, interleaved round by round (saved_model, onnx, litert, saved_model, ...)
so that load drifts cancel:

    latency     median seconds of one call at batch 1
    throughput  examples per second at batch 64 (the median call)

Ratios are to the SavedModel of the same round (latency: format / SavedModel, lower
is faster; throughput: format / SavedModel, higher is faster). The SavedModel is
called through `tf.saved_model.load(...).signatures[...]`, as TF Serving and
`zoo predict` call it (its in-graph input checks included; ONNX and LiteRT have none).
Under `--static-batch` only that batch size is measured. Each row also shows the
format's max abs diff against the live model, from the manifest's verification.

    python benchmarks/serving.py saved_models/lenet5/1 [more exports ...]
                                 [--rounds 5] [--calls 20] [--json out.json]
    python benchmarks/serving.py --all-models DIR [--models a,b] [...]

`--all-models DIR` first exports every registered model (or those of `--models`)
at its test size, seeded and untrained (residual blocks starting as identities),
in all three formats, into DIR (kept: a second run measures what is there): the
models of the format harness in tests/test_models.py.

Prints a table and the figures as JSON. Absolute times depend on the machine and its
load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BATCHES = (1, 64)


def signature_calls(folder: Path, manifest: dict, sig: str) -> dict:
    """{format: inputs -> outputs} for every format that carries `sig`."""
    calls = {}
    for fmt, entry in manifest["formats"].items():
        if sig in entry["signatures"]:
            calls[fmt] = _runner(fmt, folder, folder / entry["signatures"][sig]["file"], sig)
    return calls


def _runner(fmt: str, folder: Path, path: Path, sig: str):
    if fmt == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(str(folder)).signatures[sig]
        return lambda x: [v.numpy() for v in serve(**{k: tf.constant(v)
                                                      for k, v in x.items()}).values()]
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, x)
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(path)).get_signature_runner(sig)
    return lambda x: runner(**x)


def batches(recorded: dict, static_batch: int | None) -> dict:
    """{batch size: inputs}: the recorded rows, repeated up to each batch size."""
    sizes = (static_batch,) if static_batch else BATCHES
    return {b: {k: np.ascontiguousarray(np.resize(v, (b, *v.shape[1:])))
                for k, v in recorded.items()} for b in sizes}


def measure(calls: dict, inputs: dict, rounds: int, repeats: int) -> dict:
    """Per format: median ms per call and examples/s at each batch size, and the median
    per-round ratios to the SavedModel (latency at the smallest batch, throughput at the
    largest)."""
    seconds = {fmt: {b: [] for b in inputs} for fmt in calls}
    ratios = {fmt: {b: [] for b in inputs} for fmt in calls}
    for call in calls.values():  # warm-up: tracing, allocation
        for x in inputs.values():
            call(x)
    for _ in range(rounds):
        for b, x in inputs.items():
            this_round = {}
            for fmt, call in calls.items():
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    call(x)
                    times.append(time.perf_counter() - start)
                this_round[fmt] = statistics.median(times)
                seconds[fmt][b].append(this_round[fmt])
            for fmt in calls:
                ratios[fmt][b].append(this_round[fmt] / this_round["saved_model"])
    small, large = min(inputs), max(inputs)
    return {fmt: {
        "latency_batch": small, "throughput_batch": large,
        "latency_ms": 1000 * statistics.median(seconds[fmt][small]),
        "throughput": large / statistics.median(seconds[fmt][large]),
        "latency_ratio": statistics.median(ratios[fmt][small]),
        "throughput_ratio": 1 / statistics.median(ratios[fmt][large]),
    } for fmt in calls}


def measure_export(folder: Path, rounds: int, repeats: int) -> list[dict]:
    """One row per (signature, format) of an export whose extra formats carry it."""
    from zoo.runtime.warmup import read_warmup

    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = read_warmup(folder)
    static_batch = next(iter(next(iter(manifest["signatures"].values()))["inputs"].values())
                        )["shape"][0]
    rows = []
    for sig in manifest["signatures"]:
        calls = signature_calls(folder, manifest, sig)
        if len(calls) < 2:  # the SavedModel alone: nothing to compare
            continue
        figures = measure(calls, batches(recorded[sig], static_batch), rounds, repeats)
        for fmt, f in figures.items():
            diff = (manifest["verification"]["signatures"][sig]["max_abs_diff"]
                    if fmt == "saved_model"
                    else manifest["formats"][fmt]["signatures"][sig]["max_abs_diff"])
            rows.append({"model": manifest["name"], "export": str(folder), "signature": sig,
                         "format": fmt, "max_abs_diff": diff, **f})
    return rows


def export_all(root: Path, names: list[str] | None, say=print) -> list[Path]:
    """Every registered model (or `names`) at its test size, seeded and untrained, exported
    in all three formats under `root` (an export already there is kept)."""
    import sys

    import zoo
    from zoo.runtime.exporter import export_trained

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from format_checks import model_at_test_size  # the harness's models

    folders = []
    for name in names or zoo.list_models():
        folder = root / name / "1"
        if not (folder / "manifest.json").is_file():
            spec = zoo.get_spec(name)
            plan, model = model_at_test_size(spec)
            start = time.perf_counter()
            export_trained(model, spec, plan, base_dir=root, formats="saved_model,onnx,litert")
            say(f"exported {name} in {time.perf_counter() - start:.0f} s")
        folders.append(folder)
    return folders


def table(rows: list[dict]) -> str:
    lines = [f"{'model':<22} {'signature':<16} {'format':<12} {'max abs diff':>12} "
             f"{'latency':>10} {'ratio':>6} {'examples/s':>11} {'ratio':>6}"]
    for r in rows:
        lines.append(
            f"{r['model']:<22} {r['signature']:<16} {r['format']:<12} {r['max_abs_diff']:>12.2g} "
            f"{r['latency_ms']:>7.3f} ms {r['latency_ratio']:>6.2f} {r['throughput']:>11.0f} "
            f"{r['throughput_ratio']:>6.2f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", type=Path, nargs="*", help="saved_models/<name>/<version>")
    parser.add_argument("--all-models", type=Path, metavar="DIR",
                        help="export every registered model here first, then measure them")
    parser.add_argument("--models", help="with --all-models: these (comma-separated) only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="calls per round and format")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    exports = list(args.exports)
    if args.all_models:
        exports += export_all(args.all_models, args.models.split(",") if args.models else None)
    if not exports:
        parser.error("give an export folder, or --all-models DIR")
    rows = []
    for folder in exports:
        rows += measure_export(folder, args.rounds, args.calls)
        print(table([r for r in rows if r["export"] == str(folder)]).split("\n", 1)[-1],
              flush=True)
    print(table(rows))
    print(json.dumps(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
