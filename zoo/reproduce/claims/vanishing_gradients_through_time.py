"""Vanishing gradients through time: a vanilla RNN forgets the adding problem's distant
inputs, an LSTM does not.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): (T, 2) inputs,
values ~ U(0, 1) and a marker channel that is 1 at one step in each half; the
target is the sum of the two marked values, and always predicting 1.0 gives MSE
about 1/6. `rnn_regressor` with cell="simple" and with cell="lstm" (32 units,
Adam at 1e-3, batch 32, each model's best validation epoch) is trained through
`zoo.train` at each length T (the former benchmarks/sequences.py). Test MSE is
reported over the predict-1.0 baseline. On the longest T, the trained models'
back-propagated gradient ||dL/dh_t|| of the squared error on 32 test sequences is
measured at every step t by unrolling the trained cell under a GradientTape (a
measurement, not training), against the distance T - t from the loss.
"""

from __future__ import annotations

import math

import numpy as np

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.measure import new_figure, save_figure, train

CELLS, UNITS = ("simple", "lstm"), 32
# Full: 6 runs a seed, as the former benchmark (30 epochs each): 14.7 CPU-minutes (15.6
# wall) for 3 seeds on 2 cores, over the usual 10: the LSTM needs the epochs for T = 100.
BUDGET = Budget(quick={"lengths": [10, 30], "examples": 1000, "epochs": 2},
                full={"lengths": [10, 50, 100], "examples": 5000, "epochs": 30})


def gradient_norms(model, cell: str, x: np.ndarray, y: np.ndarray) -> list[float]:
    """||dL/dh_t|| for t = 1..T (mean over the batch of the per-sequence norm), unrolling
    the trained recurrent cell step by step."""
    import tensorflow as tf

    layer = model.get_layer(f"{model.name}_{cell}1")
    head = model.get_layer(f"{model.name}_prediction")
    x = tf.constant(x, tf.float32)
    states = [tf.zeros((x.shape[0], UNITS))] * (2 if cell == "lstm" else 1)
    with tf.GradientTape() as tape:
        hidden = []
        for t in range(x.shape[1]):
            h, states = layer.cell(x[:, t], states)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            hidden.append(h)
        loss = tf.reduce_sum((head(hidden[-1])[:, 0] - tf.constant(y.ravel(), tf.float32)) ** 2)
    grads = tape.gradient(loss, hidden)  # T tensors (batch, units)
    return [float(tf.reduce_mean(tf.norm(g, axis=1))) for g in grads]


def adding_run(cell: str, length: int, budget: dict, seed: int, work) -> dict:
    from zoo.runtime.run import Run
    from zoo.tasks.autoencoding import split_arrays

    result = train("rnn_regressor", "adding_problem", work / f"{cell}{length}", seed,
                   epochs=budget["epochs"], batch_size=32, learning_rate=1e-3,
                   overrides={"cell": cell, "units": UNITS, "input_shape": (length, 2)},
                   data_options={"length": length, "examples": budget["examples"]})
    model, plan = Run(result.run_dir).load("best"), result.plan
    x, y = split_arrays(plan, plan.test_split)
    mse = float(model.evaluate(plan.load(plan.test_split, 256), verbose=0,
                               return_dict=True)["loss"])
    return {"mse": mse, "baseline": float(np.mean((y - 1.0) ** 2)),
            "norms": gradient_norms(model, cell, x[:32], y[:32])}


def figure(results: list[dict], path) -> None:
    fig, (ax_grad, ax_mse) = new_figure(2, width=5.0, height=3.6)
    colours = {"simple": "tab:red", "lstm": "tab:blue"}
    for r in results:
        for cell in CELLS:
            norms = np.asarray(r[f"{cell}_norms"])
            distance = np.arange(len(norms))[::-1]  # T - t: 0 at the last step
            ax_grad.plot(distance, norms / norms[-1], color=colours[cell], alpha=0.7,
                         label=f"{cell}" if r is results[0] else None)
    ax_grad.set(yscale="log", xlabel="distance from the loss (T - t)",
                ylabel="||dL/dh_t|| / ||dL/dh_T||",
                title=f"trained models, T = {results[0]['longest']}, every seed")
    ax_grad.legend(fontsize=8)
    lengths = results[0]["lengths"]
    for r in results:
        for cell in CELLS:
            ax_mse.plot(lengths, [r[f"{cell}_mse_ratio_{t}"] for t in lengths], "o-",
                        color=colours[cell], alpha=0.7,
                        label=cell if r is results[0] else None)
    ax_mse.axhline(1.0, color="k", linestyle=":", label="predict 1.0")
    ax_mse.set(xlabel="sequence length T", ylabel="test MSE / baseline MSE",
               title="adding problem, every seed")
    ax_mse.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="Back-propagated through time, a vanilla RNN's gradient shrinks with the distance "
    "from the loss far faster than an LSTM's, so at the longest length of the adding problem "
    "the vanilla RNN does no better than predicting 1.0 while the LSTM learns it.",
    source="Bengio, Simard & Frasconi 1994; Hochreiter & Schmidhuber 1997, Long short-term "
    "memory; Pascanu, Mikolov & Bengio 2013",
    models=("rnn_regressor",),
    data="adding_problem (values ~ U(0, 1), two marked steps), T = 10, 50, 100, 5,000 "
    "sequences split 70/10/20, new per length",
    budget=BUDGET,
    rule=(AtLeast("simple_mse_ratio_longest", 0.8), AtMost("lstm_mse_ratio_longest", 0.5),
          AtLeast("lstm_over_simple_decades_halfway", 1.0)),
    effect="lstm_over_simple_decades_halfway",
    figure=figure,
)
def vanishing_gradients_through_time(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    lengths = list(budget["lengths"])
    numbers = {"lengths": lengths, "longest": lengths[-1]}
    report = ["T     cell    test MSE  baseline  MSE / baseline"]
    for length in lengths:
        for cell in CELLS:
            run = adding_run(cell, length, budget, seed, work)
            numbers[f"{cell}_mse_ratio_{length}"] = run["mse"] / run["baseline"]
            numbers[f"{cell}_norms"] = run["norms"]  # the longest length's is kept
            report.append(f"{length:<5} {cell:<7} {run['mse']:>8.4f} {run['baseline']:>9.4f} "
                          f"{run['mse'] / run['baseline']:>15.3f}")
    half = lengths[-1] // 2
    for cell in CELLS:
        numbers[f"{cell}_mse_ratio_longest"] = numbers[f"{cell}_mse_ratio_{lengths[-1]}"]
        norms = numbers[f"{cell}_norms"]
        numbers[f"{cell}_decay_halfway"] = max(norms[-1 - half] / norms[-1], 1e-30)
    numbers["lstm_over_simple_decades_halfway"] = (
        math.log10(numbers["lstm_decay_halfway"]) - math.log10(numbers["simple_decay_halfway"]))
    return {**numbers, "report": report}
