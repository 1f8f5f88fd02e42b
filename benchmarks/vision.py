"""Vision benchmark: training throughput of each vision model, zoo vs
keras.applications where the architecture exists, in the same process.

Reports images/s of a training step on one cached batch (fixed small batch,
float32), the zoo/keras.applications ratio, and the achieved FLOP/s as a
fraction of a float32 matmul peak measured in the same run. Prints a table
and writes JSON (`--out`, default benchmarks/vision.json).

    python benchmarks/vision.py [--batch-size 8] [--steps 5] [--models resnet50 vgg16 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from train_step import forward_flops, matmul_peak  # noqa: E402
from zoo.tasks import compile_model  # noqa: E402

# zoo model -> (keras.applications constructor, input size for the benchmark)
MODELS = {
    "resnet50": ("ResNet50", 224),
    "resnet101": ("ResNet101", 224),
    "vgg16": ("VGG16", 224),
    "vgg19": ("VGG19", 224),
    "resnet18": (None, 224),
    "googlenet": (None, 224),
    "alexnet": (None, 227),
    "resnet20": (None, 32),
    "convnet": (None, 28),
}


def images_per_second(model, x, y, steps: int) -> float:
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * len(x) / (time.perf_counter() - start)


def bench(name: str, batch: int, steps: int) -> dict:
    app_name, size = MODELS[name]
    channels = 1 if name == "convnet" else 3
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch, size, size, channels)).astype("float32")
    classes = 1000 if app_name else 10
    y = rng.integers(0, classes, batch)
    model = zoo.build(name, input_shape=(size, size, channels), classes=classes)
    row = {"model": name, "input": size, "batch": batch, "params": model.count_params()}
    row["zoo_images_per_s"] = images_per_second(model, x, y, steps)
    row["train_flops_per_image"] = 3 * forward_flops(model)
    if app_name:
        app = getattr(keras.applications, app_name)(weights=None)
        row["keras_images_per_s"] = images_per_second(app, x, y, steps)
        row["zoo_over_keras"] = row["zoo_images_per_s"] / row["keras_images_per_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "vision.json"))
    args = parser.parse_args()
    peak = matmul_peak()
    rows = []
    for name in args.models:
        row = bench(name, args.batch_size, args.steps)
        row["fraction_of_matmul_peak"] = row["train_flops_per_image"] * row["zoo_images_per_s"] / peak
        rows.append(row)
        print(f"  {name}: {row['zoo_images_per_s']:.1f} images/s", file=sys.stderr)
    result = {"matmul_peak_flops_per_s": peak, "batch_size": args.batch_size, "results": rows}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    print(f"\nmatmul peak (float32, same process): {peak / 1e9:.1f} GFLOP/s; batch {args.batch_size}")
    print(f"{'model':<10} {'input':>5} {'zoo img/s':>10} {'keras img/s':>12} {'zoo/keras':>10} {'of peak':>8}")
    for r in rows:
        keras_rate = f"{r['keras_images_per_s']:.1f}" if "keras_images_per_s" in r else "-"
        ratio = f"{r['zoo_over_keras']:.2f}" if "zoo_over_keras" in r else "-"
        print(f"{r['model']:<10} {r['input']:>5} {r['zoo_images_per_s']:>10.1f} {keras_rate:>12} "
              f"{ratio:>10} {r['fraction_of_matmul_peak']:>8.1%}")


if __name__ == "__main__":
    main()
