"""Sequence benchmark: long memory (adding problem) and attention (DA-RNN).

Experiment 1, after Hochreiter & Schmidhuber 1997 and Le et al. 2015: a
vanilla RNN and an LSTM (`rnn_regressor`, cell="simple" and "lstm") learn the
adding problem for T = 10, 50 and 100 with the same budget each. Reported:
test MSE against the baseline that always predicts 1.0 (MSE about 0.167).

Experiment 2, after Qin et al. 2017: DA-RNN (as in the paper, and with
`series_bias=True`), a plain LSTM (`rnn_regressor` on the same windows) and
the last-value baseline on `synthetic_series`: test RMSE of each, and each
DA-RNN's mean input attention per driving series, to compare with the true
drivers x1 and x3.

Prints JSON, then tables. Default budget (30 epochs per adding-problem run,
30 per synthetic-series model, 32 units everywhere): about 4 minutes on 2 CPU cores.

    python benchmarks/sequences.py [--epochs 30] [--series-epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import pipelines  # noqa: E402
import zoo  # noqa: E402
from pipelines import sequences  # noqa: E402
from zoo.models.darnn import darnn_attention  # noqa: E402
from zoo.tasks import compile_model  # noqa: E402


def fit_and_test(name, dataset, options, overrides, epochs, batch_size, learning_rate, seed):
    """Train a registered model on a built-in dataset; return it and its test MSE.

    The weights of the epoch with the lowest validation loss are kept.
    """
    spec = zoo.get_spec(name)
    keras.utils.set_random_seed(seed)
    model = zoo.build(name, **overrides)
    compile_model(model, spec, learning_rate=learning_rate)
    load = lambda split: pipelines.load(dataset, split, batch_size=batch_size, seed=seed,  # noqa: E731
                                        **options)
    best = keras.callbacks.EarlyStopping(patience=epochs, restore_best_weights=True)
    start = time.perf_counter()
    model.fit(load("train"), validation_data=load("validation"), epochs=epochs,
              callbacks=[best], verbose=0)
    seconds = time.perf_counter() - start
    test_mse = model.evaluate(load("test"), verbose=0, return_dict=True)["loss"]
    return model, float(test_mse), seconds


def adding_problem(lengths, cells, epochs, examples, units, seed) -> list[dict]:
    rows = []
    for length in lengths:
        options = {"length": length, "examples": examples}
        _, y_test = pipelines.load_arrays("adding_problem", "test", **options)
        baseline = float(np.mean((y_test - 1.0) ** 2))
        for cell in cells:
            _, mse, seconds = fit_and_test(
                "rnn_regressor", "adding_problem", options,
                {"cell": cell, "units": units, "input_shape": (length, 2)},
                epochs=epochs, batch_size=32, learning_rate=1e-3, seed=seed,
            )
            rows.append({"T": length, "cell": cell, "test_mse": mse, "baseline_mse": baseline,
                         "mse_over_baseline": mse / baseline, "seconds": seconds})
            print(f"adding T={length} {cell}: test MSE {mse:.4f} (baseline {baseline:.4f}, "
                  f"{seconds:.0f} s)", file=sys.stderr)
    return rows


def synthetic_series(epochs, units, seed) -> dict:
    x_test, y_test = pipelines.load_arrays("synthetic_series", "test")
    # Last value: the target's history is the last column, its last step the latest value.
    last_value_rmse = float(np.sqrt(np.mean((x_test[:, -1, -1:] - y_test) ** 2)))
    shape = x_test.shape[1:]
    results = {"last_value": {"test_rmse": last_value_rmse}}
    for label, name, overrides in [
        ("lstm", "rnn_regressor", {"cell": "lstm", "units": units, "input_shape": shape}),
        ("darnn", "darnn", {"encoder_units": units, "decoder_units": units, "input_shape": shape}),
        ("darnn_series_bias", "darnn", {"encoder_units": units, "decoder_units": units,
                                        "input_shape": shape, "series_bias": True}),
    ]:
        model, mse, seconds = fit_and_test(name, "synthetic_series", {}, overrides,
                                           epochs=epochs, batch_size=64, learning_rate=1e-3,
                                           seed=seed)
        results[label] = {"test_rmse": float(np.sqrt(mse)), "seconds": seconds}
        print(f"synthetic_series {label}: test RMSE {np.sqrt(mse):.4f} ({seconds:.0f} s)",
              file=sys.stderr)
        if name == "darnn":
            standardized = pipelines.preprocessor("synthetic_series")(x_test)
            input_attention, temporal_attention = darnn_attention(model, standardized)
            names = [f"x{k + 1}" for k in range(sequences.SYNTHETIC_SERIES)]
            per_series = input_attention.mean(axis=(0, 1))  # (n,)
            results[label]["input_attention"] = dict(zip(names, per_series.round(4).tolist()))
            results[label]["temporal_attention"] = temporal_attention.mean(axis=0).round(4).tolist()
            results[label]["top2_series"] = [names[i] for i in np.argsort(per_series)[::-1][:2]]
    results["true_drivers"] = list(sequences.SYNTHETIC_DRIVERS)
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--epochs", type=int, default=30, help="adding-problem epochs per run")
    parser.add_argument("--examples", type=int, default=5000, help="adding-problem sequences")
    parser.add_argument("--units", type=int, default=32, help="recurrent units, every model")
    parser.add_argument("--series-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", choices=["adding", "series"], default=None)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    report = {"settings": vars(args)}
    if args.skip != "adding":
        report["adding_problem"] = adding_problem(args.lengths, ["simple", "lstm"], args.epochs,
                                                  args.examples, args.units, args.seed)
    if args.skip != "series":
        report["synthetic_series"] = synthetic_series(args.series_epochs, args.units, args.seed)
    report["seconds"] = time.perf_counter() - start
    print(json.dumps(report, indent=2))

    if "adding_problem" in report:
        print("\n| T | cell | test MSE | baseline MSE (predict 1.0) | MSE / baseline | seconds |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in report["adding_problem"]:
            print(f"| {r['T']} | {r['cell']} | {r['test_mse']:.4f} | {r['baseline_mse']:.4f} | "
                  f"{r['mse_over_baseline']:.3f} | {r['seconds']:.0f} |")
    if "synthetic_series" in report:
        s = report["synthetic_series"]
        print("\n| model | test RMSE |")
        print("| --- | --- |")
        for label in ("last_value", "lstm", "darnn", "darnn_series_bias"):
            print(f"| {label} | {s[label]['test_rmse']:.4f} |")
        names = list(s["darnn"]["input_attention"])
        print("\n| mean input attention | " + " | ".join(names) + " |")
        print("| --- |" + " --- |" * len(names))
        for label in ("darnn", "darnn_series_bias"):
            print(f"| {label} | "
                  + " | ".join(f"{v:.3f}" for v in s[label]["input_attention"].values()) + " |")
    print(f"\ntotal {report['seconds']:.0f} s")
    return report


if __name__ == "__main__":
    main()
