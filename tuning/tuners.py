"""The four Keras Tuner tuners, each timing its trials.

Keras Tuner does not record how long a trial took. `TimedTrials` wraps
`run_trial` and keeps the seconds in `trial_seconds.json` in the project
folder, so a resumed search keeps the times of its earlier trials.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras_tuner

SECONDS_FILE = "trial_seconds.json"


def read_seconds(project_dir: str | os.PathLike) -> dict[str, float]:
    """Trial id -> seconds, as recorded so far (empty when none)."""
    path = Path(project_dir) / SECONDS_FILE
    if not path.exists():
        return {}
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, OSError):
        return {}


def _record_seconds(project_dir: str | os.PathLike, trial_id: str, seconds: float) -> None:
    path = Path(project_dir) / SECONDS_FILE
    times = read_seconds(project_dir)
    times[str(trial_id)] = round(seconds, 3)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(times, indent=2, sort_keys=True))
    os.replace(tmp, path)


class TimedTrials:
    """Tuner mixin: records each trial's wall-clock seconds, failed ones included."""

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            _record_seconds(self.project_dir, trial.trial_id, time.perf_counter() - start)


class TimedHyperband(TimedTrials, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` recording trial times."""


class TimedRandomSearch(TimedTrials, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` recording trial times."""


class TimedBayesianOptimization(TimedTrials, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` recording trial times."""


class TimedGridSearch(TimedTrials, keras_tuner.GridSearch):
    """`keras_tuner.GridSearch` recording trial times."""


TUNERS = {
    "hyperband": TimedHyperband,
    "random": TimedRandomSearch,
    "bayesian": TimedBayesianOptimization,
    "grid": TimedGridSearch,
}


def make_tuner(
    name: str,
    hypermodel,
    *,
    objective,
    max_trials: int,
    epochs: int,
    seed: int,
    hyperparameters,
    directory,
    project_name: str,
    max_consecutive_failed_trials: int,
):
    """The tuner `name`, reloading the project folder when it exists.

    Hyperband's budget is `epochs` per model (factor 3, one iteration); the
    others run at most `max_trials` trials of `epochs` epochs each.
    """
    if name not in TUNERS:
        raise ValueError(
            f"Unknown tuner {name!r}. Expected one of: {', '.join(sorted(TUNERS))}."
        )
    common = dict(
        hypermodel=hypermodel,
        objective=objective,
        # Keras Tuner replaces a seed of 0 by a random one; shift so that every seed holds.
        seed=seed + 1,
        hyperparameters=hyperparameters,
        directory=str(directory),
        project_name=project_name,
        overwrite=False,  # reload: finished trials are never repeated
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    if name == "hyperband":
        return TimedHyperband(max_epochs=epochs, factor=3, hyperband_iterations=1, **common)
    return TUNERS[name](max_trials=max_trials, **common)
