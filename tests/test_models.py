"""One harness over every registered model: build, shapes, training, round trips.

The parameter list comes from the registry, so every model registered later
is covered without touching this file.
"""

import keras
import numpy as np
import pytest

import zoo
from zoo.runtime.exporter import export_trained
from zoo.tasks import compile_model
from zoo.runtime.run import load_model
from zoo.runtime.plan import plan_data
from zoo.tasks import get_task

from conftest import TINY_SHAKESPEARE_DIR
from format_checks import all_layers, check_formats, model_at_test_size

MODELS = zoo.list_models()
# Large models (spec.large) are built and checked by default, but trained and
# exported only in the slow suite (`pytest -m slow`) to keep the default run short.
HEAVY = [
    pytest.param(n, marks=pytest.mark.slow) if zoo.get_spec(n).large else n for n in MODELS
]


def _representatives() -> set[str]:
    """The first model (by name) that is not large of each (family, task)."""
    chosen = {}
    for name in MODELS:
        spec = zoo.get_spec(name)
        if not spec.large:
            chosen.setdefault((spec.family, spec.task), name)
    return set(chosen.values())


def _task_representatives() -> set[str]:
    """The first model (by name) that is not large of each task.

    A search trial runs the same `tuning.search` code for every model; what
    differs is the space, which `test_every_registered_search_space_is_valid`
    checks for every model. So the default run searches one model per task.
    """
    chosen = {}
    for name in MODELS:
        spec = zoo.get_spec(name)
        if not spec.large:
            chosen.setdefault(spec.task, name)
    return set(chosen.values())


TASK_REPRESENTATIVES = _task_representatives()
# Exported by default: one model per task (the task owns the export's signatures and
# checks; every family's graph is built, trained and round-tripped above); all in the
# slow suite.
EXPORT = [
    n if n in TASK_REPRESENTATIVES else pytest.param(n, marks=pytest.mark.slow)
    for n in MODELS
]
# Searched by default: one model per task; all in the slow suite.
SEARCH = [
    n if n in TASK_REPRESENTATIVES else pytest.param(n, marks=pytest.mark.slow)
    for n in MODELS
]


def _random_input(model, spec, batch=3, steps=12):
    """Random inputs for the model's input spec, as its task makes them."""
    return get_task(spec).example_batch(spec, model, batch, steps)


def _fixed_batch(spec, batch_size=32):
    """(plan, inputs, targets): a batch of the model's test dataset. A model without a
    dataset (style transfer) has no plan and no targets: its task's example inputs."""
    if spec.test_dataset is None:
        model = zoo.build(spec.name, **spec.test_args)
        return None, get_task(spec).example_batch(spec, model, batch=2), None
    plan = plan_data(spec, spec.test_dataset, overrides=spec.test_args)
    x, y = next(iter(plan.load(plan.train_split, batch_size, seed=0)))
    return plan, keras.tree.map_structure(np.asarray, x), y.numpy()


def _build(spec, plan):
    """The model with the plan's builder arguments (its test arguments without a plan)."""
    return spec.builder(**(spec.test_args if plan is None else plan.builder_args))


def _shapes(outputs):
    return keras.tree.map_structure(lambda t: tuple(t.shape), outputs)


@pytest.mark.parametrize("name", MODELS)
def test_builds_with_defaults_and_declared_output_shape(name):
    spec = zoo.get_spec(name)
    model = zoo.build(name)
    assert model.name == spec.defaults.get("name", name)
    batch = _random_input(model, spec)
    shape = next(iter(batch.values())).shape if isinstance(batch, dict) else batch.shape
    assert _shapes(model(batch)) == get_task(spec).output_shape(spec.defaults, shape)
    assert spec.reference and spec.summary
    # No Lambda layers anywhere: every layer must survive safe-mode loading.
    assert not any(isinstance(l, keras.layers.Lambda) for l in all_layers(model))
    # The spec's search space only names builder arguments.
    if spec.search_space is not None:
        import keras_tuner

        args = spec.search_space(keras_tuner.HyperParameters())
        assert set(args) <= set(spec.defaults)


@pytest.mark.parametrize("name", HEAVY)
def test_few_steps_on_a_fixed_batch_lower_the_loss(name):
    spec = zoo.get_spec(name)
    task = get_task(spec)
    keras.utils.set_random_seed(0)
    plan, x, y = _fixed_batch(spec, batch_size=16)
    model = _build(spec, plan)
    step = task.training_step(spec, model, x)  # a task that trains without model.fit
    if step is not None:
        losses = [step()["loss"] for _ in range(20)]
        assert min(losses[-3:]) < losses[0], f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}"
        return
    compile_model(model, spec)
    if not task.trained_by_gradients:  # its own fit must lower the loss instead
        before = model.evaluate(x, y, verbose=0)
        task.fit_without_gradients(spec, model, plan, seed=0)
        after = model.evaluate(x, y, verbose=0)
        assert after < before, f"{name}: loss {before:.4f} -> {after:.4f} after its fit"
        return
    # The log that must fall (a GAN freezes its generator and watches its discriminator).
    key = task.fit_loss_key(model)
    # Training-mode losses (train_on_batch reports the loss before its update):
    # inference-mode losses of batch-norm networks lag behind their moving statistics.
    losses = [model.train_on_batch(x, y, return_dict=True)[key] for _ in range(20)]
    before, after = losses[0], min(losses[-3:])
    assert after < before, f"{name}: loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("name", HEAVY)
