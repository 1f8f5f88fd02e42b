"""Issue 12, distributed search: the workers get their arguments as JSON (a pickle is
never read), and rerunning a finished search starts no trial."""

from __future__ import annotations

import json
import os
import pickle

import keras_tuner
import pytest

import tuning
from tuning import distributed
from tuning.search import worker_main
from tuning.tuners import read_runs

TIMEOUT = 120  # seconds a search here may take, worker start-up included
PROJECT = "softmax_regression-blobs_4d3c-random"


def _search(directory, **kwargs):
    options = dict(tuner="random", max_trials=3, epochs=1, verbose=0, workers=2,
                   timeout=TIMEOUT)
    return tuning.search("softmax_regression", "blobs_4d3c", directory=directory,
                         **{**options, **kwargs})


def _runs(project_dir) -> dict[str, list[dict]]:
    return {p.name: read_runs(p) for p in sorted(project_dir.glob("trial_*"))}


class _Planted:
    """What an attacker would plant: unpickling it runs `os.mkdir(marker)`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_finished_search_passes_json_to_its_workers_and_reruns_no_trial(tmp_path):
    # One search serves both checks (each start of two workers costs seconds).
    finished = _search(tmp_path / "tuning")
    project = finished.project_dir
    assert project == tmp_path / "tuning" / PROJECT / "version_0"
    workers_dir = project / "workers"
    assert sorted(p.name for p in workers_dir.iterdir()) == [
        "launch.json", "search_args.json", "tuner0.log", "tuner1.log"]
    assert json.loads((workers_dir / "search_args.json").read_text()) == {
        "model_name": "softmax_regression", "dataset": "blobs_4d3c", "tuner": "random",
        "max_trials": 3, "epochs": 1, "batch_size": 32, "seed": 0, "objective": None,
        "overrides": None, "data_options": None, "fixed": None,
        "directory": str(project.parent.resolve()), "project_name": "version_0",
        "max_consecutive_failed_trials": 3, "verbose": 0, "early_stopping": None,
        "reduce_lr_on_plateau": None,
    }

    # The chief saved the oracle after the last trial ended: none is left ongoing.
    runs = _runs(project)
    assert sorted(runs) == ["trial_0", "trial_1", "trial_2"]
    oracle = json.loads((project / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {}
    assert sorted(oracle["end_order"]) == ["0", "1", "2"]

    # Rerun, with a pickle planted where earlier versions wrote one: it is never loaded,
    # and no trial starts again.
    (workers_dir / "search_args.pkl").write_bytes(
        pickle.dumps(_Planted(tmp_path / "planted-ran")))
    again = _search(tmp_path / "tuning")
    assert again.project_dir == project
    assert _runs(project) == runs
    assert again.rows == finished.rows
    oracle = json.loads((project / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {}
    assert sorted(oracle["end_order"]) == ["0", "1", "2"]  # one entry per trial
    assert not (tmp_path / "planted-ran").exists()


def test_a_worker_never_unpickles_its_arguments(tmp_path, capsys):
    planted = tmp_path / "search_args.pkl"
    planted.write_bytes(pickle.dumps(_Planted(tmp_path / "planted-ran")))

    assert worker_main([str(planted)]) == 2
    assert not (tmp_path / "planted-ran").exists()
    assert capsys.readouterr().err.strip() == (
        f"worker_main: error: {planted} does not hold the JSON search arguments a chief "
        f"writes (search_args.json).")


def test_search_arguments_round_trip_through_json():
    args = {"objective": keras_tuner.Objective("val_accuracy", "max"),
            "overrides": {"input_shape": (8, 8, 1), "units": [16, 8]},
            "data_options": {"augment": ("shift", "flip"), "gate": "xor"},
            "fixed": {"learning_rate": 0.01, "depth": 2, "residual": True}, "seed": None}
    decoded = distributed.decode_args(json.loads(json.dumps(distributed.encode_args(args))))
    assert decoded == args
    assert type(decoded["overrides"]["input_shape"]) is tuple
    assert type(decoded["overrides"]["units"]) is list


@pytest.mark.parametrize("kwargs, message", [
    ({"overrides": {"classes": {3}}},
     "`overrides` must hold only JSON values (None, booleans, numbers, strings, and "
     "lists, tuples and string-keyed dicts of them) to reach the workers of a distributed "
     "search. Received: overrides={'classes': {3}}"),
    ({"data_options": {1: "a"}},
     "`data_options` must hold only JSON values (None, booleans, numbers, strings, and "
     "lists, tuples and string-keyed dicts of them) to reach the workers of a distributed "
     "search. Received: data_options={1: 'a'}"),
])
def test_non_json_search_arguments_are_refused_before_anything_starts(tmp_path, kwargs,
                                                                      message):
    with pytest.raises(ValueError) as info:
        _search(tmp_path, **kwargs)
    assert str(info.value) == message
    assert list(tmp_path.iterdir()) == []
