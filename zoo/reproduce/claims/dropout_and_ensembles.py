"""Dropout narrows the train/test gap of an over-parameterised MLP; an ensemble of
independently seeded models beats the best single one.

The digits are cut small so that a wide MLP (2 hidden ReLU layers of 512 units,
about 300,000 weights) can memorise them: 400 training images (the first 400 of the
built-in training split, flattened to 64 features in [0, 1]), the built-in
validation split (180) to choose by, and the test split (359) to measure on. All
models train with Adam (rate 0.001, batch 16) for the same epochs.

Dropout (rate 0.5 after each hidden layer, Srivastava et al. 2014) against none:
the gap is the accuracy on the 400 training images (inference mode) minus the
test accuracy. Ensembles: N models without dropout, each from its own seed; the
ensemble averages their predicted probabilities; the best single model is the one
with the highest validation accuracy, compared on the test split.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, Budget, register_claim
from zoo.reproduce.claims._digits_mlp import accuracy, digits_arrays, predict, train_mlp
from zoo.reproduce.measure import new_figure, save_figure

BUDGET = Budget(quick={"epochs": 15, "ensemble_size": 2},
                full={"epochs": 40, "ensemble_size": 6})
TRAIN_IMAGES, DEPTH, WIDTH, DROPOUT = 400, 2, 512, 0.5
TRAINING = {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 16}


def small_digits() -> tuple[dict, tuple]:
    """The training and validation splits for `zoo.train`, and the test split (x, y)."""
    (x, y), val = digits_arrays("train"), digits_arrays("validation")
    flat = [(a.reshape(len(a), -1), b) for a, b in ((x, y), val, digits_arrays("test"))]
    (x, y), val, test = flat
    return {"train": (x[:TRAIN_IMAGES], y[:TRAIN_IMAGES]), "validation": val}, test


def figure(results: list[dict], path) -> None:
    fig, (ax_gap, ax_ens) = new_figure(2)
    for k, variant in enumerate(("plain", "dropout")):
        label = "no dropout" if variant == "plain" else f"dropout {DROPOUT}"
        for i, r in enumerate(results):
            ax_gap.plot([0, 1], [r[f"{variant}_train_accuracy"], r[f"{variant}_test_accuracy"]],
                        "o-", color=f"C{k}", alpha=0.7,
                        label=f"{label} (gap {np.mean([q[f'{variant}_gap'] for q in results]):.3f})"
                        if i == 0 else None)
    ax_gap.set_xticks([0, 1], [f"train ({TRAIN_IMAGES} images)", "test (359 images)"])
    ax_gap.set(ylabel="accuracy", title=f"{DEPTH}x{WIDTH} ReLU MLP ({len(results)} seeds)")
    ax_gap.legend(fontsize=8)
    for i, r in enumerate(results):
        sizes = range(1, len(r["ensemble_curve"]) + 1)
        ax_ens.plot(sizes, r["ensemble_curve"], "o-", color=f"C{i}",
                    label=f"seed {r['seed']}: ensemble")
        ax_ens.axhline(r["best_single_accuracy"], color=f"C{i}", linestyle="--", linewidth=1,
                       label=f"seed {r['seed']}: best single")
    ax_ens.set(xlabel="models in the ensemble (N)", ylabel="test accuracy",
               title="ensemble of N seeds vs the best single model")
    ax_ens.legend(fontsize=7)
    save_figure(fig, path)


@register_claim(
    sentence="Dropout narrows the gap between training and test accuracy of an "
    "over-parameterised MLP (by at least 0.01), and an ensemble of independently seeded MLPs "
    "is at least as accurate on test data as the best single one.",
    source="Srivastava et al. 2014, Dropout: a simple way to prevent neural networks from "
    "overfitting; Hansen & Salamon 1990, Neural network ensembles; Goodfellow et al. 2016, "
    "Deep Learning, section 7.11 (bagging and other ensemble methods)",
    models=("mlp",),
    data="digits (built-in), cut small: the first 400 training images, the 180 validation "
    "images to choose by and the 359 test images to measure on",
    budget=BUDGET,
    rule=(AtLeast("gap_reduction", 0.01), AtLeast("ensemble_gain", 0.0)),
    effect="gap_reduction",
    figure=figure,
)
def dropout_and_ensembles(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    splits, (x_test, y_test) = small_digits()
    x_train, y_train = splits["train"]
    x_val, y_val = splits["validation"]
    numbers, members = {}, []
    for variant, rate in (("dropout", DROPOUT), *(("plain", 0.0),) * budget["ensemble_size"]):
        member_seed = seed * 100 + len(members)  # each ensemble member its own seed
        result = train_mlp(work, member_seed, epochs=budget["epochs"], **TRAINING, data=splits,
                           depth=DEPTH, width=WIDTH, dropout_rate=rate)
        probs = predict(result, x_test)
        if variant == "dropout" or not members:
            numbers[f"{variant}_train_accuracy"] = accuracy(predict(result, x_train), y_train)
            numbers[f"{variant}_test_accuracy"] = accuracy(probs, y_test)
            numbers[f"{variant}_gap"] = (numbers[f"{variant}_train_accuracy"]
                                         - numbers[f"{variant}_test_accuracy"])
        if variant == "plain":
            members.append((accuracy(predict(result, x_val), y_val), probs))
    numbers["gap_reduction"] = numbers["plain_gap"] - numbers["dropout_gap"]
    numbers["single_test_accuracies"] = [accuracy(p, y_test) for _, p in members]
    numbers["single_validation_accuracies"] = [v for v, _ in members]
    numbers["best_single_accuracy"] = accuracy(max(members, key=lambda m: m[0])[1], y_test)
    numbers["ensemble_curve"] = [accuracy(np.mean([p for _, p in members[:n]], axis=0), y_test)
                                 for n in range(1, len(members) + 1)]
    numbers["ensemble_gain"] = numbers["ensemble_curve"][-1] - numbers["best_single_accuracy"]
    return numbers
