"""Linear regression by minibatch SGD finds the line the data came from (and least squares).

200 points x ~ U(-4, 4), d = x - 1 + N(0, 1), as in the classic course exercise;
`linear_regression` trained by `zoo.train` with SGD, batch 20, the learning rate
decayed to zero (cosine) so that the last iterate settles. Compared with the
closed-form least-squares fit on the same 200 points and its standard errors.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtMost, Budget, Within, register_claim
from zoo.reproduce.measure import affine_map, history_values, new_figure, save_figure, train

BUDGET = Budget(quick={"points": 200, "epochs": 15, "batch_size": 20},
                full={"points": 200, "epochs": 60, "batch_size": 20})


def line_data(seed: int, points: int, validation: int = 100):
    """Train and validation splits of d = x - 1 + N(0, 1), x ~ U(-4, 4)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4.0, 4.0, size=(points + validation, 1))
    d = x - 1.0 + rng.normal(0.0, 1.0, size=x.shape)
    x, d = x.astype("float32"), d.astype("float32")
    return {"train": (x[:points], d[:points]), "validation": (x[points:], d[points:])}


def least_squares(x: np.ndarray, d: np.ndarray) -> dict:
    """The closed-form fit d = w x + b and the standard errors of w and b."""
    x, d = x.ravel().astype(np.float64), d.ravel().astype(np.float64)
    design = np.column_stack([x, np.ones_like(x)])
    (w, b), *_ = np.linalg.lstsq(design, d, rcond=None)
    residual = d - design @ np.array([w, b])
    sigma2 = residual @ residual / (len(x) - 2)
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return {"w_ols": w, "b_ols": b, "se_w": np.sqrt(cov[0, 0]), "se_b": np.sqrt(cov[1, 1])}


def figure(results: list[dict], path) -> None:
    fig, (ax_fit, ax_loss) = new_figure(2)
    first = results[0]
    x, d = line_data(first["seed"], int(first["points"]))["train"]
    grid = np.array([-4.0, 4.0])
    ax_fit.scatter(x, d, s=8, alpha=0.5, color="gray", label="data (seed 0)")
    ax_fit.plot(grid, grid - 1.0, "k--", label="true: d = x - 1")
    ax_fit.plot(grid, first["w_ols"] * grid + first["b_ols"], color="tab:orange",
                label="least squares")
    ax_fit.plot(grid, first["w"] * grid + first["b"], color="tab:blue", linestyle=":",
                linewidth=2, label=f"SGD: w={first['w']:.3f}, b={first['b']:.3f}")
    ax_fit.set(xlabel="x", ylabel="d", title="fit")
    ax_fit.legend(fontsize=8)
    for r in results:
        ax_loss.plot(range(1, len(r["loss_curve"]) + 1), r["loss_curve"],
                     label=f"seed {r['seed']}")
    ax_loss.set(xlabel="epoch", ylabel="training MSE", yscale="log", title="loss")
    ax_loss.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="Minibatch SGD on 200 points of d = x - 1 + N(0, 1) recovers w = 1 and b = -1: "
    "it lands on the least-squares solution, well inside its standard errors.",
    source="Least squares by gradient descent (Goodfellow et al. 2016, Deep Learning, "
    "section 5.1.4); the course's linear-regression exercise",
    models=("linear_regression",),
    data="200 points x ~ U(-4, 4), d = x - 1 + N(0, 1), new per seed (plus 100 for validation)",
    budget=BUDGET,
    rule=(Within("w", 1.0, 0.2), Within("b", -1.0, 0.3),
          AtMost("w_gap_in_se", 0.5), AtMost("b_gap_in_se", 0.5)),
    effect="w",
    figure=figure,
)
def linear_regression(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    splits = line_data(seed, budget["points"])
    result = train("linear_regression", splits, work, seed, epochs=budget["epochs"],
                   batch_size=budget["batch_size"], optimizer="sgd", lr_schedule="cosine")
    kernel, bias = affine_map(result)
    w, b = float(kernel[0, 0]), float(bias[0])
    ols = least_squares(*splits["train"])
    return {
        "points": budget["points"], "w": w, "b": b, **{k: float(v) for k, v in ols.items()},
        "w_gap_in_se": abs(w - ols["w_ols"]) / ols["se_w"],
        "b_gap_in_se": abs(b - ols["b_ols"]) / ols["se_b"],
        "loss_curve": history_values(result, "loss"),
    }
