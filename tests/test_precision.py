"""Mixed precision and XLA for every family: a few XLA-compiled training steps under the
mixed_bfloat16 policy, float32 outputs and losses, exact `.keras` round trips.

One model per (family, task), as in tests/test_models.py; the cheap ones run by
default, the others (XLA compiles of deep or recurrent graphs take 5-20 s each on
2 cores) in the slow suite.
"""

import json

import keras
import numpy as np
import pytest

import zoo
from zoo.runtime import precision
from zoo.tasks import compile_model
from zoo.runtime.run import load_model
from zoo.tasks import get_task

from test_models import _fixed_batch, _representatives


def _one_per_family() -> list[str]:
    """The harness's representative of each (family, task), or, for families whose
    every model is large (AlexNet, GoogLeNet, VGG), their first model."""
    chosen = {(zoo.get_spec(n).family, zoo.get_spec(n).task): n
              for n in sorted(_representatives())}
    for name in zoo.list_models():
        spec = zoo.get_spec(name)
        chosen.setdefault((spec.family, spec.task), name)
    return sorted(chosen.values())


DEFAULT_RUN = {"softmax_regression", "mlp", "lenet5", "rnn_regressor"}
FAMILIES = [n if n in DEFAULT_RUN else pytest.param(n, marks=pytest.mark.slow)
            for n in _one_per_family()]


def _flat(out):
    return [np.asarray(t) for t in keras.tree.flatten(out)]


@pytest.mark.parametrize("name", FAMILIES)
def test_mixed_bfloat16_with_xla_trains_with_float32_outputs(name, tmp_path):
    spec = zoo.get_spec(name)
    keras.utils.set_random_seed(0)
    task = get_task(spec)
    plan, x, y = _fixed_batch(spec, batch_size=8)
    with precision.dtype_policy("mixed_bfloat16"):
        model = spec.builder(**(spec.test_args if plan is None else plan.builder_args))
        changed = precision.float32_outputs(model)
        step = task.training_step(spec, model, x)  # a task that trains without model.fit
        if step is None:
            compile_model(model, spec, jit_compile=True)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert {v.dtype for v in model.trainable_weights} <= {"float32"}  # master weights
    if len(model.layers) > 3:  # more than the output layer computes in bfloat16
        assert any(l.compute_dtype == "bfloat16" for l in model.layers), changed
    if step is not None:
        losses = [step()["loss"] for _ in range(2)]
        assert all(np.isfinite(np.asarray(losses, "float32"))), losses
    elif not task.trained_by_gradients:
        assert model.jit_compile is True
        task.fit_without_gradients(spec, model, plan, seed=0)
    else:
        assert model.jit_compile is True
        for _ in range(3):
            logs = model.train_on_batch(x, y, return_dict=True)
            losses = {k: v for k, v in logs.items() if "loss" in k}
            assert losses and all(np.isfinite(v) for v in losses.values()), logs
    x = task.forward_inputs(spec, model, x)
    out = model(x)
    assert {keras.backend.standardize_dtype(t.dtype) for t in keras.tree.flatten(out)} == {"float32"}
    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")  # under float32 global policy
    for a, b in zip(_flat(out), _flat(reloaded(x))):
        np.testing.assert_array_equal(a, b)


def test_train_records_mixed_precision_only_when_set(tmp_path):
    result = zoo.train("softmax_regression", epochs=1, mixed_precision=True, jit_compile=True,
                       run_dir=tmp_path / "mixed", verbose=0)
    state = json.loads((tmp_path / "mixed" / "run.json").read_text())
    assert state["settings"]["mixed_precision"] == "mixed_bfloat16"
    assert state["distribution"]["jit_compile"] is True and result.model.jit_compile is True
    assert keras.mixed_precision.global_policy().name == "float32"
    assert result.model.get_layer("softmax_regression_dense").compute_dtype == "float32"
    zoo.train("softmax_regression", epochs=1, run_dir=tmp_path / "plain", verbose=0)
    plain = json.loads((tmp_path / "plain" / "run.json").read_text())["settings"]
    # Runs from before the option resume: no new key unless it is used.
    assert "mixed_precision" not in plain
    with pytest.raises(ValueError, match=r"differs in: mixed_precision"):
        zoo.train("softmax_regression", epochs=1, run_dir=tmp_path / "plain", verbose=0,
                  mixed_precision=True)
    with pytest.raises(ValueError, match=r"`jit_compile` must be True, False or 'auto'\. "
                                         r"Received: jit_compile='yes'"):
        zoo.train("softmax_regression", jit_compile="yes", run_dir=tmp_path / "x")
