"""Training-step benchmark: achieved FLOP/s against a matmul peak, same process.

For each model it reports examples/s of the input pipeline alone and of the
training step on cached batches, and the step's achieved FLOP/s as a fraction
of a float32 matmul peak measured in the same process (absolute times are
noisy on shared machines; the ratios are what to compare).

    python benchmarks/train_step.py [--models lenet5 mlp] [--batch-size 128]

FLOPs are counted analytically for Conv2D and Dense layers (2 per
multiply-add, forward), times 3 for forward plus backward.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from zoo.tasks import compile_model  # noqa: E402
from zoo.runtime.plan import plan_data


def matmul_peak(n: int = 1024, repeats: int = 20) -> float:
    """float32 FLOP/s of a square matmul chain in a tf.function."""
    a = tf.random.normal((n, n))

    @tf.function
    def chain(x):
        for _ in range(repeats):
            x = tf.linalg.matmul(x, a) * 1e-3
        return x

    chain(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best


def forward_flops(model) -> int:
    """Multiply-add FLOPs of Conv2D and Dense layers for one example."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            _, h, w, cout = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def bench_model(name: str, batch_size: int, steps: int) -> dict:
    spec = zoo.get_spec(name)
    plan = plan_data(spec)
    ds = plan.load(plan.train_split, batch_size, seed=0, drop_remainder=True).repeat()
    it = iter(ds)
    for _ in range(5):
        next(it)
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
    pipeline_rate = steps * batch_size / (time.perf_counter() - start)

    model = spec.builder(**plan.builder_args)
    compile_model(model, spec)
    x, y = next(iter(ds))
    cached = tf.data.Dataset.from_tensors((x, y)).repeat(steps)
    model.fit(cached.take(5), epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(cached, epochs=1, verbose=0)
    step_rate = steps * batch_size / (time.perf_counter() - start)
    flops = 3 * forward_flops(model)
    return {
        "model": name,
        "batch_size": batch_size,
        "pipeline_examples_per_s": round(pipeline_rate),
        "train_examples_per_s": round(step_rate),
        "pipeline_over_train": round(pipeline_rate / step_rate, 2),
        "train_flops_per_example": flops,
        "achieved_flops_per_s": flops * step_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "mlp"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    peak = matmul_peak()
    rows = [bench_model(m, args.batch_size, args.steps) for m in args.models]
    for row in rows:
        row["fraction_of_matmul_peak"] = round(row["achieved_flops_per_s"] / peak, 4)
    print(json.dumps({"matmul_peak_flops_per_s": peak, "results": rows}, indent=2))
    print(f"\nmatmul peak (float32, same process): {peak / 1e9:.1f} GFLOP/s")
    header = f"{'model':<10} {'pipeline ex/s':>14} {'train ex/s':>11} {'pipe/train':>10} {'of peak':>8}"
    print(header)
    for r in rows:
        print(f"{r['model']:<10} {r['pipeline_examples_per_s']:>14} {r['train_examples_per_s']:>11} "
              f"{r['pipeline_over_train']:>10} {r['fraction_of_matmul_peak']:>8.2%}")


if __name__ == "__main__":
    main()
