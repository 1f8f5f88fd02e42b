"""Softmax regression draws the Bayes boundaries between Gaussian classes of one covariance.

Three 2-D Gaussian blobs (unit variance, centres on a circle of radius 2, equal
priors): the posterior is exactly a softmax of linear functions (Bishop 2006,
section 4.2.1), so the Bayes classifier (the nearest centre) has linear
boundaries and softmax regression can match it. Accuracies are measured on
30,000 fresh points, the model and the Bayes classifier on the same ones.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtMost, Budget, register_claim
from zoo.reproduce.measure import affine_map, history_values, new_figure, save_figure, train

ANGLES = np.deg2rad([90.0, 210.0, 330.0])
CENTRES = 2.0 * np.column_stack([np.cos(ANGLES), np.sin(ANGLES)])  # (3, 2)
BUDGET = Budget(quick={"per_class": 100, "epochs": 20, "batch_size": 20},
                full={"per_class": 100, "epochs": 100, "batch_size": 20})


def blobs(rng, per_class: int):
    """`per_class` points around each centre, N(centre, I); labels 0, 1, 2."""
    y = np.repeat(np.arange(len(CENTRES)), per_class)
    x = CENTRES[y] + rng.normal(0.0, 1.0, size=(len(y), 2))
    return x.astype("float32"), y.astype("int32")


def blob_splits(seed: int, per_class: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"train": blobs(rng, per_class), "validation": blobs(rng, per_class)}


def bayes_predict(x: np.ndarray) -> np.ndarray:
    """The nearest centre: the Bayes classifier for equal priors and one isotropic covariance."""
    return np.argmin(((x[:, None, :] - CENTRES[None]) ** 2).sum(-1), axis=1)


def figure(results: list[dict], path) -> None:
    fig, (ax_map, ax_loss) = new_figure(2)
    first = results[0]
    x, y = blob_splits(first["seed"], int(first["per_class"]))["train"]
    g1, g2 = np.meshgrid(np.linspace(-5, 5, 300), np.linspace(-5, 5, 300))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    kernel, bias = np.asarray(first["kernel"]), np.asarray(first["bias"])
    learned = np.argmax(grid @ kernel + bias, axis=1).reshape(g1.shape)
    ax_map.contourf(g1, g2, learned, levels=[-0.5, 0.5, 1.5, 2.5], alpha=0.2,
                    colors=["tab:blue", "tab:orange", "tab:green"])
    ax_map.contour(g1, g2, bayes_predict(grid).reshape(g1.shape), levels=[0.5, 1.5],
                   colors="k", linestyles="--", linewidths=1)
    for k, colour in enumerate(["tab:blue", "tab:orange", "tab:green"]):
        ax_map.scatter(x[y == k, 0], x[y == k, 1], s=6, color=colour, alpha=0.6)
    ax_map.set(xlim=(-5, 5), ylim=(-5, 5), xlabel="x1", ylabel="x2",
               title=f"seed {first['seed']}: learned regions, Bayes boundaries dashed")
    for r in results:
        ax_loss.plot(range(1, len(r["loss_curve"]) + 1), r["loss_curve"],
                     label=f"seed {r['seed']}: accuracy {r['accuracy']:.3f} "
                     f"(Bayes {r['bayes_accuracy']:.3f})")
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy", title="loss")
    ax_loss.legend(fontsize=7)
    save_figure(fig, path)


@register_claim(
    sentence="For Gaussian classes sharing one covariance the posterior is a softmax of linear "
    "functions, so softmax regression on 300 points of three 2-D blobs comes within 0.02 of "
    "the Bayes accuracy.",
    source="Softmax (multinomial logistic) regression and Gaussian class-conditionals "
    "(Bishop 2006, Pattern Recognition and Machine Learning, sections 4.2.1 and 4.3.4)",
    models=("softmax_regression",),
    data="3 blobs N(c_k, I), centres on a circle of radius 2, 100 points each, new per seed "
    "(plus 300 for validation and 30,000 to measure)",
    budget=BUDGET,
    rule=(AtMost("accuracy_gap", 0.02),),
    effect="accuracy_gap",
    figure=figure,
)
def softmax_regression(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    splits = blob_splits(seed, budget["per_class"])
    result = train("softmax_regression", splits, work, seed, epochs=budget["epochs"],
                   batch_size=budget["batch_size"], lr_schedule="cosine")
    kernel, bias = affine_map(result)
    x, y = blobs(np.random.default_rng(seed + 10_000), 10_000)
    learned, bayes = np.argmax(x @ kernel + bias, axis=1), bayes_predict(x)
    accuracy, bayes_accuracy = float(np.mean(learned == y)), float(np.mean(bayes == y))
    return {
        "per_class": budget["per_class"], "accuracy": accuracy, "bayes_accuracy": bayes_accuracy,
        "accuracy_gap": bayes_accuracy - accuracy, "agreement": float(np.mean(learned == bayes)),
        "kernel": kernel.tolist(), "bias": bias.tolist(),
        "loss_curve": history_values(result, "loss"),
    }
