"""The four Keras Tuner tuners, each timing its trials.

Keras Tuner does not record how long a trial took. `TimedTrials` wraps
`run_trial` and keeps the seconds in `timings.json` in the project
folder, so a resumed search keeps the times of its earlier trials.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import keras_tuner

SECONDS_FILE = "timings.json"


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


class ResumableGridSearchOracle(keras_tuner.oracles.GridSearchOracle):
    """`GridSearchOracle` that finds its place in the grid again after a reload.

    Keras Tuner 1.4.8 does not save the grid position (`_ordered_ids`,
    `_populate_next`), so a reloaded grid search stops at once, or fails with
    a KeyError after a retried trial (keras-team/keras-tuner#1055). Both are
    rebuilt here from the reloaded trials: the trials in grid order, and every
    trial queued to propose its successor (tried successors are skipped).
    """

    def set_state(self, state):
        super().set_state(state)

        def compare(a, b):
            return self._compare(self.trials[a].hyperparameters.values,
                                 self.trials[b].hyperparameters.values)

        self._ordered_ids = type(self._ordered_ids)()  # keras_tuner's LinkedList
        for trial_id in sorted(self.trials, key=functools.cmp_to_key(compare)):
            self._ordered_ids.insert(trial_id)
        self._populate_next = list(self.start_order)


class TimedGridSearch(TimedTrials, keras_tuner.GridSearch):
    """`keras_tuner.GridSearch` recording trial times; resumable (`ResumableGridSearchOracle`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=None,
        seed=None,
        hyperparameters=None,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        self.seed = seed
        oracle = ResumableGridSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        # GridSearch.__init__ would build the stock oracle; go straight to Tuner's.
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)


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
