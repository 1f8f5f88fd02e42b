"""Batch normalisation: a deep sigmoid MLP reaches a target accuracy in far fewer steps.

The same `mlp` (5 hidden sigmoid layers of 64 units, SGD with momentum 0.9 at rate
0.05, batch 16) is trained on the digits with and without a BatchNormalization
layer before each activation (Ioffe & Szegedy 2015, whose Figure 2 shows sigmoid
nets, and their "Inception" needing 14 times fewer steps). Every 10 training
steps the model, in inference mode, is scored on the 180 validation images;
`bn_steps` and `plain_steps` are the first steps at which each reaches 90%. A run
that never reaches it is counted as needing all the run's steps, so `speedup`
(plain_steps / bn_steps) is then a lower bound; the plain net's final accuracy is
reported beside it.
"""

from __future__ import annotations

from zoo.reproduce.claim import AtLeast, Budget, register_claim
from zoo.reproduce.claims._digits_mlp import (accuracy_every_callback, digits_arrays,
                                              steps_per_epoch, train_mlp)
from zoo.reproduce.measure import new_figure, save_figure

BUDGET = Budget(quick={"epochs": 8}, full={"epochs": 20})
TARGET, EVERY, DEPTH, WIDTH = 0.9, 10, 5, 64
TRAINING = {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16}


def first_step(curve: list, target: float) -> int | None:
    """The first step of `curve` ((step, accuracy) pairs) at `target` or above; None if none."""
    return next((step for step, value in curve if value >= target), None)


def figure(results: list[dict], path) -> None:
    fig, (ax_curve, ax_steps) = new_figure(2)
    for k, variant in enumerate(("plain", "bn")):
        label = "with batch norm" if variant == "bn" else "without"
        for i, r in enumerate(results):
            ax_curve.plot(r[f"{variant}_steps_axis"], r[f"{variant}_curve"], color=f"C{k}",
                          alpha=0.7, label=label if i == 0 else None)
    ax_curve.axhline(TARGET, color="k", linestyle="--", linewidth=1, label=f"target {TARGET}")
    ax_curve.set(xlabel="training step", ylabel="validation accuracy", ylim=(0, 1.02),
                 title=f"{DEPTH} hidden sigmoid layers ({len(results)} seeds)")
    ax_curve.legend(fontsize=8)
    for i, r in enumerate(results):
        ax_steps.bar([3 * i, 3 * i + 1], [r["plain_steps"], r["bn_steps"] or 0],
                     color=["C0", "C1"], hatch=[None if r["plain_reached"] else "//", None])
        ax_steps.text(3 * i + 0.5, r["plain_steps"], f"x{r['speedup']:.1f}", ha="center",
                      va="bottom", fontsize=8)
    ax_steps.set_xticks([3 * i + 0.5 for i in range(len(results))],
                        [f"seed {r['seed']}" for r in results])
    ax_steps.set(ylabel=f"steps to {TARGET:.0%} (hatched: not reached)",
                 title="without (blue) and with (orange) batch norm")
    save_figure(fig, path)


@register_claim(
    sentence="With batch normalisation a deep (5 hidden layers) sigmoid MLP reaches 90% "
    "validation accuracy in at most half the training steps the same net needs without it.",
    source="Ioffe & Szegedy 2015, Batch normalization: accelerating deep network training by "
    "reducing internal covariate shift",
    models=("mlp",),
    data="digits (built-in): 1,258 training and 180 validation 8x8 images",
    budget=BUDGET,
    rule=(AtLeast("speedup", 2),),
    effect="speedup",
    figure=figure,
)
def batch_normalization(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    x, y = digits_arrays("validation")
    total = budget["epochs"] * steps_per_epoch(TRAINING["batch_size"])
    numbers = {"run_steps": total}
    for variant, batch_norm in (("plain", False), ("bn", True)):
        curve = []
        train_mlp(work, seed, epochs=budget["epochs"], **TRAINING,
                  callbacks=[accuracy_every_callback(x, y, EVERY, curve)], depth=DEPTH,
                  width=WIDTH, activation="sigmoid", batch_norm=batch_norm)
        numbers[f"{variant}_steps_axis"] = [step for step, _ in curve]
        numbers[f"{variant}_curve"] = [value for _, value in curve]
        numbers[f"{variant}_accuracy"] = curve[-1][1]
        steps = first_step(curve, TARGET)
        numbers[f"{variant}_reached"] = int(steps is not None)
        numbers[f"{variant}_steps"] = total if steps is None else steps
    numbers["speedup"] = (numbers["plain_steps"] / numbers["bn_steps"]
                          if numbers["bn_reached"] else 0.0)
    return numbers
