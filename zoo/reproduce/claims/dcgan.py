"""DCGAN on digits: the samples become digits, and their score climbs over the epochs.

`dcgan` (filters 64, the quick run 32; latent 100, Adam with beta_1 0.5) is trained through
`zoo.train` on the built-in digits resized to 16x16, batch 32 (the former
benchmarks/dcgan.py). The spec's per-epoch callbacks draw 64 fixed-noise samples
and log `sample_score`: the Inception-Score formula exp(E_x KL(p(y|x) || p(y)))
computed with LeNet-5 trained on the same 16x16 digits; `real_score` is the same
formula on as many real test digits (the ceiling; 10 classes bound both).
`val_mmd` is the pixel-space kernel MMD between validation digits and samples.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, Budget, register_claim
from zoo.reproduce.measure import history_values, new_figure, save_figure, train

# Full: the former benchmarks/dcgan.py run (40 epochs); about 12 CPU-minutes for 3 seeds.
# Quick: half the filters (a quarter of the convolutions' work), for the 30 s budget.
BUDGET = Budget(quick={"epochs": 5, "batch_size": 32, "filters": 32},
                full={"epochs": 40, "batch_size": 32, "filters": 64})


def figure(results: list[dict], path) -> None:
    fig, (ax_score, ax_mmd, ax_grid) = new_figure(3, width=4.2, height=3.8)
    for r in results:
        epochs = range(1, len(r["sample_score"]) + 1)
        ax_score.plot(epochs, r["sample_score"], label=f"seed {r['seed']}")
        ax_mmd.plot(epochs, r["val_mmd"], label=f"seed {r['seed']}")
    ax_score.axhline(results[0]["real_score"], color="k", linestyle="--",
                     label=f"real test digits ({results[0]['real_score']:.2f})")
    ax_score.set(xlabel="epoch", ylabel="exp(E KL(p(y|x) || p(y)))", ylim=(0.8, 10.2),
                 title="sample score (LeNet-5 on 16x16 digits)")
    ax_score.legend(fontsize=7)
    ax_mmd.set(xlabel="epoch", ylabel="val_mmd", yscale="log",
               title="pixel-space MMD, validation vs samples")
    ax_mmd.legend(fontsize=7)
    ax_grid.imshow(np.asarray(results[0]["final_grid"], dtype=np.uint8), cmap="gray",
                   vmin=0, vmax=255)
    ax_grid.set_axis_off()
    ax_grid.set_title(f"seed {results[0]['seed']}: 64 samples after "
                      f"{len(results[0]['sample_score'])} epochs", fontsize=9)
    fig.suptitle("DCGAN on digits (16x16)", fontsize=10)
    save_figure(fig, path)


@register_claim(
    sentence="A DCGAN trained on 16x16 digits turns noise into recognisable digits: its "
    "sample score rises by at least 2 from the first epoch and ends at half the real digits' "
    "score or more.",
    source="Radford, Metz & Chintala 2016, Unsupervised representation learning with deep "
    "convolutional generative adversarial networks; Salimans et al. 2016 (the Inception "
    "Score formula)",
    models=("dcgan",),
    data="digits (sklearn 8x8) resized to 16x16, pixels in [-1, 1]",
    budget=BUDGET,
    rule=(AtLeast("score_rise", 2.0), AtLeast("score_over_real", 0.5)),
    effect="score_over_real",
    figure=figure,
)
def dcgan(seed: int, quick: bool, work) -> dict:
    from zoo.images import read_png

    budget = BUDGET.settings(quick)
    result = train("dcgan", None, work / "dcgan", seed, epochs=budget["epochs"],
                   batch_size=budget["batch_size"], overrides={"filters": budget["filters"]})
    scores = history_values(result, "sample_score")
    real = history_values(result, "real_score")[-1]
    grid = read_png(result.run_dir / "samples" / f"epoch_{len(scores):03d}.png")
    grid = grid if grid.ndim == 2 else grid[..., 0]
    rows = ["epoch  d_loss  g_loss  val_mmd  sample_score"]
    rows += [f"{i + 1:>5} {r['d_loss']:>7.3f} {r['g_loss']:>7.3f} {r['val_mmd']:>8.3f} "
             f"{r['sample_score']:>13.2f}" for i, r in enumerate(result.history)
             if i + 1 in (1, 2, 3, 5, 10, 20, 30, 40, len(scores))]
    return {"sample_score": scores, "real_score": real,
            "val_mmd": history_values(result, "val_mmd"),
            "score_rise": scores[-1] - scores[0], "score_over_real": scores[-1] / real,
            "report": rows,
            "figure_only": {"final_grid": grid[::4, ::4]}}  # the grid is drawn at 4x
