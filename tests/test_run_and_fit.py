"""The run folder as one `Run`, one fit path for `zoo.train` and search trials, the
learning-rate default decided once, and the cheaper best checkpoint."""

import dataclasses
import json
import re
import zipfile

import keras
import keras_tuner
import numpy as np
import pytest

import zoo
from tuning import ZooHyperModel
from zoo.registry import ModelSpec
from zoo.tasks import compile_model
from zoo.runtime.plan import plan_data
from zoo.runtime.run import Run, RunFolderError, load_model
from zoo.runtime.training import TrainConfig
from zoo.tasks import get_task


def _trial(model_name, dataset, seed, epochs, batch_size=32, data_options=None, callbacks=()):
    """Build and fit one search trial at the space's default values, as Keras Tuner does."""
    spec = zoo.get_spec(model_name)
    hypermodel = ZooHyperModel(spec, plan_data(spec, dataset, data_options=data_options),
                               batch_size=batch_size, seed=seed)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def test_a_search_trial_trains_exactly_as_zoo_train(tmp_path):
    result = zoo.train("mlp", "digits", epochs=2, seed=3, run_dir=tmp_path, verbose=0)
    trial = _trial("mlp", "digits", seed=3, epochs=2)
    assert len(result.model.weights) == len(trial.weights)
    for ran, tried in zip(result.model.weights, trial.weights):
        np.testing.assert_allclose(np.asarray(ran), np.asarray(tried), rtol=0, atol=1e-6)


def test_train_and_a_trial_both_call_the_task_training_hooks(tmp_path, monkeypatch):
    task = type(get_task(zoo.get_spec("softmax_regression")))
    seen = []

    class Record(keras.callbacks.Callback):
        def __init__(self, where):
            super().__init__()
            self.where = where

        def on_train_begin(self, logs=None):
            seen.append(self.where)

    def training_callbacks(self, spec, model, plan, write_dir):
        return [Record("run" if write_dir is not None else "trial")]

    monkeypatch.setattr(task, "training_callbacks", training_callbacks)
    zoo.train("softmax_regression", epochs=1, run_dir=tmp_path, verbose=0)
    _trial("softmax_regression", None, seed=0, epochs=1)
    assert seen == ["run", "trial"]


def test_a_trial_of_a_stateful_language_model_is_stateful(shakespeare_dir):
    spec = zoo.get_spec("lstm_lm")
    plan = plan_data(spec, "tiny_shakespeare", {"embedding_dim": 8, "units": 8, "layers": 1},
                     {"seq_len": 20, "stateful": True})
    model = ZooHyperModel(spec, plan, batch_size=4).build(keras_tuner.HyperParameters())
    assert model.input_shape == (4, None)
    assert [layer for layer in model.layers if getattr(layer, "stateful", False)]


def test_a_trial_refuses_a_stateful_option_without_a_stateful_mode():
    spec = zoo.get_spec("transformer_lm")
    plan = plan_data(spec, "tiny_shakespeare", data_options={"stateful": True})
    with pytest.raises(ValueError, match=r"^Data option stateful=True carries recurrent state "
                                         r"across batches; transformer_lm has no stateful mode\.$"):
        ZooHyperModel(spec, plan).build(keras_tuner.HyperParameters())


def test_run_reads_settings_status_history_checkpoints_and_plan(tmp_path):
    result = zoo.train("softmax_regression", epochs=2, run_dir=tmp_path / "run", verbose=0)
    run = Run(tmp_path / "run")
    assert run.exists() and run.status == "completed"
    assert run.settings["epochs"] == 2 and run.settings["model"] == "softmax_regression"
    assert [row["epoch"] for row in run.history()] == [0, 1]
    assert run.checkpoint("best") == tmp_path / "run" / "best.keras"
    assert run.checkpoint("final") == tmp_path / "run" / "model.keras"
    spec, plan = run.plan()
    assert spec.name == "softmax_regression" and plan.builder_args == result.plan.builder_args
    np.testing.assert_array_equal(run.load("final").get_weights()[0],
                                  result.model.get_weights()[0])
    with pytest.raises(ValueError, match=r"^`checkpoint` must be one of 'best', 'final'\. "
                                         r"Received: checkpoint='last'$"):
        run.checkpoint("last")


def test_run_names_a_folder_that_is_no_run_folder(tmp_path):
    with pytest.raises(RunFolderError, match=re.escape(
            f"{tmp_path / 'missing'} is not a run folder (it does not exist). A run folder is "
            "what `zoo train` writes")):
        Run(tmp_path / "missing").settings
    (tmp_path / "run.json").write_text("[]")
    with pytest.raises(ValueError, match=re.escape(
            f"{tmp_path / 'run.json'} is corrupt: not the JSON that `zoo train` writes "
            '(no "settings" object).')):
        Run(tmp_path).record()


