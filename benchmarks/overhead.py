"""Overhead of the run bookkeeping: `zoo.train` and a search trial against a bare `model.fit`.

Two ratios, measured in one process, interleaved (bare, train, bare, trial, ...),
medians of the per-round ratios over `--repeats` rounds after one warm-up round
(each round's times against the mean of its two bare fits, so load drifts cancel):

    train / bare   `zoo.train(model, dataset, epochs, batch_size)` in a fresh run
                   folder (run.json, history, TensorBoard logs, backup, best.keras,
                   model.keras), against building and compiling the same model
                   (`compile_model`, the spec's defaults), loading the same
                   `pipelines.load` datasets and calling `model.fit` on them.
    trial / bare   one search trial of the same configuration (`tuning.search`,
                   random tuner, one trial, every hyperparameter fixed at its
                   default), its seconds as recorded in the trial's runs.jsonl,
                   against the same bare fit. The whole search call (tuner set-up,
                   the search-space check, the results table) is reported beside it.

    python benchmarks/overhead.py [--model lenet5] [--dataset digits] [--epochs 10]
                                  [--batch-size 32] [--repeats 3] [--json out.json]

Prints a table and the figures as JSON. Absolute times depend on the machine and
its load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages

import keras  # noqa: E402
import keras_tuner  # noqa: E402

import tuning  # noqa: E402
import zoo  # noqa: E402
from tuning.tuners import read_runs  # noqa: E402
from zoo.tasks import compile_model  # noqa: E402
from zoo.runtime.plan import plan_data  # noqa: E402


def _clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads)."""
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def bare_fit(model_name: str, dataset: str, epochs: int, batch_size: int,
             seed: int = 0) -> tuple[float, float]:
    """(wall, CPU) seconds to build, compile, load the data and `model.fit` without any
    bookkeeping."""
    start = _clock()
    spec = zoo.get_spec(model_name)
    plan = plan_data(spec, dataset)
    keras.utils.set_random_seed(seed)
    model = compile_model(spec.builder(**plan.builder_args), spec)
    train = plan.load(plan.train_split, batch_size, seed=seed)
    validation = plan.load(plan.validation_split, batch_size, seed=seed)
    model.fit(train, validation_data=validation, epochs=epochs, verbose=0, shuffle=False)
    return _since(start)


def zoo_train(model_name: str, dataset: str, epochs: int, batch_size: int,
              folder: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `zoo.train` in a new run folder."""
    start = _clock()
    zoo.train(model_name, dataset, epochs=epochs, batch_size=batch_size,
              run_dir=folder / "run", verbose=0)
    return _since(start)


def search_trial(model_name: str, dataset: str, epochs: int, batch_size: int,
                 folder: Path) -> tuple[float, tuple[float, float]]:
    """(wall seconds of the one trial as recorded, (wall, CPU) seconds of the whole
    `tuning.search` call)."""
    spec = zoo.get_spec(model_name)
    hypermodel = tuning.ZooHyperModel(spec, plan_data(spec, dataset), batch_size=batch_size)
    defaults = _default_values(hypermodel)
    start = _clock()
    result = tuning.search(model_name, dataset, tuner="random", max_trials=1, epochs=epochs,
                           batch_size=batch_size, fixed=defaults, directory=folder / "search",
                           verbose=0)
    whole = _since(start)
    trial_dir = result.project_dir / f"trial_{result.rows[0]['trial_id']}"
    ends = [r for r in read_runs(trial_dir) if r.get("event") == "end"]
    return float(ends[-1]["seconds"]), whole


def _default_values(hypermodel) -> dict:
    hp = keras_tuner.HyperParameters()
    hypermodel.architecture_args(hp)
    hypermodel.training_choices(hp)
    return dict(hp.values)


def measure(args) -> dict:
    """Interleaved rounds; the first is a warm-up and not counted."""
    times: dict[str, list[float]] = {k: [] for k in ("bare", "train", "trial", "search",
                                                     "bare_cpu", "train_cpu", "search_cpu")}
    ratios: dict[str, list[float]] = {k: [] for k in ("train", "trial", "search",
                                                      "train_cpu", "search_cpu")}
    what = (args.model, args.dataset, args.epochs, args.batch_size)
    for round_ in range(args.repeats + 1):
        with tempfile.TemporaryDirectory() as tmp:
            bare_a = bare_fit(*what)
            train = zoo_train(*what, Path(tmp))
            bare_b = bare_fit(*what)
            trial, whole = search_trial(*what, Path(tmp))
        keras.backend.clear_session()
        if round_ == 0:
            continue
        measured = {"bare": bare_a[0], "train": train[0], "trial": trial, "search": whole[0],
                    "bare_cpu": bare_a[1], "train_cpu": train[1], "search_cpu": whole[1]}
        for name, seconds in measured.items():
            times[name].append(seconds)
        times["bare"].append(bare_b[0])
        times["bare_cpu"].append(bare_b[1])
        # Each against the mean of the two bare fits around it: load drifts cancel.
        bare, bare_cpu = (bare_a[0] + bare_b[0]) / 2, (bare_a[1] + bare_b[1]) / 2
        for name in ("train", "trial", "search"):
            ratios[name].append(measured[name] / bare)
        for name in ("train_cpu", "search_cpu"):
            ratios[name].append(measured[name] / bare_cpu)
        print(f"round {round_}: bare {bare_a[0]:.2f}/{bare_b[0]:.2f} s, train {train[0]:.2f} s, "
              f"trial {trial:.2f} s, search {whole[0]:.2f} s", flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "model": args.model, "dataset": args.dataset, "epochs": args.epochs,
        "batch_size": args.batch_size, "repeats": args.repeats,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "median_seconds": {k: round(v, 3) for k, v in medians.items()},
        "round_ratios": {k: [round(r, 3) for r in v] for k, v in ratios.items()},
        # The figures: medians of the per-round ratios (wall time; CPU time beside them).
        **{f"{k}_over_bare": round(statistics.median(v), 3) for k, v in ratios.items()},
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure(args)
    m = figures["median_seconds"]
    print(f"\n{args.model} on {args.dataset}, {args.epochs} epochs, batch {args.batch_size}, "
          f"medians of {args.repeats}:")
    print(f"  {'bare model.fit':<28}{m['bare']:>8.2f} s")
    print(f"  {'zoo.train':<28}{m['train']:>8.2f} s   ratio {figures['train_over_bare']:.2f}")
    print(f"  {'search trial':<28}{m['trial']:>8.2f} s   ratio {figures['trial_over_bare']:.2f}")
    print(f"  {'whole one-trial search':<28}{m['search']:>8.2f} s   ratio "
          f"{figures['search_over_bare']:.2f}")
    print(f"  CPU-time ratios: zoo.train {figures['train_cpu_over_bare']:.2f}, "
          f"whole search {figures['search_cpu_over_bare']:.2f}")
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
