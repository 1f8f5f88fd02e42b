"""Optimisers and the learning rate: a sweep of SGD, momentum, RMSprop and Adam.

The same `mlp` (2 hidden ReLU layers of 64 units, Glorot start, batch 32) is trained
on the digits by each optimiser at each learning rate of a logarithmic sweep, from
the same initial weights (the seed's). The training loss is logged every 5 steps
(Keras' running mean over the epoch so far) and the validation accuracy after the
last epoch. A rate is "good" for an optimiser when it ends at 90% validation
accuracy or more. Adam (Kingma & Ba 2015) scales each step by a running estimate
of the gradient's size, so its good rates should span more of the sweep than plain
SGD's; at any optimiser, a far too small rate barely moves the weights and a far
too large one diverges.
"""

from __future__ import annotations

import math

import numpy as np

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.claims._digits_mlp import accuracy_curve, train_mlp
from zoo.reproduce.measure import new_figure, save_figure

LABELS = {"sgd": "SGD", "momentum": "SGD + momentum 0.9", "rmsprop": "RMSprop", "adam": "Adam"}
BUDGET = Budget(  # lists: as the JSON record holds them
    quick={"optimizers": ["sgd", "adam"], "rates": [1e-5, 1e-2, 10.0], "epochs": 2},
    full={"optimizers": ["sgd", "momentum", "rmsprop", "adam"],
          "rates": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0], "epochs": 4})
GOOD, EVERY, DEPTH, WIDTH, BATCH = 0.9, 5, 2, 64, 32


def loss_every_callback(into: list):
    """A Keras callback that appends the logged training loss every `EVERY` steps
    (inf once it is no longer finite)."""
    import keras

    class LossEvery(keras.callbacks.Callback):
        step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % EVERY == 0:
                value = float((logs or {}).get("loss", math.nan))
                into.append(value if math.isfinite(value) else math.inf)

    return LossEvery()


def figure(results: list[dict], path) -> None:
    r0 = results[0]
    optimizers, rates = r0["optimizers"], r0["rates"]
    fig, axes = new_figure(len(optimizers) + 1, width=3.8)
    for ax, opt in zip(axes, optimizers):
        for k, rate in enumerate(rates):
            curve = np.array(r0[f"{opt}_{rate:g}_loss"], dtype=float)
            curve[~np.isfinite(curve)] = np.nan  # a diverged run ends its line
            ax.plot(EVERY * np.arange(1, len(curve) + 1), curve, color=f"C{k}",
                    label=f"rate {rate:g}")
        ax.set(xlabel="training step", ylabel="training loss (epoch's running mean)", ylim=(0, 3),
               title=f"{LABELS[opt]} (seed {r0['seed']})")
    axes[0].legend(fontsize=7)
    grid = np.mean([[[r[f"{opt}_{rate:g}_accuracy"] for rate in rates] for opt in optimizers]
                    for r in results], axis=0)
    ax = axes[-1]
    ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i in range(len(optimizers)):
        for j in range(len(rates)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="w" if grid[i, j] < 0.6 else "k")
    ax.set_xticks(range(len(rates)), [f"{rate:g}" for rate in rates], fontsize=7)
    ax.set_yticks(range(len(optimizers)), [LABELS[o] for o in optimizers], fontsize=7)
    ax.set(xlabel="learning rate", title=f"validation accuracy ({len(results)} seeds' mean)")
    save_figure(fig, path)


@register_claim(
    sentence="Across a learning-rate sweep on the same net, Adam reaches 90% validation accuracy "
    "at more rates than plain SGD, and every optimiser fails at a far too small rate (1e-5: "
    "under 50%) and at a far too large one (10: under 30%).",
    source="Kingma & Ba 2015, Adam: a method for stochastic optimization; Bengio 2012, Practical "
    "recommendations for gradient-based training of deep architectures (the learning rate); "
    "Goodfellow et al. 2016, Deep Learning, chapter 8",
    models=("mlp",),
    data="digits (built-in): 1,258 training and 180 validation 8x8 images",
    budget=BUDGET,
    rule=(AtLeast("adam_minus_sgd_good_rates", 1), AtMost("smallest_rate_best_accuracy", 0.5),
          AtMost("largest_rate_best_accuracy", 0.3)),
    effect="adam_minus_sgd_good_rates",
    figure=figure,
)
def optimizers_and_learning_rate(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    optimizers, rates = budget["optimizers"], budget["rates"]
    numbers = {"optimizers": list(optimizers), "rates": list(rates)}
    for opt in optimizers:
        for rate in rates:
            losses = []
            result = train_mlp(work, seed, epochs=budget["epochs"], optimizer=opt,
                               learning_rate=rate, batch_size=BATCH,
                               callbacks=[loss_every_callback(losses)], depth=DEPTH, width=WIDTH)
            numbers[f"{opt}_{rate:g}_loss"] = losses
            numbers[f"{opt}_{rate:g}_accuracy"] = accuracy_curve(result)[-1]
        numbers[f"{opt}_good_rates"] = sum(numbers[f"{opt}_{rate:g}_accuracy"] >= GOOD
                                           for rate in rates)
    numbers["adam_minus_sgd_good_rates"] = numbers["adam_good_rates"] - numbers["sgd_good_rates"]
    numbers["smallest_rate_best_accuracy"] = max(numbers[f"{opt}_{min(rates):g}_accuracy"]
                                                 for opt in optimizers)
    numbers["largest_rate_best_accuracy"] = max(numbers[f"{opt}_{max(rates):g}_accuracy"]
                                                for opt in optimizers)
    return numbers
