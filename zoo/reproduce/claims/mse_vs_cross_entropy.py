"""MSE vs cross-entropy for a sigmoid output from a saturated start.

`logistic_regression` (one sigmoid unit) is started saturated: its weights drawn
from N(0, 10^2) (`initial_scale=10`), so |w.x| is large and the sigmoid sits near 0
or 1 for most points, wrongly so for about half of them. It is trained by plain
SGD (rate 1, batch 32) on the same data from the same start, once on
cross-entropy (the task's loss) and once on the squared error of the probability
(`loss="mse"`). For the output pre-activation z, cross-entropy's gradient is
p - y, while the squared error's is 2 (p - y) p (1 - p): it vanishes where the
sigmoid saturates, however wrong the output (Nielsen 2015, Neural Networks and
Deep Learning, chapter 3).

Data: x ~ N(0, I_2), y = 1 iff x1 + x2 > 0; 1,000 points to train on and 1,000
to validate on, new per seed. Every 4 steps the validation accuracy and the norm
of the gradient of the run's own loss w.r.t. the weights (on the training
points) are recorded. `speedup` is the squared error's steps to 95% validation
accuracy over cross-entropy's (a run that never reaches it counts all its steps,
so the speedup is then a lower bound).
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, Budget, register_claim
from zoo.reproduce.measure import new_figure, save_figure, train

BUDGET = Budget(quick={"epochs": 8}, full={"epochs": 30})
POINTS, SCALE, TARGET, EVERY, BATCH = 1000, 10.0, 0.95, 4, 32
LOSSES = {"binary_crossentropy": "cross-entropy", "mse": "squared error"}
TRAINING = {"optimizer": "sgd", "learning_rate": 1.0, "batch_size": BATCH}


def half_planes(seed: int) -> dict:
    """Train and validation splits: x ~ N(0, I_2), y = 1 iff x1 + x2 > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * POINTS, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")[:, None]
    return {"train": (x[:POINTS], y[:POINTS]), "validation": (x[POINTS:], y[POINTS:])}


def output_gradient(model, x, y, loss: str) -> float:
    """The L2 norm of the gradient of `loss` (mean over (x, y)) w.r.t. the weights."""
    import keras
    import tensorflow as tf

    kernel = model.get_layer(f"{model.name}_dense").kernel
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(keras.losses.get(loss)(tf.cast(y, "float32"), model(x)))
    return float(tf.norm(tape.gradient(value, kernel)))


def tracking_callback(splits: dict, loss: str, into: dict):
    """Every `EVERY` steps (and at step 0): validation accuracy and the gradient norm of
    `loss` on the training points, into `into["accuracy"]` and `into["gradient"]`."""
    import keras

    (x, y), (x_val, y_val) = splits["train"], splits["validation"]

    class Track(keras.callbacks.Callback):
        step = 0

        def record(self):
            said = np.asarray(self.model(x_val)).ravel() > 0.5
            into["accuracy"].append(float(np.mean(said == y_val.ravel().astype(bool))))
            into["gradient"].append(output_gradient(self.model, x, y, loss))
            if self.step == 0:  # the start, under both losses
                into["initial"] = {name: output_gradient(self.model, x, y, name)
                                   for name in LOSSES}

        def on_train_begin(self, logs=None):
            self.record()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % EVERY == 0:
                self.record()

    return Track()


def figure(results: list[dict], path) -> None:
    fig, (ax_acc, ax_grad) = new_figure(2)
    for k, loss in enumerate(LOSSES):
        for i, r in enumerate(results):
            steps = EVERY * np.arange(len(r[f"{loss}_accuracy"]))
            label = LOSSES[loss] if i == 0 else None
            ax_acc.plot(steps, r[f"{loss}_accuracy"], color=f"C{k}", alpha=0.7, label=label)
            ax_grad.semilogy(steps, r[f"{loss}_gradient"], color=f"C{k}", alpha=0.7,
                             label=label)
    ax_acc.axhline(TARGET, color="k", linestyle="--", linewidth=1, label=f"target {TARGET}")
    ax_acc.set(xlabel="training step", ylabel="validation accuracy", ylim=(0.3, 1.01),
               title=f"sigmoid unit from a saturated start ({len(results)} seeds)")
    ax_acc.legend(fontsize=8)
    ax_grad.set(xlabel="training step", ylabel="|dLoss/dW| (its own loss)",
                title="gradient at the output layer")
    ax_grad.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="From a saturated start, a sigmoid output trained on cross-entropy learns at "
    "least twice as fast as on squared error: the squared error's gradient carries the "
    "sigmoid's slope and nearly vanishes (at least 10 times smaller at the start).",
    source="Nielsen 2015, Neural Networks and Deep Learning, chapter 3 (the cross-entropy "
    "cost); Glorot & Bengio 2010 (the quadratic cost's plateaus); Goodfellow et al. 2016, "
    "Deep Learning, section 6.2.2.2",
    models=("logistic_regression",),
    data="x ~ N(0, I_2), y = 1 iff x1 + x2 > 0: 1,000 training and 1,000 validation points, "
    "new per seed",
    budget=BUDGET,
    rule=(AtLeast("speedup", 2), AtLeast("initial_gradient_ratio", 10)),
    effect="speedup",
    figure=figure,
)
def mse_vs_cross_entropy(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    splits = half_planes(seed)
    numbers = {}
    for loss in LOSSES:
        track = {"accuracy": [], "gradient": []}
        train("logistic_regression", splits, work, seed, epochs=budget["epochs"], **TRAINING,
              loss=None if loss == "binary_crossentropy" else loss,
              overrides={"initial_scale": SCALE},
              callbacks=[tracking_callback(splits, loss, track)])
        numbers[f"{loss}_accuracy"], numbers[f"{loss}_gradient"] = (track["accuracy"],
                                                                    track["gradient"])
        reached = [i for i, value in enumerate(track["accuracy"]) if value >= TARGET]
        numbers[f"{loss}_steps"] = EVERY * (reached[0] if reached else len(track["accuracy"]))
        numbers[f"{loss}_reached"] = int(bool(reached))
        numbers[f"initial_{loss}_gradients"] = track["initial"]
    start = numbers["initial_binary_crossentropy_gradients"]
    numbers["initial_gradient_ratio"] = start["binary_crossentropy"] / start["mse"]
    numbers["speedup"] = (numbers["mse_steps"] / max(numbers["binary_crossentropy_steps"], EVERY)
                          if numbers["binary_crossentropy_reached"] else 0.0)
    return numbers
