"""Training runs: layout, resume after SIGKILL, completed and conflicting runs."""

import json
import subprocess
import sys

import pytest

import zoo
from zoo.runtime.run import read_history

from conftest import sigkill_after_epochs, zoo_env


def test_train_writes_the_run_layout(tmp_path):
    result = zoo.train("softmax_regression", epochs=3, run_dir=tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    assert result.run_dir == run
    assert (run / "model.keras").exists() and (run / "best.keras").exists()
    assert any((run / "logs").rglob("events.out.tfevents.*"))
    assert not (run / "backup").exists()  # removed once training completed
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [0, 1, 2]
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed"
    assert state["settings"]["builder_args"]["input_shape"] == [4]
    losses = [r["loss"] for r in result.history]
    assert losses[-1] < losses[0]


def test_rerunning_a_completed_run_returns_it(tmp_path, capsys):
    zoo.train("softmax_regression", epochs=2, run_dir=tmp_path, verbose=0)
    again = zoo.train("softmax_regression", epochs=2, run_dir=tmp_path, verbose=1)
    assert "already complete" in capsys.readouterr().out
    assert len(again.history) == 2


def test_a_run_folder_with_other_settings_is_refused(tmp_path):
    zoo.train("softmax_regression", epochs=2, run_dir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match=r"holds a run with other settings \(differs in: batch_size\)"):
        zoo.train("softmax_regression", epochs=3, batch_size=8, run_dir=tmp_path, verbose=0)


def test_training_adapts_the_model_to_the_data(tmp_path):
    result = zoo.train("mlp", "iris", epochs=1, run_dir=tmp_path, verbose=0)
    assert result.model.input_shape == (None, 4)
    assert result.model.output_shape == (None, 3)
    lenet = zoo.train("lenet5", "digits", epochs=1, run_dir=tmp_path / "l", verbose=0)
    assert lenet.model.input_shape == (None, 32, 32, 1)  # 8x8 digits resized up


def test_sigkill_mid_training_then_rerun_resumes_without_losing_epochs(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "zoo.cli", "train", "mlp", "--data", "digits",
           "--epochs", "40", "--batch-size", "16", "--run-dir", str(run_dir)]
    env = zoo_env()
    seen = sigkill_after_epochs(cmd, run_dir, 3, cwd=tmp_path, env=env, timeout=120)
    assert seen >= 3
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    resumed = int(rerun.stdout.split("resuming after epoch ")[1].split(")")[0])
    assert resumed >= seen  # no finished epoch was lost
    history = read_history(run_dir / "history.csv")
    assert [r["epoch"] for r in history] == list(range(40))
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


def test_cosine_schedule_decays_the_learning_rate_to_zero(tmp_path):
    result = zoo.train("softmax_regression", epochs=3, lr_schedule="cosine",
                       learning_rate=0.1, run_dir=tmp_path, verbose=0)
    optimizer = result.model.optimizer
    final_rate = float(optimizer.learning_rate)  # evaluated at the last step
    assert final_rate < 1e-6
    assert json.loads((tmp_path / "run.json").read_text())["settings"]["lr_schedule"] == "cosine"
    with pytest.raises(ValueError, match=r"`lr_schedule` must be one of 'constant', 'cosine'\. Received: lr_schedule='step'"):
        zoo.train("softmax_regression", lr_schedule="step", run_dir=tmp_path / "x")


def test_training_on_a_tfds_dataset_carves_validation_from_train(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=64):
        result = zoo.train("lenet5", "mnist", epochs=1, run_dir=tmp_path, verbose=0)
    assert (result.plan.train_split, result.plan.validation_split) == ("train[:90%]", "train[90%:]")
    assert result.model.input_shape == (None, 32, 32, 1)  # 28x28 MNIST resized up
    assert "val_loss" in result.history[0]


def test_optimizer_and_weight_decay_are_chosen_and_recorded(tmp_path):
    # The smallest CIFAR ResNet at digits' own 8x8 pixels: the optimizer is under test.
    result = zoo.train("resnet_cifar", "digits", epochs=1, optimizer="momentum",
                       weight_decay=1e-4, overrides={"depth": 8, "input_shape": (8, 8, 1)},
                       run_dir=tmp_path, verbose=0)
    settings = json.loads((tmp_path / "run.json").read_text())["settings"]
    # The spec's learning rate for SGD with momentum, not Adam's.
    assert (settings["optimizer"], settings["learning_rate"], settings["weight_decay"]) == (
        "momentum", 0.1, 1e-4)
    opt = result.model.optimizer
    assert type(opt).__name__ == "SGD"
    assert float(opt.momentum) == 0.9 and float(opt.weight_decay) == pytest.approx(1e-4)


def test_unknown_optimizer_fails_before_the_run_folder_exists(tmp_path):
    with pytest.raises(ValueError, match=r"^Unknown optimizer 'adamm'\. Expected a Keras "
                                         r"optimizer name \(e\.g\. adam, adamw, sgd, rmsprop\) "
                                         r"or one of: momentum, gan_adam\.$"):
        zoo.train("mlp", "digits", optimizer="adamm", run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
