"""`zoo train` hardening (issue 12): bad input is refused before anything is
written, the run folder stays under `runs/`, and targets must fit the model."""

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo.cli import main
from zoo.runtime.run import read_history

CHAR_RNN_SMALL = {"units": 8, "embedding_dim": 8, "layers": 1}


def zoo_error(capsys, *argv) -> str:
    """Run `zoo ARGV` in this process; it must fail with exit code 2: its stderr."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    return err


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- 1. The run folder of a dataset path stays one folder under runs/ ---------------------


def test_run_folder_of_a_dataset_path_stays_under_runs(tmp_path, monkeypatch, shakespeare_dir):
    corpus = tmp_path / "corpus" / "tiny.txt"
    corpus.parent.mkdir()
    corpus.write_text((shakespeare_dir / "input.txt").read_text()[:6000])
    cwd = tmp_path / "a" / "b" / "c" / "d"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    data = "../../../../corpus/tiny.txt"
    result = zoo.train("char_rnn", data, epochs=1, overrides=CHAR_RNN_SMALL,
                       data_options={"seq_len": 20}, verbose=0)
    assert result.run_dir == Path("runs") / "char_rnn-corpus_tiny.txt-a774862a" / "version_0"
    assert (cwd / result.run_dir / "model.keras").is_file()
    assert [p.name for p in (tmp_path / "a" / "b" / "c").iterdir()] == ["d"]
    assert [p.name for p in cwd.iterdir()] == ["runs"]
    assert [p.name for p in (cwd / "runs").iterdir()] == [result.run_dir.parent.name]
    # The settings keep the dataset as given, so the same command finds its run again.
    assert json.loads((cwd / result.run_dir / "run.json").read_text())["settings"]["dataset"] == data
    again = zoo.train("char_rnn", data, epochs=1, overrides=CHAR_RNN_SMALL,
                      data_options={"seq_len": 20}, verbose=0)
    assert again.run_dir == result.run_dir and len(again.history) == 1


# --- 2. Everything is checked before the run folder is created ----------------------------


@pytest.mark.parametrize("argv, error", [
    (["--set", "dropout_rate=1.5"],
     "`dropout_rate` must be a float in [0, 1). Received: dropout_rate=1.5"),
    (["--export", "--name", "a\\b"],
     "`name` must be a plain folder name: letters, digits, '.', '_' or '-', not starting "
     "with a dot. Received: name='a\\\\b'"),
    (["--export", "--name", ""],
     "`name` must be a plain folder name: letters, digits, '.', '_' or '-', not starting "
     "with a dot. Received: name=''"),
], ids=["builder-argument", "export-name", "empty-export-name"])
def test_a_refused_command_leaves_no_run_folder(in_tmp, capsys, argv, error):
    assert zoo_error(capsys, "train", "mlp", "--data", "iris", "--epochs", "1",
                     *argv) == f"zoo: error: {error}"
    assert list(in_tmp.iterdir()) == []


def test_a_model_without_a_stateful_mode_leaves_no_run_folder(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question. " * 40)
    with pytest.raises(ValueError, match=r"^Data option stateful=True carries recurrent state "
                                         r"across batches; transformer_lm has no stateful mode\.$"):
        zoo.train("transformer_lm", str(corpus), data_options={"stateful": True, "seq_len": 8},
                  run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_unavailable_data_leaves_no_run_folder(in_tmp, capsys):
    error = zoo_error(capsys, "train", "mlp", "--data", "mnist", "--data-dir", "tfds")
    assert error.startswith("zoo: error: Dataset 'mnist' is not prepared in data_dir tfds.")
    assert not (in_tmp / "runs").exists()


def test_after_a_refused_command_the_corrected_one_trains(in_tmp, capsys):
    zoo_error(capsys, "train", "mlp", "--epochs", "1", "--set", "dropout_rate=1.5")
    assert main(["train", "mlp", "--epochs", "1", "--set", "dropout_rate=0.5",
                 "--verbose", "0"]) == 0
    assert "Run folder: runs/mlp-digits/version_0\n" in capsys.readouterr().out  # a plain name
    state = json.loads((in_tmp / "runs" / "mlp-digits" / "version_0" / "run.json").read_text())
    assert state["status"] == "completed"


class FailAt(keras.callbacks.Callback):
    """Raise in the given epoch's first batch."""

    def __init__(self, epoch):
        super().__init__()
        self.fail_epoch, self.epoch = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.fail_epoch:
            raise RuntimeError(f"boom in epoch {self.epoch}")


def test_a_failure_before_the_first_epoch_ends_removes_what_the_run_created(tmp_path):
    kept = tmp_path / "kept"  # an existing folder: only the new files go
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    for run_dir in (tmp_path / "runs" / "new", kept):
        with pytest.raises(RuntimeError, match="boom in epoch 0"):
            zoo.train("softmax_regression", epochs=2, run_dir=run_dir, callbacks=[FailAt(0)],
                      verbose=0)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]
    # A finished epoch is never removed: the rerun resumes after it.
    with pytest.raises(RuntimeError, match="boom in epoch 1"):
        zoo.train("softmax_regression", epochs=2, run_dir=kept, callbacks=[FailAt(1)], verbose=0)
    assert len(read_history(kept / "history.csv")) == 1
    assert zoo.train("softmax_regression", epochs=2, run_dir=kept, verbose=0).resumed_from_epoch == 1


# --- 3. Bad numbers are refused -----------------------------------------------------------


