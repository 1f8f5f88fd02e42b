"""Greedy layer-wise pre-training against random initialisation in a deep sigmoid MLP.

The same `stacked_autoencoder` network (default: 5 hidden sigmoid layers of
128 units) is trained twice per optimizer through `zoo.train`, with the same
seed (so the same initial weights, the same batches), optimizer and epochs:
once from its random (Glorot-uniform) initialisation (`pretrain_epochs=0`),
once after greedy layer-wise autoencoder pre-training of every hidden
layer (`--pretrain-epochs` epochs each, Adam). Measured:

- training loss and validation accuracy per epoch (curves PNG);
- the L2 norm of the loss gradient for each Dense kernel at the start of
  fine-tuning, on one fixed batch of 256 training examples (bar chart PNG):
  from a random start the lower layers get orders of magnitude smaller
  gradients (vanishing gradients); after pre-training they do not;
- test accuracy of the final model.

Writes `curves.png` and `gradient_norms.png` to `--out` and the JSON to
`--json`, prints the JSON and a table. Default budget (digits, 30 epochs, SGD with
momentum and Adam): 1.5 to 2 minutes on 2 CPU cores.

    python benchmarks/pretraining.py [--epochs 30] [--out docs/pretraining] [--dataset digits]
        [--optimizers momentum adam] [--depth 5] [--pretrain-epochs 5] [--corruption 0.0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.models.stacked_autoencoder import layer_gradient_norms  # noqa: E402
from zoo.runtime.plan import plan_data

MODEL = "stacked_autoencoder"
INITS = ("random", "pretrained")
STYLE = {"random": ("tab:red", "--"), "pretrained": ("tab:blue", "-")}


class GradientNorms(keras.callbacks.Callback):
    """Per-layer gradient norms on a fixed batch when fine-tuning starts
    (after `zoo.train` has run the pre-training hook)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.norms = x, y, None

    def on_train_begin(self, logs=None):
        self.norms = layer_gradient_norms(self.model, self.x, self.y)


def fixed_batch(dataset, overrides, size=256):
    spec = zoo.get_spec(MODEL)
    plan = plan_data(spec, dataset, overrides)
    x, y = next(iter(plan.load(plan.train_split, size, shuffle=False)))
    return plan, np.asarray(x), np.asarray(y)


def test_accuracy(model, plan, batch_size):
    split = plan.test_split or plan.validation_split
    return split, float(model.evaluate(plan.load(split, batch_size), verbose=0,
                                       return_dict=True)["accuracy"])


def run(init, optimizer, args, work):
    overrides = {"depth": args.depth, "width": args.width,
                 "pretrain_epochs": 0 if init == "random" else args.pretrain_epochs,
                 "corruption": args.corruption}
    plan, x, y = fixed_batch(args.dataset, overrides)
    norms = GradientNorms(x, y)
    start = time.perf_counter()
    result = zoo.train(
        MODEL, args.dataset, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=optimizer, seed=args.seed, overrides=overrides, callbacks=[norms],
        run_dir=os.path.join(work, f"{init}-{optimizer}"), verbose=0,
    )
    seconds = time.perf_counter() - start
    split, accuracy = test_accuracy(result.model, plan, args.batch_size)
    history = result.history
    return {
        "init": init,
        "optimizer": optimizer,
        "learning_rate": zoo.get_spec(MODEL).learning_rates.get(optimizer),
        "seconds": round(seconds, 1),
        "test_split": split,
        "test_accuracy": round(accuracy, 4),
        "final_val_accuracy": round(history[-1]["val_accuracy"], 4),
        "gradient_norms": {k.removeprefix(f"{MODEL}_"): v for k, v in norms.norms.items()},
        "history": {key: [round(row[key], 4) for row in history]
                    for key in ("loss", "val_loss", "val_accuracy")},
    }


def plot_curves(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optimizers = list(dict.fromkeys(r["optimizer"] for r in results))
    fig, axes = plt.subplots(2, len(optimizers), figsize=(4.2 * len(optimizers), 6),
                             squeeze=False, sharex=True)
    for col, optimizer in enumerate(optimizers):
        for r in (r for r in results if r["optimizer"] == optimizer):
            color, line = STYLE[r["init"]]
            epochs = np.arange(1, len(r["history"]["loss"]) + 1)
            label = f"{r['init']} (test {r['test_accuracy']:.3f})"
            axes[0, col].plot(epochs, r["history"]["loss"], line, color=color, label=label)
            axes[1, col].plot(epochs, r["history"]["val_accuracy"], line, color=color, label=label)
        rate = next(r["learning_rate"] for r in results if r["optimizer"] == optimizer)
        axes[0, col].set_title(f"{optimizer}, learning rate {rate}", fontsize=10)
        axes[0, col].set_ylabel("training loss")
        axes[1, col].set_ylabel("validation accuracy")
        axes[1, col].set_xlabel("epoch")
        axes[1, col].set_ylim(0, 1)
        axes[1, col].legend(loc="lower right", fontsize=8)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    fig.suptitle("Deep sigmoid MLP: random initialisation vs greedy layer-wise pre-training",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_gradient_norms(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Both optimizers start from the same weights: one run per initialisation suffices.
    first = {init: next(r for r in results if r["init"] == init) for init in INITS}
    layers = list(first["random"]["gradient_norms"])
    positions = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for offset, init in zip((-0.2, 0.2), INITS):
        color, _ = STYLE[init]
        ax.bar(positions + offset, [first[init]["gradient_norms"][n] for n in layers], 0.4,
               color=color, label=init)
    ax.set_yscale("log")
    ax.set_xticks(positions, layers, fontsize=8)
    ax.set_ylabel("|dL/dW| (L2 norm)")
    ax.set_title("Gradient norm per layer at the start of fine-tuning (one batch of 256)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", help="e.g. mnist, when prepared")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs")
    parser.add_argument("--optimizers", nargs="+", default=["momentum", "adam"],
                        help="each at the spec's default learning rate")
    parser.add_argument("--depth", type=int, default=5, help="hidden sigmoid layers")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--pretrain-epochs", type=int, default=5, help="autoencoder epochs per layer")
    parser.add_argument("--corruption", type=float, default=0.0, help="masking noise in pre-training")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/pretraining", help="folder for the PNGs")
    parser.add_argument("--json", default="benchmarks/pretraining.json", help="JSON report file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as work:
        results = [run(init, optimizer, args, work)
                   for optimizer in args.optimizers for init in INITS]
    os.makedirs(args.out, exist_ok=True)
    plot_curves(results, os.path.join(args.out, "curves.png"))
    plot_gradient_norms(results, os.path.join(args.out, "gradient_norms.png"))
    report = {
        "dataset": args.dataset,
        "network": f"{args.depth} x Dense({args.width}, sigmoid) -> softmax (stacked_autoencoder)",
        "budget": {"epochs": args.epochs, "batch_size": args.batch_size,
                   "pretrain_epochs_per_layer": args.pretrain_epochs,
                   "corruption": args.corruption, "seed": args.seed},
        "results": results,
    }
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    print()
    print(f"{'optimizer':<10} {'init':<11} {'test acc':>8} {'val acc':>8} {'seconds':>8}  "
          "gradient norm, bottom -> top layer")
    for r in results:
        norms = " ".join(f"{v:.1e}" for v in r["gradient_norms"].values())
        print(f"{r['optimizer']:<10} {r['init']:<11} {r['test_accuracy']:>8.4f} "
              f"{r['final_val_accuracy']:>8.4f} {r['seconds']:>8}  {norms}")
    return report


if __name__ == "__main__":
    main()