def test_keras_file_round_trip_in_safe_mode(name, tmp_path):
    spec = zoo.get_spec(name)
    plan, x, _ = _fixed_batch(spec, batch_size=8)
    model = _build(spec, plan)
    x = get_task(spec).forward_inputs(spec, model, x)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = load_model(path)
    for expected, value in zip(keras.tree.flatten(model(x)), keras.tree.flatten(reloaded(x))):
        np.testing.assert_array_equal(np.asarray(expected), np.asarray(value))


@pytest.mark.parametrize("name", EXPORT)
def test_savedmodel_export_matches_in_fresh_process_and_compiles_with_xla(name, tmp_path):
    """One export per model, in every format: the SavedModel (fresh process, XLA), and
    its ONNX and LiteRT files (fresh process without TensorFlow)."""
    spec = zoo.get_spec(name)
    task = get_task(spec)
    plan, model = model_at_test_size(spec)
    result = export_trained(model, spec, plan, base_dir=tmp_path,
                            formats="saved_model,onnx,litert")
    check_formats(result)
    check = result.manifest["verification"]
    assert result.path == tmp_path / name / "1"
    # uint8 outputs (generated images) may differ by one rounding step, never more.
    uint8 = result.manifest["outputs"][task.output_name_for(spec)]["dtype"] == "uint8"
    assert check["max_abs_diff"] <= (1 if uint8 else 1e-5)
    assert check["xla_max_abs_diff"] <= (1 if uint8 else 1e-4)
    assert check["zoo_imported"] is False
    # Meaningful tensor names, not keras_tensor_N.
    assert check["input_names"] == [task.serving_input_name(plan)]
    assert check["output_names"] == [task.output_name_for(spec)]
    # A recurrent model's numeric signatures convert to LiteRT with a static batch (in the
    # slow suite; tests/test_export_formats.py checks char_rnn by default).
    litert = result.manifest["formats"]["litert"]
    if name not in TASK_REPRESENTATIVES and any(
            "op TensorListReserve" in reason for reason in litert["skipped"].values()):
        static = export_trained(model, spec, plan, base_dir=tmp_path / "static", static_batch=8,
                                formats="saved_model,litert")
        kept = static.manifest["formats"]["litert"]
        assert set(kept["signatures"]) == {
            sig for sig in litert["signatures"].keys() | litert["skipped"].keys()
            if not litert["skipped"].get(sig, "").startswith(("takes strings", "returns strings"))}
        assert all(figures["max_abs_diff"] <= 1e-5 for figures in kept["signatures"].values())


@pytest.mark.parametrize("name", SEARCH)
def test_one_search_trial_over_the_declared_space(name, tmp_path):
    """Every model searches through `tuning.search` (what `zoo tune` runs)."""
    import keras_tuner

    import tuning

    spec = zoo.get_spec(name)
    if spec.test_dataset is None:
        # Nothing to search (no dataset; the loss weights are the objective, see
        # zoo.models.style_transfer and zoo.models.fast_style): the search refuses before any trial.
        with pytest.raises(ValueError, match="has no default dataset"):
            tuning.search(name, None, max_trials=1, epochs=1, directory=tmp_path, verbose=0)
        assert not any(tmp_path.iterdir())
        return
    space = keras_tuner.HyperParameters()
    chosen = set(spec.search_space(space) or {}) if spec.search_space else set()
    # Small test instances, except where the search chooses the argument itself.
    overrides = {k: v for k, v in spec.test_args.items() if k not in chosen}
    dataset = spec.test_dataset
    if get_task(spec).trains_on_text:
        # The space picks full-size networks: search them on a few kB of text.
        dataset = tmp_path / "corpus.txt"
        dataset.write_text((TINY_SHAKESPEARE_DIR / "input.txt").read_text()[:20_000])
    result = tuning.search(name, dataset, tuner="random", max_trials=1, epochs=1, batch_size=64,
                           overrides=overrides, directory=tmp_path, verbose=0)
    assert [row["status"] for row in result.rows] == ["COMPLETED"]
    assert np.isfinite(result.best_score)
    assert set(chosen) <= set(result.best_builder_args)
    assert all(result.best_builder_args[k] == result.best_hyperparameters[k]
               for k in chosen if k in result.best_hyperparameters)
