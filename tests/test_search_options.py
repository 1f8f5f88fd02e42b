"""`tuning.search` / `zoo tune` options: the time budget, plateau callbacks, user callbacks."""

from __future__ import annotations

import json
import re

import keras
import pytest

import tuning
from zoo import cli

GROUP = "softmax_regression-blobs_4d3c-random"


def _search(tmp_path, **kwargs):
    options = dict(tuner="random", epochs=1, verbose=0, directory=tmp_path / "tuning_runs")
    return tuning.search("softmax_regression", "blobs_4d3c", **{**options, **kwargs})


def test_max_time_stops_starting_trials_and_a_resumed_search_honours_what_is_left(
        tmp_path, count_fits, capsys):
    # The budget is checked before each trial: the first starts, and takes longer than 0.5 s.
    result = _search(tmp_path, max_trials=5, max_time=0.5)

    assert len(result.rows) == len(count_fits) == 1
    assert result.stop_reason == (
        f"Stopped by max_time=0.5 s: {result.seconds_spent:.1f} s spent (earlier runs "
        "included) after 1 trial(s); no new trial was started.")
    budget = json.loads((result.project_dir / "budget.json").read_text())
    assert budget == {"max_time": 0.5, "seconds_spent": result.seconds_spent,
                      "stopped_by_max_time": True}
    assert result.seconds_spent > 0.5

    # The same command resumes the same project: its budget is spent, so no trial starts.
    argv = ["tune", "softmax_regression", "--data", "blobs_4d3c", "--tuner", "random",
            "--max-trials", "5", "--epochs", "1", "--max-time", "0.5",
            "--directory", str(tmp_path / "tuning_runs")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert len(count_fits) == 1
    assert re.search(r"^Stopped by max_time=0\.5 s: [0-9.]+ s spent \(earlier runs included\) "
                     r"after 1 trial\(s\); no new trial was started\.$", out, re.M)
    assert f"{GROUP}/version_0/results.csv" in out


def test_max_time_is_refused_for_a_distributed_search(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "`max_time` is not supported by a distributed search: its trials run in worker "
            "processes that the chief cannot hold back between trials; use `timeout`, which "
            "stops the workers. Received: max_time=10")):
        _search(tmp_path, max_trials=2, workers=2, max_time=10)
    assert not (tmp_path / "tuning_runs").exists()


class FrozenObjective(keras.callbacks.Callback):
    """Logs the same val_loss every epoch (a stalled trial), and notes each epoch and its
    learning rate in a file."""

    def __init__(self, path):
        super().__init__()
        self.path = str(path)
        self.epochs = 0  # per copy: Keras Tuner deep-copies the callbacks for each trial

    def on_train_begin(self, logs=None):
        with open(self.path, "a") as f:
            f.write("trial\n")

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        logs["val_loss"] = 1.0
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        with open(self.path, "a") as f:
            f.write(f"epoch {epoch} {rate:.4g}\n")


def test_early_stopping_ends_stalled_trials_and_a_user_callback_sees_every_trial(tmp_path):
    seen = tmp_path / "seen.txt"
    callback = FrozenObjective(seen)
    result = _search(tmp_path, max_trials=2, epochs=5, early_stopping=1, callbacks=[callback])

    # Each trial stopped after 2 of its 5 epochs: the first sets val_loss, the second
    # does not better it, and the patience is 1.
    lines = seen.read_text().splitlines()
    assert [line.split(" ")[:2] for line in lines] == [["trial"], ["epoch", "0"],
                                                      ["epoch", "1"]] * 2
    assert len(result.rows) == 2 and all(r["status"] == "COMPLETED" for r in result.rows)
    assert callback.epochs == 0  # each trial trained a deep copy
    settings = json.loads((result.project_dir / "search.json").read_text())
    assert settings["early_stopping"] == 1


def test_reduce_lr_on_plateau_is_refused_with_a_cosine_final_training(tmp_path, capsys):
    argv = ["tune", "softmax_regression", "--data", "blobs_4d3c", "--tuner", "random",
            "--export", "--reduce-lr-on-plateau", "2", "--directory", str(tmp_path / "t"),
            "--base-dir", str(tmp_path / "sm")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "zoo: error: `reduce_lr_on_plateau` lowers a constant learning rate, but the final "
        "training's lr_schedule='cosine' sets the rate at every step; use "
        "lr_schedule='constant' (--lr-schedule constant). Received: lr_schedule='cosine', "
        "reduce_lr_on_plateau=2")
    assert not (tmp_path / "t").exists()


def test_reduce_lr_on_plateau_halves_a_stalled_trials_rate(tmp_path):
    seen = tmp_path / "seen.txt"
    result = _search(tmp_path, max_trials=1, epochs=3, reduce_lr_on_plateau=1,
                     fixed={"learning_rate": 0.1}, callbacks=[FrozenObjective(seen)])
    # The rate of each epoch: halved after the second (no better val_loss, patience 1).
    assert seen.read_text().splitlines() == ["trial", "epoch 0 0.1", "epoch 1 0.1",
                                             "epoch 2 0.05"]
    assert result.rows[0]["learning_rate"] == 0.1