def test_run_refuses_other_settings_with_the_exact_message(tmp_path):
    run = Run(tmp_path)
    settings = {"model": "mlp", "epochs": 2, "batch_size": 32}
    run.write_record(settings, "completed")
    assert json.loads((tmp_path / "run.json").read_text()) == {"settings": settings,
                                                                "status": "completed"}
    assert run.is_completed() is False  # completed, but no model.keras
    # Other epochs are the same run (a rerun resumes or extends it); other settings are not.
    assert run.check_settings({**settings, "epochs": 3})["status"] == "completed"
    with pytest.raises(ValueError, match=re.escape(
            f"Run folder {tmp_path} holds a run with other settings (differs in: batch_size). "
            "Use another --run-dir, or delete that folder.")):
        run.check_settings({**settings, "epochs": 3, "batch_size": 8})


def test_the_learning_rate_default_is_decided_once(tmp_path, monkeypatch):
    monkeypatch.setattr(ModelSpec, "default_learning_rate",
                        lambda self, optimizer=None: 0.0123)
    spec = zoo.get_spec("softmax_regression")
    zoo.train("softmax_regression", epochs=1, run_dir=tmp_path, verbose=0)
    assert Run(tmp_path).settings["learning_rate"] == 0.0123
    model = compile_model(zoo.build("softmax_regression"), spec)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)
    assert spec.learning_rates == {spec.optimizer: 0.0123}
    assert TrainConfig().resolved(spec).learning_rate == 0.0123
    hypermodel = ZooHyperModel(spec, plan_data(spec))
    assert hypermodel.trial_config(keras_tuner.HyperParameters()).learning_rate == pytest.approx(
        0.0123)


def test_the_train_config_is_frozen_and_checked():
    config = TrainConfig(epochs=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3
    with pytest.raises(ValueError, match=r"^`epochs` must be an integer >= 1\. Received: epochs=0$"):
        TrainConfig(epochs=0, learning_rate=0.1, optimizer="adam").check()


def test_best_and_final_checkpoints_hold_their_epochs_with_the_optimizer(tmp_path):
    result = zoo.train("softmax_regression", epochs=3, run_dir=tmp_path, verbose=0)
    best_row = min(result.history, key=lambda row: row["val_loss"])
    best = load_model(tmp_path / "best.keras")
    plan = result.plan
    evaluated = best.evaluate(plan.load(plan.validation_split, 32), verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(best_row["val_loss"], rel=1e-5)
    steps = int(result.model.optimizer.iterations) // 3
    assert int(best.optimizer.iterations) == steps * (best_row["epoch"] + 1)
    final = load_model(tmp_path / "model.keras")
    for saved, trained in zip(final.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(saved, trained)
    assert int(final.optimizer.iterations) == int(result.model.optimizer.iterations)
    for name in ("best.keras", "model.keras"):
        with zipfile.ZipFile(tmp_path / name) as archive:
            assert sorted(archive.namelist()) == ["config.json", "metadata.json",
                                                  "model.weights.h5"]
    assert not (tmp_path / "backup").exists()


def test_a_trial_checkpoint_holds_its_best_epoch(tmp_path):
    import tuning

    result = tuning.search("softmax_regression", tuner="random", max_trials=1, epochs=3,
                           directory=tmp_path, verbose=0)
    (model,) = result.tuner.get_best_models(1)
    plan = result.hypermodel.plan
    validation = plan.load(plan.validation_split, result.hypermodel.batch_size)
    evaluated = model.evaluate(validation, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(result.best_score, rel=1e-5)


def _batch_ends_may_run_async(callback) -> bool:
    """Keras reads the logs after every batch, on the training thread, unless each
    callback's batch-end hooks are its empty defaults or it says `async_safe`."""
    empty = all(getattr(type(callback), hook) is getattr(keras.callbacks.Callback, hook)
                for hook in ("on_batch_end", "on_train_batch_end", "on_test_batch_end"))
    return empty or getattr(callback, "async_safe", False)


def _fit_callbacks(monkeypatch) -> list:
    """The callbacks of every `model.fit` call from now on, as lists."""
    seen, fit = [], keras.Model.fit

    def spy(self, *args, **kwargs):
        seen.append(list(kwargs.get("callbacks") or []))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    return seen


def test_zoo_train_and_a_trial_keep_batch_ends_off_the_training_thread(tmp_path, monkeypatch):
    """The run folder's callbacks (backup, best checkpoint, CSV, TensorBoard) and Keras
    Tuner's trial callbacks cost no per-batch work a bare `model.fit` does not do."""
    import tuning

    seen = _fit_callbacks(monkeypatch)
    zoo.train("softmax_regression", epochs=1, run_dir=tmp_path / "run", verbose=0)
    tuning.search("softmax_regression", max_trials=1, epochs=1, directory=tmp_path / "search",
                  verbose=0)
    train, trial = seen
    assert len(train) == 4 and all(_batch_ends_may_run_async(c) for c in train), train
    kinds = {type(c).__name__ for c in trial}
    assert {"TunerCallback", "BestEpochAtEnd"} <= kinds and "SaveBestEpoch" not in kinds
    assert all(_batch_ends_may_run_async(c) for c in trial), trial
    # The TensorBoard logs are still written, once per epoch.
    assert list((tmp_path / "run" / "logs").rglob("events.out.tfevents.*"))