@pytest.mark.parametrize("argv, error", [
    (["--lr", "-1"], "`learning_rate` must be a finite number > 0. Received: learning_rate=-1.0"),
    (["--lr", "0"], "`learning_rate` must be a finite number > 0. Received: learning_rate=0.0"),
    (["--lr", "nan"], "`learning_rate` must be a finite number > 0. Received: learning_rate=nan"),
    (["--weight-decay=-1e-4"],
     "`weight_decay` must be a finite number >= 0. Received: weight_decay=-0.0001"),
    (["--weight-decay", "inf"],
     "`weight_decay` must be a finite number >= 0. Received: weight_decay=inf"),
    (["--epochs", "0"], "`epochs` must be an integer >= 1. Received: epochs=0"),
    (["--batch-size", "-2"], "`batch_size` must be an integer >= 1. Received: batch_size=-2"),
])
def test_bad_numbers_are_refused(in_tmp, capsys, argv, error):
    assert zoo_error(capsys, "train", "softmax_regression", *argv) == f"zoo: error: {error}"
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("rate", [-1, 0, float("inf"), True, "0.1"])
def test_train_refuses_a_learning_rate_that_is_not_a_positive_number(tmp_path, rate):
    with pytest.raises(ValueError, match=re.escape(
            f"`learning_rate` must be a finite number > 0. Received: learning_rate={rate!r}")):
        zoo.train("softmax_regression", learning_rate=rate, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --- 4. Targets that do not fit the model's task ------------------------------------------


@pytest.fixture
def series_csv(tmp_path):
    """A CSV time series with a float `label` column (`csv_series` format)."""
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in rng.uniform(0, 3, size=(120, 2)))
    path = tmp_path / "wine.csv"
    path.write_text("a,label\n" + rows + "\n")
    return path


def test_a_classifier_refuses_float_targets(in_tmp, capsys, series_csv):
    error = zoo_error(capsys, "train", "mlp", "--data", "csv_series",
                      "--data-option", f"path={series_csv}", "--data-option", "target=label")
    assert error == (
        "zoo: error: Model 'mlp' is a classifier (task 'classification'), but dataset "
        "'csv_series' has float targets (task 'regression'). Choose a model of task "
        "'regression' or 'sequence_forecasting' for it (`zoo list` shows each model's task).")
    assert [p.name for p in in_tmp.iterdir()] == ["wine.csv"]


def test_a_classifier_refuses_more_classes_than_its_head_has(in_tmp, capsys):
    error = zoo_error(capsys, "train", "mlp", "--set", "classes=3")
    assert error == (
        "zoo: error: Model 'mlp' has classes=3 outputs, but dataset 'digits' has class labels "
        "(task 'classification', 10 classes): labels 3..9 do not fit its head. Leave `classes` "
        "unset (it follows the data) or set classes=10.")
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("model, dataset, error", [
    ("linear_regression", "iris",
     "Model 'linear_regression' is a regressor (task 'regression'), but dataset 'iris' has "
     "class labels (task 'classification', 3 classes). Choose a model of task "
     "'classification' or 'image_classification' for it (`zoo list` shows each model's task)."),
    ("logistic_regression", "iris",
     "Model 'logistic_regression' is a binary classifier (task 'binary_classification'), but "
     "dataset 'iris' has class labels (task 'classification', 3 classes). Choose a model of "
     "task 'classification' or 'image_classification' for it (`zoo list` shows each model's "
     "task)."),
    ("logistic_regression", "linear_1d",
     "Model 'logistic_regression' is a binary classifier (task 'binary_classification'), but "
     "dataset 'linear_1d' has float targets (task 'regression'). Choose a model of task "
     "'regression' or 'sequence_forecasting' for it (`zoo list` shows each model's task)."),
], ids=["regressor-on-labels", "binary-on-3-classes", "binary-on-floats"])
def test_targets_must_fit_the_models_task(model, dataset, error):
    from zoo.runtime.plan import plan_data

    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        plan_data(zoo.get_spec(model), dataset)


@pytest.mark.parametrize("model, dataset", [
    ("mlp", "gates"), ("mlp", "iris"), ("logistic_regression", "gates"),
    ("linear_regression", "linear_1d"), ("linear_regression", "logistic_2d"), ("rnn_regressor", "adding_problem"),
    ("rnn_classifier", "temporal_order"),
])
def test_targets_that_fit_are_accepted(model, dataset):
    from zoo.runtime.plan import plan_data

    plan_data(zoo.get_spec(model), dataset)


# --- 5. Suggestions name each candidate once ----------------------------------------------


def test_close_builder_arguments_are_suggested_once():
    with pytest.raises(zoo.registry.ArgumentError) as raised:
        zoo.get_spec("mlp").resolve_args({"widht": 1, "witdh": 2})
    assert str(raised.value).startswith(
        "mlp() got unexpected argument(s) widht, witdh. Did you mean: width? Accepted")


def test_close_dataset_names_are_suggested_once(in_tmp, capsys):
    error = zoo_error(capsys, "train", "mlp", "--data", "iriss")
    suggested = re.fullmatch(r"zoo: error: Unknown dataset 'iriss': not built in and not in the "
                             r"TFDS catalog\. Did you mean: (.*)\? See pipelines\.list_datasets\(\)\.",
                             error).group(1).split(", ")
    assert suggested[0] == "iris"  # both built in and a TFDS name
    assert len(suggested) == len(set(suggested))
