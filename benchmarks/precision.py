"""Mixed precision and XLA on this CPU: training steps/s ratios, measured in one process.

For a conv model, an LSTM and a Transformer it times the training step
(`train_on_batch` on one cached batch of random data, after a warm-up that traces
and compiles) in four settings: float32 or the `mixed_bfloat16` Keras policy, each
with and without `jit_compile` (XLA). The settings take turns, round after round,
so load from other processes falls on all of them alike; each setting's figure is
its median over rounds. Reported: steps/s and the ratios

    bf16 / f32      mixed_bfloat16 vs float32, both without XLA
    xla / eager     jit_compile=True vs False, both float32 ("eager": Keras' tf.function
                    without XLA)
    bf16+xla / f32  both together vs neither

    python benchmarks/precision.py [--rounds 5] [--steps 10] [--json precision.json]

Absolute steps/s depend on the machine and its load; the `uptime` load average is
printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.runtime import precision  # noqa: E402
from zoo.tasks import compile_model  # noqa: E402

# name -> (model, builder arguments, batch size, input maker)
CASES = {
    "conv": ("convnet", {"input_shape": (32, 32, 3), "classes": 10, "filters": 32,
                         "blocks": 3, "dense_units": 128}, 64),
    "lstm": ("lstm_lm", {"vocab_size": 66, "embedding_dim": 128, "units": 256, "layers": 2,
                         "dropout_rate": 0.0}, 32),
    "transformer": ("transformer_lm", {"vocab_size": 66, "d_model": 128, "heads": 4,
                                       "layers": 2, "dropout_rate": 0.0}, 32),
}
SEQUENCE = 64
SETTINGS = {  # label -> (dtype policy, jit_compile)
    "f32": ("float32", False),
    "f32+xla": ("float32", True),
    "bf16": ("mixed_bfloat16", False),
    "bf16+xla": ("mixed_bfloat16", True),
}


def batch(name: str, args: dict, size: int):
    rng = np.random.default_rng(0)
    if name == "convnet":
        x = rng.uniform(size=(size, *args["input_shape"])).astype("float32")
        y = rng.integers(0, args["classes"], size=(size,)).astype("int32")
    else:  # language models: token ids in, next token ids out
        x = rng.integers(0, args["vocab_size"], size=(size, SEQUENCE)).astype("int32")
        y = rng.integers(0, args["vocab_size"], size=(size, SEQUENCE)).astype("int32")
    return keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)


def make(name: str, args: dict, policy: str, jit: bool):
    spec = zoo.get_spec(name)
    keras.utils.set_random_seed(0)
    with precision.dtype_policy(policy):
        model = spec.builder(**{**spec.defaults, **args})
        if policy != "float32":
            precision.float32_outputs(model)
        compile_model(model, spec, jit_compile=jit)
    return model


def time_steps(model, x, y, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss).ravel()[0])  # wait for the last step
    return steps / (time.perf_counter() - start)


def load_average() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    report = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "uptime_before": load_average(), "rounds": args.rounds, "steps": args.steps,
              "results": {}}
    for case in args.cases:
        name, builder_args, size = CASES[case]
        x, y = batch(name, builder_args, size)
        models = {}
        for label, (policy, jit) in SETTINGS.items():
            models[label] = make(name, builder_args, policy, jit)
            for _ in range(3):  # trace / XLA-compile and warm up
                models[label].train_on_batch(x, y)
        rates = {label: [] for label in SETTINGS}
        for _ in range(args.rounds):
            for label, model in models.items():
                rates[label].append(time_steps(model, x, y, args.steps))
        median = {label: statistics.median(r) for label, r in rates.items()}
        report["results"][case] = {
            "model": name, "batch_size": size, "params": models["f32"].count_params(),
            "steps_per_s": {k: round(v, 2) for k, v in median.items()},
            "bf16 / f32": round(median["bf16"] / median["f32"], 2),
            "xla / eager": round(median["f32+xla"] / median["f32"], 2),
            "bf16+xla / f32": round(median["bf16+xla"] / median["f32"], 2),
        }
        print(json.dumps({case: report["results"][case]}), flush=True)
    report["uptime_after"] = load_average()
    print(json.dumps(report, indent=2))
    print(f"\n{report['uptime_before']}\n{report['uptime_after']}")
    header = ("case", "model", "f32 steps/s", "bf16 / f32", "xla / eager", "bf16+xla / f32")
    print(" | ".join(header))
    for case, r in report["results"].items():
        print(" | ".join(str(v) for v in (case, r["model"], r["steps_per_s"]["f32"],
                                           r["bf16 / f32"], r["xla / eager"],
                                           r["bf16+xla / f32"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
