"""Greedy layer-wise pre-training (`stacked_autoencoder`): pre-training, fine-tuning, resume."""

import keras
import numpy as np
import pytest

import zoo
from zoo.models.stacked_autoencoder import hidden_layers, layer_gradient_norms
from zoo.tasks import get_task
from zoo.runtime.plan import plan_data

NAME = "stacked_autoencoder"
SMALL = {"depth": 2, "width": 32, "pretrain_epochs": 2}


def pretrain_from_plan(model, plan, **kwargs):
    """The stacked autoencoder's task hook: greedy layer-wise pre-training."""
    spec = zoo.get_spec(NAME)
    return get_task(spec).pretrain(spec, model, plan, **kwargs)


def _plan(**overrides):
    return plan_data(zoo.get_spec(NAME), overrides={**SMALL, **overrides})


def test_pretraining_then_fine_tuning_runs_end_to_end_on_digits(tmp_path, capsys):
    result = zoo.train(NAME, "digits", epochs=3, overrides=SMALL, run_dir=tmp_path, verbose=1)
    assert "Pre-trained stacked_autoencoder: {'stacked_autoencoder_hidden1'" in capsys.readouterr().out
    assert result.history[-1]["val_accuracy"] > 0.5  # chance is 0.1
    test = result.plan.load("test", 64)
    assert result.model.evaluate(test, verbose=0, return_dict=True)["accuracy"] > 0.5


# Pixels in [0, 1] and sigmoid codes get sigmoid decoders with cross-entropy; tanh codes,
# in (-1, 1), a linear decoder with squared error.
@pytest.mark.parametrize("corruption, activation, losses", [
    (0.0, "sigmoid", ["binary_crossentropy", "binary_crossentropy"]),
    (0.25, "tanh", ["binary_crossentropy", "mse"]),
])
def test_pretraining_changes_the_first_layer_and_lowers_each_reconstruction_loss(
        corruption, activation, losses):
    plan = _plan(corruption=corruption, activation=activation)
    keras.utils.set_random_seed(0)
    model = zoo.get_spec(NAME).builder(**plan.builder_args)
    first = hidden_layers(model)[0]
    before = np.array(first.kernel)
    output_before = np.array(model.layers[-1].kernel)
    report = pretrain_from_plan(model, plan, seed=0, batch_size=32)
    assert list(report) == [f"{NAME}_hidden1", f"{NAME}_hidden2"]
    assert [r["loss"] for r in report.values()] == losses
    for layer, r in report.items():
        assert r["final"] < r["initial"], (layer, r)
    assert not np.allclose(before, np.array(first.kernel))
    np.testing.assert_array_equal(output_before, np.array(model.layers[-1].kernel))


def test_zero_pretrain_epochs_leaves_the_random_initialisation():
    plan = _plan(pretrain_epochs=0)
    model = zoo.get_spec(NAME).builder(**plan.builder_args)
    weights = [np.array(w) for w in model.weights]
    assert pretrain_from_plan(model, plan) == {}
    for w, after in zip(weights, model.weights):
        np.testing.assert_array_equal(w, np.array(after))


def test_gradient_norms_one_finite_norm_per_dense_layer():
    plan = _plan(depth=3)
    model = zoo.get_spec(NAME).builder(**plan.builder_args)
    x, y = next(iter(plan.load(plan.train_split, 64)))
    norms = layer_gradient_norms(model, x, y)
    assert list(norms) == [f"{NAME}_hidden1", f"{NAME}_hidden2", f"{NAME}_hidden3",
                           f"{NAME}_predictions"]
    assert all(np.isfinite(v) and v > 0 for v in norms.values())


def test_bad_pretraining_arguments_name_the_value_received():
    with pytest.raises(ValueError, match=r"`pretrain_epochs` must be an integer >= 0\. "
                                         r"Received: pretrain_epochs=-1"):
        zoo.build(NAME, pretrain_epochs=-1)
    with pytest.raises(ValueError, match=r"Received: corruption=1\.0"):
        zoo.build(NAME, corruption=1.0)
    plain = zoo.build("mlp")
    with pytest.raises(ValueError, match="Model 'mlp' carries no pre-training settings"):
        pretrain_from_plan(plain, _plan())


class _Interrupt(keras.callbacks.Callback):
    """Raises after the first epoch, once BackupAndRestore has saved it."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def _count_pretraining(monkeypatch):
    spec = zoo.get_spec(NAME)
    task = get_task(spec)
    pretrain, calls = task.pretrain, []

    def counting(spec, model, plan, **kwargs):
        calls.append(model.name)
        return pretrain(spec, model, plan, **kwargs)

    monkeypatch.setattr(task, "pretrain", counting)
    return spec, calls


def test_a_resumed_run_does_not_pretrain_again(tmp_path, monkeypatch):
    _, calls = _count_pretraining(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        zoo.train(NAME, epochs=2, overrides=SMALL, run_dir=tmp_path, verbose=0,
                  callbacks=[_Interrupt()])
    assert calls == [NAME]
    result = zoo.train(NAME, epochs=2, overrides=SMALL, run_dir=tmp_path, verbose=0)
    assert result.resumed_from_epoch == 1
    assert calls == [NAME]  # not pre-trained again: the backup holds the fine-tuned weights
    assert [row["epoch"] for row in result.history] == [0, 1]


def test_search_trials_pretrain_except_a_hyperband_trial_continuing_a_checkpoint(monkeypatch):
    import keras_tuner

    from tuning.hypermodel import ZooHyperModel

    _, calls = _count_pretraining(monkeypatch)
    hypermodel = ZooHyperModel(zoo.get_spec(NAME), _plan())
    hp = keras_tuner.HyperParameters()
    for key, value in SMALL.items():  # a small trial: the space keeps fixed values
        hp.Fixed(key, value)
    hypermodel.fit(hp, hypermodel.build(hp), epochs=1, verbose=0)
    assert calls == [NAME]
    hp.Fixed("tuner/trial_id", "0")  # Hyperband loads that trial's weights in build()
    hypermodel.fit(hp, hypermodel.build(hp), epochs=1, verbose=0)
    assert calls == [NAME]
