"""The training loop of `zoo train`: gradient clipping, version folders, extending a finished
run, early stopping and rate reduction, the curves PNG, and `zoo runs`."""

import json
import math
import re
import types

import numpy as np
import pytest

import zoo
from zoo.cli import main
from zoo.runtime.run import Run, RunFolderError, read_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def zoo_error(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 2
    return capsys.readouterr().err.strip()


def record(folder) -> dict:
    return json.loads((folder / "run.json").read_text())


# --- clipnorm -------------------------------------------------------------------------------


def test_clipnorm_reaches_the_optimizer_and_is_recorded_only_when_set(tmp_path):
    result = zoo.train("mlp", "iris", epochs=1, clipnorm=0.5, run_dir=tmp_path / "a", verbose=0)
    assert result.model.optimizer.clipnorm == 0.5
    assert Run(tmp_path / "a").load("final").optimizer.clipnorm == 0.5  # and it is saved
    assert record(tmp_path / "a")["settings"]["clipnorm"] == 0.5
    zoo.train("mlp", "iris", epochs=1, run_dir=tmp_path / "b", verbose=0)
    assert "clipnorm" not in record(tmp_path / "b")["settings"]  # older runs still resume


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf])
def test_a_bad_clipnorm_is_refused_before_any_folder_is_written(tmp_path, value):
    with pytest.raises(ValueError, match=re.escape(
            f"`clipnorm` must be a finite number > 0. Received: clipnorm={value!r}")):
        zoo.train("mlp", "iris", epochs=1, clipnorm=value, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_the_command_refuses_a_bad_clipnorm(in_tmp, capsys):
    assert zoo_error(capsys, "train", "mlp", "--data", "iris", "--clipnorm", "0") == (
        "zoo: error: `clipnorm` must be a finite number > 0. Received: clipnorm=0.0")
    assert list(in_tmp.iterdir()) == []


# --- another loss -----------------------------------------------------------------------------


def test_a_binary_classifier_may_train_on_squared_error_recorded_only_when_set(tmp_path):
    result = zoo.train("logistic_regression", epochs=1, loss="mse", run_dir=tmp_path / "a",
                       verbose=0)
    assert result.model.loss == "mse" and Run(tmp_path / "a").load("final").loss == "mse"
    assert record(tmp_path / "a")["settings"]["loss"] == "mse"
    result = zoo.train("logistic_regression", epochs=1, run_dir=tmp_path / "b", verbose=0)
    assert result.model.loss == "binary_crossentropy"
    assert "loss" not in record(tmp_path / "b")["settings"]  # older runs still resume


def test_a_loss_the_task_does_not_offer_is_refused_before_any_folder_is_written(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "Model 'mlp' (classification) trains with the loss "
            "'sparse_categorical_crossentropy'. Received: loss='mse'")):
        zoo.train("mlp", "iris", epochs=1, loss="mse", runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# --- version folders ------------------------------------------------------------------------


def test_each_set_of_settings_gets_its_own_version_and_readers_take_the_newest(in_tmp, capsys):
    first = zoo.train("softmax_regression", "iris", epochs=1, verbose=0)
    assert first.run_dir == in_tmp.joinpath("runs", "softmax_regression-iris",
                                            "version_0").relative_to(in_tmp)
    other = zoo.train("softmax_regression", "iris", epochs=1, batch_size=16, verbose=0)
    assert other.run_dir.name == "version_1"
    again = zoo.train("softmax_regression", "iris", epochs=1, verbose=1)
    assert again.run_dir == first.run_dir  # the same command finds its own run
    assert "Run runs/softmax_regression-iris/version_0 is already complete (1 epoch, trained " \
           "under the default strategy (1 replica)); loading its model." in capsys.readouterr().out

    run = Run("runs/softmax_regression-iris")
    assert run.folder == other.run_dir and run.settings["batch_size"] == 16
    assert run.note == ("runs/softmax_regression-iris holds 2 runs (version_0, version_1); "
                        "using version_1, the newest completed.")
    # --run-dir names one run folder, never a group.
    with pytest.raises(ValueError, match=re.escape(
            "Run folder runs/softmax_regression-iris holds versioned runs (version_0, "
            "version_1), not one run. Give --run-dir one version folder (e.g. "
            "runs/softmax_regression-iris/version_1) or a new folder, or leave it out to get "
            "the version of these settings.")):
        zoo.train("softmax_regression", "iris", epochs=1, run_dir="runs/softmax_regression-iris")


def test_a_reading_command_says_which_version_it_uses(in_tmp, capsys, monkeypatch):
    from zoo.runtime import exporter

    zoo.train("softmax_regression", "iris", epochs=1, verbose=0)
    exported = []  # the export itself is tested elsewhere: only what `zoo export` read matters

    def export_trained(model, spec, plan, name, **options):
        exported.append((spec.name, plan.dataset))
        return types.SimpleNamespace(path="sm/x/1", manifest={"verification": {
            "max_abs_diff": 0.0, "xla_max_abs_diff": 0.0}, "formats": {}})

    monkeypatch.setattr(exporter, "export_trained", export_trained)
    assert main(["export", "runs/softmax_regression-iris", "--base-dir", "sm"]) == 0
    assert capsys.readouterr().out.startswith(
        "runs/softmax_regression-iris holds 1 run (version_0); using version_0, the newest "
        "completed.\nExported sm/x/1")
    assert exported == [("softmax_regression", "iris")]
    # A group whose runs are unfinished is named, with a folder to use instead.
    state = record(in_tmp / "runs/softmax_regression-iris/version_0")
    (in_tmp / "runs/softmax_regression-iris/version_0/run.json").write_text(
        json.dumps({**state, "status": "running"}))
    with pytest.raises(RunFolderError, match=re.escape(
            "runs/softmax_regression-iris holds 1 run (version_0), none completed. Name one "
            "version folder to read an unfinished run, e.g. "
            "runs/softmax_regression-iris/version_0.")):
        Run("runs/softmax_regression-iris")


def test_a_completed_run_of_another_strategy_is_not_returned(in_tmp, capsys):
    first = zoo.train("softmax_regression", "iris", epochs=1, verbose=0)
    path = in_tmp / first.run_dir / "run.json"
    state = record(in_tmp / first.run_dir)
    state["distribution"]["strategy"] = "mirrored"  # as if trained on two GPUs
    path.write_text(json.dumps(state))
    second = zoo.train("softmax_regression", "iris", epochs=1, verbose=0)
    assert second.run_dir.name == "version_1"
    # An unfinished run resumes under any strategy, and says so.
    state["status"] = "running"
    path.write_text(json.dumps(state))
    (in_tmp / first.run_dir / "model.keras").unlink()
    assert zoo.train("softmax_regression", "iris", epochs=1, verbose=0).run_dir == first.run_dir


def test_a_longer_cosine_run_is_a_new_version(in_tmp):
    zoo.train("softmax_regression", "iris", epochs=1, lr_schedule="cosine", verbose=0)
    longer = zoo.train("softmax_regression", "iris", epochs=2, lr_schedule="cosine", verbose=0)
    assert longer.run_dir.name == "version_1"
    assert [r["epoch"] for r in longer.history] == [0, 1]  # its own curve, from the start


# --- extending a finished run ---------------------------------------------------------------


def test_more_epochs_continue_a_completed_run_from_its_final_state(tmp_path, capsys):
    run_dir = tmp_path / "run"
    short = zoo.train("mlp", "iris", epochs=2, run_dir=run_dir, verbose=0)
    steps = int(short.model.optimizer.iterations) // 2
    curves_before = (run_dir / "curves.png").read_bytes()
    longer = zoo.train("mlp", "iris", epochs=4, run_dir=run_dir, verbose=1)
    assert "(continuing the completed run of 2 epochs to 4 epochs)" in capsys.readouterr().out
    history = read_history(run_dir / "history.csv")
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    assert history[:2] == short.history  # the first two epochs are kept, not retrained
    losses = [r["loss"] for r in history]
    assert losses[3] < losses[2] < losses[1] < losses[0]  # no restart at epoch 2
    assert int(longer.model.optimizer.iterations) == 4 * steps  # Adam's state continued
    state = record(run_dir)
    assert state["settings"]["epochs"] == 4 and state["epochs_done"] == 4
    assert state["status"] == "completed" and not (run_dir / "backup").exists()
    # best.keras is the best epoch over all four.
    best_epoch = min(history, key=lambda r: r["val_loss"])["epoch"]
    assert best_epoch >= 2
    np.testing.assert_array_equal(Run(run_dir).load("best").get_weights()[0],
                                  Run(run_dir).load("final").get_weights()[0])
    assert (run_dir / "curves.png").read_bytes() != curves_before  # redrawn
    # Fewer or equal epochs return the run unchanged.
    again = zoo.train("mlp", "iris", epochs=3, run_dir=run_dir, verbose=0)
    assert len(again.history) == 4 and record(run_dir)["settings"]["epochs"] == 4


# --- early stopping and rate reduction ------------------------------------------------------


def test_early_stopping_completes_the_run_and_records_where_it_stopped(tmp_path):
    # SGD at rate 0.5 overshoots: val_loss rises after epoch 0, and patience 1 stops at 1.
    result = zoo.train("mlp", "iris", epochs=8, optimizer="sgd", learning_rate=0.5,
                       early_stopping=1, run_dir=tmp_path, verbose=0)
    state = record(tmp_path)
    assert state["status"] == "completed" and state["stopped_epoch"] == 1
    assert state["epochs_done"] == 2 and len(result.history) == 2
    assert state["settings"]["early_stopping"] == 1
    assert (tmp_path / "model.keras").is_file()
    # The same command returns the stopped run.
    assert len(zoo.train("mlp", "iris", epochs=8, optimizer="sgd", learning_rate=0.5,
                         early_stopping=1, run_dir=tmp_path, verbose=0).history) == 2


def test_reduce_lr_on_plateau_halves_the_rate_and_the_final_model_keeps_it(tmp_path):
    result = zoo.train("mlp", "iris", epochs=3, optimizer="sgd", learning_rate=0.5,
                       reduce_lr_on_plateau=1, run_dir=tmp_path, verbose=0)
    assert [r["learning_rate"] for r in result.history] == [0.5, 0.5, 0.25]
    assert float(Run(tmp_path).load("final").optimizer.learning_rate) == 0.25
    assert record(tmp_path)["settings"]["reduce_lr_on_plateau"] == 1


def test_reduce_lr_on_plateau_refuses_a_schedule(in_tmp, capsys):
    assert zoo_error(capsys, "train", "mlp", "--data", "iris", "--lr-schedule", "cosine",
                     "--reduce-lr-on-plateau", "2") == (
        "zoo: error: `reduce_lr_on_plateau` lowers a constant learning rate; it cannot change "
        "the 'cosine' schedule. Use one or the other. Received: reduce_lr_on_plateau=2, "
        "lr_schedule='cosine'")
    assert zoo_error(capsys, "train", "mlp", "--data", "iris", "--early-stopping", "0") == (
        "zoo: error: `early_stopping` must be an integer >= 1. Received: early_stopping=0")
    assert list(in_tmp.iterdir()) == []


# --- curves.png and zoo runs ----------------------------------------------------------------


def test_zoo_runs_lists_the_runs_with_settings_status_and_best_value(in_tmp, capsys):
    assert main(["train", "softmax_regression", "--data", "iris", "--epochs", "2",
                 "--verbose", "0"]) == 0
    assert main(["train", "softmax_regression", "--data", "iris", "--epochs", "1", "--lr",
                 "0.1", "--clipnorm", "1", "--verbose", "0"]) == 0
    curves = in_tmp / "runs/softmax_regression-iris/version_0/curves.png"
    assert curves.read_bytes()[:8] == PNG_SIGNATURE and curves.stat().st_size > 10_000
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["folder"], r["epochs"], r["learning_rate"], r["other"], r["status"],
             r["epochs_done"]) for r in rows] == [
        ("runs/softmax_regression-iris/version_0", 2, 0.05, {}, "completed", 2),
        ("runs/softmax_regression-iris/version_1", 1, 0.1, {"clipnorm": 1.0}, "completed", 1)]
    history = read_history(in_tmp / "runs/softmax_regression-iris/version_0/history.csv")
    assert rows[0]["best"] == min(r["val_loss"] for r in history)
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["folder", "model", "dataset", "epochs", "batch", "lr",
                                "optimizer", "other", "status", "done", "best"]
    assert table[2].split()[:10] == ["runs/softmax_regression-iris/version_1",
                                     "softmax_regression", "iris", "1", "32", "0.1", "adam",
                                     "clipnorm=1.0", "completed", "1"]
