"""Initialisation: zeros never breaks the symmetry between units; scaled random starts train.

One deep `mlp` (5 hidden ReLU layers of 64 units, SGD with momentum 0.9 at rate
0.05 on a cosine schedule, batch 16) is trained on the digits from four starts of
every kernel (biases start at zero): zeros; N(0, 0.05^2) ("random_normal", Keras'
default scale); Xavier/Glorot uniform, variance 2 / (fan_in + fan_out) (Glorot &
Bengio 2010); He normal, variance 2 / fan_in (He et al. 2015). From zeros every
unit of a layer computes the same function and gets the same gradient, so the
units stay identical whatever the training; this is measured on the trained
weights as `zeros_unit_spread`, the largest difference between two units'
incoming weights (kernel column and bias) over all hidden layers, and as the number
of distinct units per layer. Small random weights shrink the signal by about
sqrt(64 * 0.05^2 / 2) = 0.28 per ReLU layer, so the deep net barely moves.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.claims._digits_mlp import accuracy_curve, train_mlp
from zoo.reproduce.measure import new_figure, save_figure

INITIALIZERS = ("zeros", "random_normal", "glorot_uniform", "he_normal")
LABELS = {"zeros": "zeros", "random_normal": "N(0, 0.05²)", "glorot_uniform": "Xavier/Glorot",
          "he_normal": "He"}
BUDGET = Budget(quick={"epochs": 4}, full={"epochs": 10})
DEPTH, WIDTH = 5, 64
TRAINING = {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16,
            "lr_schedule": "cosine"}


def unit_spreads(model, depth: int) -> tuple[list[float], list[int]]:
    """Per hidden layer: the largest |difference| between any unit's incoming weights
    (kernel column and bias) and the first unit's, and the number of distinct units."""
    spreads, distinct = [], []
    for i in range(1, depth + 1):
        kernel, bias = model.get_layer(f"{model.name}_hidden{i}_dense").get_weights()
        units = np.vstack([kernel, bias[None, :]]).T  # (width, fan_in + 1): one row a unit
        spreads.append(float(np.max(np.abs(units - units[:1]))))
        distinct.append(int(len(np.unique(np.round(units, 6), axis=0))))
    return spreads, distinct


def figure(results: list[dict], path) -> None:
    fig, (ax_curve, ax_acc, ax_units) = new_figure(3)
    positions = np.arange(len(INITIALIZERS))
    for k, init in enumerate(INITIALIZERS):
        for i, r in enumerate(results):
            curve = r[f"{init}_curve"]
            ax_curve.plot(range(1, len(curve) + 1), curve, color=f"C{k}", alpha=0.7,
                          label=LABELS[init] if i == 0 else None)
            ax_acc.plot(k, r[f"{init}_accuracy"], "o", color=f"C{k}", alpha=0.7)
        distinct = np.mean([r[f"{init}_distinct_units"] for r in results], axis=0)
        ax_units.plot(range(1, DEPTH + 1), distinct, "o-", color=f"C{k}", label=LABELS[init])
    ax_curve.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02),
                 title=f"{DEPTH} hidden ReLU layers ({len(results)} seeds)")
    ax_curve.legend(fontsize=8)
    ax_acc.set_xticks(positions, [LABELS[i] for i in INITIALIZERS])
    ax_acc.set(ylabel="final validation accuracy", ylim=(0, 1.02), title="final accuracy")
    ax_units.set_yscale("log")
    ax_units.set(xlabel="hidden layer", ylabel=f"distinct units (of {WIDTH})",
                 title="distinct units after training")
    ax_units.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="Started from zeros, a deep ReLU MLP keeps every unit of a layer identical and does "
    "not learn; small random weights (N(0, 0.05^2)) leave it far behind He's start, while "
    "Xavier/Glorot and He starts both train it.",
    source="Glorot & Bengio 2010 (Xavier initialisation); He et al. 2015, Delving deep into "
    "rectifiers (He initialisation); Goodfellow et al. 2016, Deep Learning, section 8.4 "
    "(breaking symmetry)",
    models=("mlp",),
    data="digits (built-in): 1,258 training and 180 validation 8x8 images",
    budget=BUDGET,
    rule=(AtMost("zeros_unit_spread", 1e-6), AtMost("zeros_accuracy", 0.2),
          AtLeast("glorot_uniform_accuracy", 0.8), AtLeast("he_normal_accuracy", 0.8),
          AtLeast("he_over_random_normal", 0.2)),
    effect="he_over_random_normal",
    figure=figure,
)
def initialization(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    numbers = {}
    for init in INITIALIZERS:
        result = train_mlp(work, seed, epochs=budget["epochs"], **TRAINING, depth=DEPTH,
                           width=WIDTH, activation="relu", initializer=init)
        numbers[f"{init}_curve"] = accuracy_curve(result)
        numbers[f"{init}_accuracy"] = numbers[f"{init}_curve"][-1]
        spreads, distinct = unit_spreads(result.model, DEPTH)
        numbers[f"{init}_unit_spreads"], numbers[f"{init}_distinct_units"] = spreads, distinct
        numbers[f"{init}_unit_spread"] = max(spreads)
    numbers["he_over_random_normal"] = (numbers["he_normal_accuracy"]
                                        - numbers["random_normal_accuracy"])
    return numbers
