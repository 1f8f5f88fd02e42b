"""DCGAN benchmark: train `dcgan` on the built-in digits (resized to 16x16) and
follow the sample quality epoch by epoch.

`zoo.train` runs the spec's per-epoch callbacks: a grid of 64 fixed-noise
samples (`<run>/samples/epoch_NNN.png`) and the sample score, the
Inception-Score formula exp(E_x KL(p(y|x) || p(y))) computed with LeNet-5
trained on the same 16x16 digits (`real_score`: the same formula on as many
real test digits, the ceiling; 10 classes bound both). Also logged:
`val_mmd`, the pixel-space kernel MMD between validation digits and samples
(the spec's monitor), and both adversarial losses.

Prints JSON, then a table; writes `benchmarks/dcgan.json` and the figures
`docs/dcgan/score.png` (score and MMD per epoch), `docs/dcgan/progress.png`
(the same 8 noise vectors at several epochs) and `docs/dcgan/samples.png`
(the final grid). Default budget (40 epochs, batch 32): about 2 minutes on
2 CPU cores.

    python benchmarks/dcgan.py [--epochs 40] [--batch-size 32] [--run-dir runs/dcgan-benchmark]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.tasks.gan import score_classifier_path  # noqa: E402
from zoo.images import read_png, save_png  # noqa: E402

COLUMNS = ("epoch", "d_loss", "g_loss", "val_mmd", "sample_score", "real_score")


def run(epochs: int, batch_size: int, seed: int, run_dir: str) -> dict:
    start = time.perf_counter()
    result = zoo.train("dcgan", epochs=epochs, batch_size=batch_size, seed=seed,
                       run_dir=run_dir, verbose=0)
    seconds = time.perf_counter() - start
    info = f"{score_classifier_path(result.plan, run_dir)}.json"  # absent when cached elsewhere
    classifier = json.loads(open(info).read()) if os.path.exists(info) else None
    rows = [{k: (int(r[k]) + 1 if k == "epoch" else round(r[k], 4)) for k in COLUMNS}
            for r in result.history]
    best = max(rows, key=lambda r: r["sample_score"])
    return {
        "model": "dcgan",
        "dataset": "digits",
        "builder_args": {k: v for k, v in result.plan.builder_args.items() if k != "name"},
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "gan_adam (Adam, beta_1 0.5)",
        "learning_rate": zoo.get_spec("dcgan").learning_rate,
        "seed": seed,
        "seconds": round(seconds, 1),
        "score_classifier": classifier,
        "real_score": rows[-1]["real_score"],
        "final_sample_score": rows[-1]["sample_score"],
        "best_sample_score": {"epoch": best["epoch"], "score": best["sample_score"]},
        "final_val_mmd": rows[-1]["val_mmd"],
        "history": rows,
    }


def figures(report: dict, run_dir: str, out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    rows = report["history"]
    epochs = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    ax.plot(epochs, [r["sample_score"] for r in rows], label="samples (LeNet-5 score)")
    ax.axhline(report["real_score"], color="k", linestyle="--", linewidth=1,
               label=f"real test digits ({report['real_score']:.2f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("exp(E KL(p(y|x) || p(y)))")
    ax.set_ylim(0.8, 10.2)
    mmd = ax.twinx()
    mmd.plot(epochs, [r["val_mmd"] for r in rows], color="tab:orange", alpha=0.7)
    mmd.set_ylabel("val_mmd (orange)")
    ax.legend(loc="center right", fontsize=8)
    ax.set_title("DCGAN on digits 16x16: sample score per epoch", fontsize=10)
    fig.tight_layout()
    score_path = os.path.join(out_dir, "score.png")
    fig.savefig(score_path)
    plt.close(fig)

    # The first 8 fixed-noise samples (first grid row) at a few epochs, one row each.
    samples = os.path.join(run_dir, "samples")
    last = epochs[-1]
    shown = sorted({e for e in (1, 2, 5, 10, 20, last) if e <= last})
    strips = []
    for e in shown:
        grid = read_png(os.path.join(samples, f"epoch_{e:03d}.png"))
        strips.append(grid[: grid.shape[0] // 8 - 3])  # first row of tiles (8 rows, padded)
    fig, axes = plt.subplots(len(strips), 1, figsize=(6, 0.8 * len(strips)), dpi=100)
    for axis, strip, e in zip(np.atleast_1d(axes), strips, shown):
        axis.imshow(strip, cmap="gray", vmin=0, vmax=255)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_ylabel(f"epoch {e}", rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    progress_path = os.path.join(out_dir, "progress.png")
    fig.savefig(progress_path)
    plt.close(fig)

    final = read_png(os.path.join(samples, f"epoch_{last:03d}.png"))
    samples_path = os.path.join(out_dir, "samples.png")
    save_png(final[::2, ::2], samples_path)  # grids are drawn at 4x; 2x is enough here
    return [score_path, progress_path, samples_path]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help="keep the run here (default: a temporary folder)")
    parser.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "dcgan.json"))
    parser.add_argument("--figures", default=os.path.join(ROOT, "docs", "dcgan"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        run_dir = args.run_dir or os.path.join(work, "dcgan-digits")
        report = run(args.epochs, args.batch_size, args.seed, run_dir)
        report["figures"] = [os.path.relpath(p, ROOT)
                             for p in figures(report, run_dir, args.figures)]
    print(json.dumps(report, indent=2))
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nDCGAN on digits 16x16, {args.epochs} epochs in {report['seconds']:.0f} s; "
          f"real test digits score {report['real_score']:.2f}")
    print(" | ".join(f"{c:>12}" for c in COLUMNS))
    for row in report["history"]:
        print(" | ".join(f"{row[c]:>12}" for c in COLUMNS))
    return report


if __name__ == "__main__":
    main()
