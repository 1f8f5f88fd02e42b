"""Logistic regression finds the true decision boundary and nearly the Bayes accuracy.

x ~ U(-1, 1)^2 and d = 1 iff x2 > x1 + 1 + e, e ~ N(0, 0.3^2): p(d=1 | x) =
Phi((x2 - x1 - 1) / 0.3), so the Bayes classifier is the line x2 = x1 + 1. The
accuracies are exact expectations over the square (a 400 x 400 grid of x, with
p(d | x) in closed form), not counts on a sample.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtMost, Budget, register_claim
from zoo.reproduce.measure import affine_map, history_values, new_figure, save_figure, train

NOISE = 0.3
BUDGET = Budget(quick={"points": 200, "epochs": 20, "batch_size": 20},
                full={"points": 200, "epochs": 100, "batch_size": 20})


def corner_data(seed: int, points: int, validation: int = 200):
    """Train and validation splits: d = 1 iff x2 > x1 + 1 + N(0, 0.3^2), x ~ U(-1, 1)^2."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(points + validation, 2))
    d = (x[:, 1] > x[:, 0] + 1.0 + rng.normal(0.0, NOISE, len(x))).astype("int32")[:, None]
    x = x.astype("float32")
    return {"train": (x[:points], d[:points]), "validation": (x[points:], d[points:])}


def _grid(size: int = 400):
    centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x1, x2 = np.meshgrid(centres, centres)
    return x1.ravel(), x2.ravel()


def expected_accuracy(kernel: np.ndarray | None, bias: float = 0.0) -> float:
    """The accuracy of `x @ kernel + bias > 0` on fresh data (None: the Bayes classifier)."""
    from scipy.special import ndtr

    x1, x2 = _grid()
    p1 = ndtr((x2 - x1 - 1.0) / NOISE)
    if kernel is None:
        return float(np.mean(np.maximum(p1, 1.0 - p1)))
    says_one = kernel[0] * x1 + kernel[1] * x2 + bias > 0
    return float(np.mean(np.where(says_one, p1, 1.0 - p1)))


def figure(results: list[dict], path) -> None:
    fig, (ax_line, ax_loss) = new_figure(2)
    x, d = corner_data(results[0]["seed"], int(results[0]["points"]))["train"]
    d = d.ravel().astype(bool)
    ax_line.scatter(x[~d, 0], x[~d, 1], s=8, color="tab:blue", alpha=0.5, label="d = 0")
    ax_line.scatter(x[d, 0], x[d, 1], s=8, color="tab:red", alpha=0.7, label="d = 1")
    grid = np.array([-1.0, 1.0])
    ax_line.plot(grid, grid + 1.0, "k--", linewidth=2, label="true (Bayes) boundary")
    for r in results:
        ax_line.plot(grid, r["slope"] * grid + r["intercept"], linewidth=1,
                     label=f"seed {r['seed']}: accuracy {r['accuracy']:.3f}")
    ax_line.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="x1", ylabel="x2",
                title=f"boundaries (Bayes accuracy {results[0]['bayes_accuracy']:.3f})")
    ax_line.legend(fontsize=7, loc="lower right")
    for r in results:
        ax_loss.plot(range(1, len(r["loss_curve"]) + 1), r["loss_curve"],
                     label=f"seed {r['seed']}")
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy", title="loss")
    ax_loss.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="Logistic regression on 200 points learns a decision boundary close to the true "
    "line x2 = x1 + 1, and its accuracy comes within 0.02 of the Bayes rate.",
    source="Logistic regression (Cox 1958; Bishop 2006, Pattern Recognition and Machine "
    "Learning, section 4.3.2); the course's logistic-regression exercise",
    models=("logistic_regression",),
    data="200 points x ~ U(-1, 1)^2, d = 1 iff x2 > x1 + 1 + N(0, 0.3^2), new per seed "
    "(plus 200 for validation)",
    budget=BUDGET,
    rule=(AtMost("accuracy_gap", 0.02), AtMost("boundary_distance", 0.1)),
    effect="accuracy_gap",
    figure=figure,
)
def logistic_regression(seed: int, quick: bool, work) -> dict:
    """boundary_distance: the mean |x2 gap| between the learned and the true line over the
    part of the square the true line crosses (x1 in [-1, 0])."""
    budget = BUDGET.settings(quick)
    splits = corner_data(seed, budget["points"])
    result = train("logistic_regression", splits, work, seed, epochs=budget["epochs"],
                   batch_size=budget["batch_size"], lr_schedule="cosine")
    kernel, bias = affine_map(result)
    w1, w2, b = float(kernel[0, 0]), float(kernel[1, 0]), float(bias[0])
    slope, intercept = -w1 / w2, -b / w2
    x1 = np.linspace(-1.0, 0.0, 101)
    accuracy, bayes = expected_accuracy((w1, w2), b), expected_accuracy(None)
    return {
        "points": budget["points"], "w1": w1, "w2": w2, "b": b, "slope": slope,
        "intercept": intercept, "accuracy": accuracy, "bayes_accuracy": bayes,
        "accuracy_gap": bayes - accuracy,
        "boundary_distance": float(np.mean(np.abs(slope * x1 + intercept - (x1 + 1.0)))),
        "positives": int(splits["train"][1].sum()), "loss_curve": history_values(result, "loss"),
    }
