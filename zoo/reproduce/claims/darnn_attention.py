"""DA-RNN: input attention picks out the driving series, and the forecast beats an LSTM.

`synthetic_series` (windows of 10 steps; the quick run's of 5) has eight
driving series x1..x8 and a target
y_{t+1} = 0.3 y_t + 0.8 x1_{t-2} + 0.6 x3_{t-1} + N(0, 0.1^2): only x1 and x3
drive it (`pipelines.sequences.SYNTHETIC_DRIVERS`), and the noise sets an RMSE
floor of 0.10. Trained through `zoo.train` (32 units everywhere, Adam at 1e-3,
batch 64, each model's best validation epoch): `darnn` as in the paper, `darnn`
with `series_bias=True` (one learned attention bias per series, not in the
paper), and a plain LSTM (`rnn_regressor`) on the same windows; the last value
y_t is the naive forecast. The input attention is averaged over the test windows
and their steps (`zoo.models.darnn.darnn_attention`); uniform attention is 1/8.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.measure import history_values, new_figure, save_figure, train

UNITS, SERIES = 32, 8
VARIANTS = {  # label -> (model, builder arguments)
    "lstm": ("rnn_regressor", {"cell": "lstm", "units": UNITS}),
    "darnn": ("darnn", {"encoder_units": UNITS, "decoder_units": UNITS}),
    "darnn_series_bias": ("darnn", {"encoder_units": UNITS, "decoder_units": UNITS,
                                    "series_bias": True}),
}
# The former benchmarks/sequences.py trained 30 epochs; 15 keep 3 seeds within 10 CPU-minutes.
BUDGET = Budget(quick={"epochs": 2, "window": 5}, full={"epochs": 15, "window": 10})


def fit_variant(label: str, epochs: int, window: int, seed: int, work) -> dict:
    """Train one variant; its test RMSE at its best validation epoch (and its attention)."""
    from zoo.models.darnn import darnn_attention
    from zoo.runtime.run import Run
    from zoo.tasks.autoencoding import split_arrays

    name, overrides = VARIANTS[label]
    result = train(name, "synthetic_series", work / label, seed, epochs=epochs, batch_size=64,
                   learning_rate=1e-3, overrides={**overrides, "input_shape": (window, SERIES + 1)},
                   data_options={"window": window})
    model, plan = Run(result.run_dir).load("best"), result.plan
    test = plan.load(plan.test_split, 256)
    out = {"rmse": float(np.sqrt(model.evaluate(test, verbose=0, return_dict=True)["loss"])),
           "val_loss": history_values(result, "val_loss")}
    if name == "darnn":
        x, _ = split_arrays(plan, plan.test_split)  # standardized as the model saw them
        alpha, _ = darnn_attention(model, x)  # (N, T, n)
        out["attention"] = alpha.mean(axis=(0, 1)).tolist()
    return out


def last_value_rmse(window: int) -> float:
    import pipelines

    x, y = pipelines.load_arrays("synthetic_series", "test", window=window)
    return float(np.sqrt(np.mean((x[:, -1, -1:] - y) ** 2)))  # the last column is y's history


def _driver_ratio(attention) -> float:
    """Mean attention on the true drivers over mean attention on the other series."""
    from pipelines.sequences import SYNTHETIC_DRIVER_INDICES as drivers

    attention = np.asarray(attention)
    others = [i for i in range(len(attention)) if i not in drivers]
    return float(attention[list(drivers)].mean() / attention[others].mean())


def figure(results: list[dict], path) -> None:
    fig, (ax_att, ax_rmse) = new_figure(2, width=5.0, height=3.6)
    names = [f"x{k + 1}" for k in range(SERIES)]
    x = np.arange(SERIES)
    for offset, (label, colour) in zip((-0.2, 0.2), (("darnn", "tab:gray"),
                                                      ("darnn_series_bias", "tab:blue"))):
        values = np.array([r[f"{label}_attention"] for r in results])
        ax_att.bar(x + offset, values.mean(axis=0), 0.4, yerr=values.std(axis=0), color=colour,
                   label=label.replace("_", " ") + (" (paper)" if label == "darnn" else ""))
    ax_att.axhline(1 / SERIES, color="k", linestyle=":", label="uniform 1/8")
    ax_att.set_xticks(x, [n + (" *" if n in ("x1", "x3") else "") for n in names])
    ax_att.set(xlabel="driving series (* true drivers)", ylabel="mean input attention",
               title=f"input attention, mean over {len(results)} seeds")
    ax_att.legend(fontsize=7)
    labels = ["last_value", *VARIANTS]
    for r in results:
        ax_rmse.plot(labels, [r[f"{k}_rmse"] for k in labels], "o-", alpha=0.7,
                     label=f"seed {r['seed']}")
    ax_rmse.axhline(0.1, color="k", linestyle=":", label="noise floor 0.10")
    ax_rmse.set(yscale="log", ylabel="test RMSE", title="one-step forecast")
    ax_rmse.tick_params(axis="x", labelsize=7)
    ax_rmse.legend(fontsize=7)
    save_figure(fig, path)


@register_claim(
    sentence="On a series driven by two of eight exogenous series, DA-RNN's input attention "
    "puts at least 1.2 times as much weight on the true drivers as on the others, and its "
    "forecast beats both the last value and a plain LSTM.",
    source="Qin et al. 2017, A dual-stage attention-based recurrent neural network for time "
    "series prediction",
    models=("darnn", "rnn_regressor"),
    data="synthetic_series: 8 AR(1) driving series, target driven by x1 (lag 2) and x3 (lag 1), "
    "noise 0.1; windows of 10 steps, train/validation/test in time order",
    budget=BUDGET,
    rule=(AtLeast("darnn_driver_ratio", 1.2), AtMost("darnn_minus_lstm_rmse", 0.0),
          AtMost("darnn_over_last_value_rmse", 1.0)),
    effect="darnn_driver_ratio",
    figure=figure,
)
def darnn_attention(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    numbers = {"last_value_rmse": last_value_rmse(budget["window"])}
    for label in VARIANTS:
        out = fit_variant(label, budget["epochs"], budget["window"], seed, work)
        numbers.update({f"{label}_{k}": v for k, v in out.items()})
    for label in ("darnn", "darnn_series_bias"):
        numbers[f"{label}_driver_ratio"] = _driver_ratio(numbers[f"{label}_attention"])
    numbers["darnn_minus_lstm_rmse"] = numbers["darnn_rmse"] - numbers["lstm_rmse"]
    numbers["darnn_over_last_value_rmse"] = numbers["darnn_rmse"] / numbers["last_value_rmse"]
    report = [f"test RMSE: last value {numbers['last_value_rmse']:.4f}, "
              + ", ".join(f"{k} {numbers[f'{k}_rmse']:.4f}" for k in VARIANTS)]
    report += [f"{label} input attention x1..x8: "
               + " ".join(f"{v:.3f}" for v in numbers[f"{label}_attention"])
               + f" (drivers / others {numbers[f'{label}_driver_ratio']:.2f})"
               for label in ("darnn", "darnn_series_bias")]
    return {**numbers, "report": report}
