"""The four Keras Tuner tuners, each timing its trials.

Keras Tuner does not record how long a trial took, nor which process ran it.
`TimedTrials` wraps `run_trial` and appends one line when a run of a trial
starts and one when it ends to `trial_<id>/runs.jsonl` (tuner id, process id,
host, seconds). One file per trial, so the workers of a distributed search
never write the same file; a resumed search keeps the times of its earlier
trials, and a run that started but never ended marks a worker that died.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from pathlib import Path

import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils

from tuning.budget import BudgetSpent

SECONDS_FILE = "timings.json"  # written by earlier versions; still read
RUNS_FILE = "runs.jsonl"


def read_runs(trial_dir: str | os.PathLike) -> list[dict]:
    """The run records of one trial folder, oldest first (empty when none)."""
    path = Path(trial_dir) / RUNS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a line cut short by a killed process
            continue
    return records


def read_seconds(project_dir: str | os.PathLike) -> dict[str, float]:
    """Trial id -> seconds of its last finished run, as recorded so far (empty when none)."""
    project_dir = Path(project_dir)
    times: dict[str, float] = {}
    legacy = project_dir / SECONDS_FILE
    if legacy.exists():
        try:
            times = {str(k): float(v) for k, v in json.loads(legacy.read_text()).items()}
        except (ValueError, OSError):
            times = {}
    for trial_dir in project_dir.glob("trial_*"):
        ends = [r for r in read_runs(trial_dir) if r.get("event") == "end"]
        if ends:
            times[trial_dir.name[len("trial_"):]] = float(ends[-1]["seconds"])
    return times


def _append_run(trial_dir: str | os.PathLike, record: dict) -> None:
    # One short line per write, appended: lines from one process never interleave.
    with open(Path(trial_dir) / RUNS_FILE, "a") as f:
        f.write(json.dumps(record) + "\n")


class TimedTrials:
    """Tuner mixin: records each run of a trial (who ran it, for how long), failed ones included,
    and stops starting trials once its `budget` (a `tuning.budget.TimeBudget`) is spent."""

    budget = None  # set by `tuning.search`; None: no time accounting (a worker)

    def search(self, *args, **kwargs):
        if self.budget is None:
            return super().search(*args, **kwargs)
        self.budget.start()
        try:
            super().search(*args, **kwargs)
        except BudgetSpent:  # raised before a new trial: none is running
            self.on_search_end()
        finally:
            self.budget.stop()
            self.budget.save()

    def pre_create_trial(self):
        if self.budget is not None:
            self.budget.check()
        super().pre_create_trial()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.budget is not None:
            self.budget.save()

    def run_trial(self, trial, *args, **kwargs):
        trial_dir = self.get_trial_dir(trial.trial_id)
        run = sum(r.get("event") == "start" for r in read_runs(trial_dir))
        who = {"run": run, "tuner_id": self.tuner_id, "pid": os.getpid(),
               "host": socket.gethostname()}
        _append_run(trial_dir, {"event": "start", **who, "time": time.time()})
        self.trials_run = [*getattr(self, "trials_run", []), trial.trial_id]
        start = time.perf_counter()
        status = "FAILED"
        try:
            result = super().run_trial(trial, *args, **kwargs)
            status = "COMPLETED"
            return result
        finally:
            _append_run(trial_dir, {"event": "end", **who, "status": status,
                                    "seconds": round(time.perf_counter() - start, 3)})

    def _get_tuner_fname(self):
        # The chief of a distributed search holds the oracle as a single-process search
        # does: the same file name, so a project resumes whichever way it ran before.
        # Workers get names of their own (Keras Tuner's would be "<tuner id>.json", and
        # worker "tuner0" would read the file the chief is writing).
        if dist_utils.is_chief_oracle():
            return os.path.join(str(self.project_dir), "tuner0.json")
        if dist_utils.has_chief_oracle():
            return os.path.join(str(self.project_dir), f"worker_{self.tuner_id}.json")
        return super()._get_tuner_fname()


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
