"""Serving latency and throughput of one export in each format, as ratios to the SavedModel.

For an export written with `zoo export RUN --format saved_model,onnx,litert`, each
format's `serving_default` file (or the first numeric signature's, see the manifest's
`formats`) serves the same random raw inputs at batch sizes 1 and 64, in one process,
interleaved round by round (saved_model, onnx, litert, saved_model, ...) so that load
drifts cancel:

    latency     median seconds of one call at batch 1
    throughput  examples per second at batch 64 (the median call)

Ratios are to the SavedModel of the same round (latency: format / SavedModel, lower
is faster; throughput: format / SavedModel, higher is faster). The SavedModel is
called through `tf.saved_model.load(...).signatures[...]`, as TF Serving and
`zoo predict` call it (its in-graph input checks included; ONNX and LiteRT have none).

    python benchmarks/serving.py saved_models/lenet5/1 [--rounds 5] [--calls 20]
                                 [--json out.json]

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


def runners(folder: Path, manifest: dict) -> tuple[str, dict, dict]:
    """(signature, its input spec, {format: batch -> outputs}) for the first signature
    that every written format carries."""
    formats = manifest["formats"]
    common = [sig for sig in formats["saved_model"]["signatures"]
              if all(sig in entry["signatures"] for entry in formats.values())]
    if not common:
        raise SystemExit(f"{folder}: no signature is in every format ({', '.join(formats)}).")
    sig = common[0]
    (name, spec), = manifest["signatures"][sig]["inputs"].items()
    calls = {}
    for fmt, entry in formats.items():
        path = folder / entry["signatures"][sig]["file"]
        calls[fmt] = _runner(fmt, folder, path, sig, name)
    return sig, {"name": name, **spec}, calls


def _runner(fmt: str, folder: Path, path: Path, sig: str, name: str):
    if fmt == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(str(folder)).signatures[sig]
        return lambda x: [v.numpy() for v in serve(**{name: tf.constant(x)}).values()]
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {name: x})
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(path)).get_signature_runner(sig)
    return lambda x: runner(**{name: x})


def random_inputs(spec: dict, batch: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (batch, *(8 if d is None else d for d in spec["shape"][1:]))
    if np.dtype(spec["dtype"]).kind in "ui":
        low, high = spec.get("value_range") or (0, 256 if spec["dtype"] == "uint8" else 2)
        return rng.integers(low, high, size=shape).astype(spec["dtype"])
    return rng.normal(size=shape).astype(spec["dtype"])


def measure(calls: dict, spec: dict, rounds: int, repeats: int) -> dict:
    """Median seconds per call, per format and batch size, and the per-round ratios."""
    seconds = {fmt: {b: [] for b in BATCHES} for fmt in calls}
    ratios = {fmt: {b: [] for b in BATCHES} for fmt in calls}
    inputs = {b: random_inputs(spec, b) for b in BATCHES}
    for fmt, call in calls.items():  # warm-up: tracing, allocation
        for b in BATCHES:
            call(inputs[b])
    for _ in range(rounds):
        for b in BATCHES:
            this_round = {}
            for fmt, call in calls.items():
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    call(inputs[b])
                    times.append(time.perf_counter() - start)
                this_round[fmt] = statistics.median(times)
                seconds[fmt][b].append(this_round[fmt])
            for fmt in calls:
                ratios[fmt][b].append(this_round[fmt] / this_round["saved_model"])
    return {fmt: {
        "latency_ms_batch1": 1000 * statistics.median(seconds[fmt][1]),
        "throughput_batch64": 64 / statistics.median(seconds[fmt][64]),
        "latency_ratio": statistics.median(ratios[fmt][1]),
        "throughput_ratio": 1 / statistics.median(ratios[fmt][64]),
    } for fmt in calls}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="saved_models/<name>/<version>")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="calls per round and format")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    manifest = json.loads((args.export / "manifest.json").read_text())
    sig, spec, calls = runners(args.export, manifest)
    figures = measure(calls, spec, args.rounds, args.calls)
    result = {"export": str(args.export), "signature": sig, "formats": figures}
    print(f"{manifest['name']} `{sig}`")
    print(f"{'format':<12} {'latency b=1':>12} {'ratio':>6} {'examples/s b=64':>16} {'ratio':>6}")
    for fmt, f in figures.items():
        print(f"{fmt:<12} {f['latency_ms_batch1']:>9.3f} ms {f['latency_ratio']:>6.2f} "
              f"{f['throughput_batch64']:>16.0f} {f['throughput_ratio']:>6.2f}")
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
