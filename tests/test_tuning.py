"""Tests of the Keras Tuner layer: search, resume, failures, validation, results."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re

import keras_tuner
import pytest

import pipelines
import tuning
import zoo
from tuning.hypermodel import ZooHyperModel, check_search_space
from zoo import registry
from zoo.runtime.plan import plan_data

FAST = dict(epochs=1, verbose=0)  # every trial: one epoch, silent


def _search(tmp_path, model="softmax_regression", dataset="blobs_4d3c", **kwargs):
    options = {**FAST, "tuner": "random", "directory": tmp_path / "tuning_runs", **kwargs}
    return tuning.search(model, dataset, **options)


def _register_variant(monkeypatch, base: str, name: str, **changes) -> zoo.ModelSpec:
    """A throwaway registry entry, removed after the test."""
    spec = dataclasses.replace(zoo.get_spec(base), name=name, **changes)
    monkeypatch.setitem(registry._REGISTRY, name, spec)
    return spec


def _flaky_softmax(monkeypatch):
    """softmax_regression with a `scale` choice whose value 2 makes the builder raise."""
    base = zoo.get_spec("softmax_regression")

    def flaky_softmax(input_shape=(4,), classes=3, classifier_activation="softmax",
                      name="flaky_softmax", scale=1):
        if scale == 2:
            raise ValueError("scale=2 breaks on purpose")
        return base.builder(input_shape=input_shape, classes=classes,
                            classifier_activation=classifier_activation, name=name)

    return _register_variant(
        monkeypatch, "softmax_regression", "flaky_softmax",
        builder=flaky_softmax,
        defaults={**base.defaults, "name": "flaky_softmax", "scale": 1},
        search_space=lambda hp: {"scale": hp.Choice("scale", [1, 2, 3], default=1)},
    )


def _trial_dirs(project_dir):
    return sorted(p.name for p in project_dir.glob("trial_*"))


def test_random_search_writes_results_and_rerun_repeats_nothing(tmp_path, count_fits):
    result = _search(tmp_path, max_trials=3)

    assert len(count_fits) == 3
    project = tmp_path / "tuning_runs" / "softmax_regression-blobs_4d3c-random" / "version_0"
    assert result.project_dir == project
    assert [r["trial_id"] for r in result.rows] == ["0", "1", "2"]
    for row in result.rows:
        assert row["status"] == "COMPLETED"
        assert list(row) == ["trial_id", "status", "learning_rate", "batch_size",
                             "score", "seconds", "error"]
        assert row["seconds"] > 0 and math.isfinite(row["score"])
    with open(result.results_csv, newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["trial_id"] for r in csv_rows] == ["0", "1", "2"]
    assert all(float(r["seconds"]) > 0 for r in csv_rows)
    assert json.loads(result.results_json.read_text()) == result.rows
    assert tuning.read_table(project) == result.rows

    best = json.loads(result.best_path.read_text())
    best_row = min(result.rows, key=lambda r: r["score"])  # val_loss: lower is better
    assert best["trial_id"] == result.best_trial_id == best_row["trial_id"]
    assert best["objective"] == result.objective == "val_loss"
    assert best["hyperparameters"] == result.best_hyperparameters
    assert set(result.best_hyperparameters) == {"learning_rate", "batch_size"}
    assert 0.005 <= result.best_hyperparameters["learning_rate"] <= 0.5  # 0.05 / 10 .. * 10
    assert result.best_hyperparameters["batch_size"] in (16, 32, 64)
    # softmax_regression has no architecture choices: the builder args are the plan's.
    assert result.best_builder_args == result.hypermodel.plan.builder_args
    assert best["builder_args"]["classes"] == 3

    trial_files = {p: p.stat().st_mtime_ns for p in project.glob("trial_*/trial.json")}
    again = _search(tmp_path, max_trials=3)

    assert len(count_fits) == 3  # nothing trained again
    assert again.rows == result.rows  # same ids, values, scores and recorded seconds
    assert _trial_dirs(project) == ["trial_0", "trial_1", "trial_2"]
    assert {p: p.stat().st_mtime_ns for p in project.glob("trial_*/trial.json")} == trial_files


def test_rerun_with_more_trials_runs_only_the_new_ones(tmp_path, count_fits):
    first = _search(tmp_path, max_trials=2)
    assert len(count_fits) == 2

    second = _search(tmp_path, max_trials=4)

    assert len(count_fits) == 4
    assert [r["trial_id"] for r in second.rows] == ["0", "1", "2", "3"]
    assert second.rows[:2] == first.rows
    assert _trial_dirs(second.project_dir) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    # The seconds of earlier trials survive the reload.
    assert all(r["seconds"] > 0 for r in second.rows)


def test_grid_search_resumes_where_it_stopped(tmp_path, count_fits):
    # Keras Tuner 1.4.8 alone would stop at once here (keras-team/keras-tuner#1055).
    options = dict(model="xor_mlp", dataset="gates", tuner="grid", batch_size=4,
                   fixed={"learning_rate": 0.05, "batch_size": 4})
    first = _search(tmp_path, max_trials=2, **options)
    second = _search(tmp_path, max_trials=3, **options)

    assert len(count_fits) == 3
    combos = [(r["units"], r["activation"]) for r in second.rows]
    assert combos[:2] == [(4, "tanh"), (4, "sigmoid")]  # defaults first, then the grid
    assert combos[2] not in combos[:2]
    assert second.rows[:2] == first.rows
    assert list(second.rows[0])[:4] == ["trial_id", "status", "units", "activation"]


def test_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    _flaky_softmax(monkeypatch)

    result = _search(tmp_path, model="flaky_softmax", tuner="grid", max_trials=3,
                     fixed={"learning_rate": 0.05, "batch_size": 32})

    by_scale = {r["scale"]: r for r in result.rows}
    assert [r["scale"] for r in result.rows] == [1, 2, 3]
    assert by_scale[2]["status"] == "FAILED"
    assert by_scale[2]["score"] is None
    assert by_scale[2]["error"] == "ValueError: scale=2 breaks on purpose"
    assert by_scale[2]["seconds"] > 0
    assert by_scale[1]["status"] == by_scale[3]["status"] == "COMPLETED"
    assert result.best_hyperparameters["scale"] in (1, 3)
    with open(result.results_csv, newline="") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["COMPLETED", "FAILED", "COMPLETED"]


def test_consecutive_failures_stop_the_search_after_writing_results(tmp_path, monkeypatch):
    _flaky_softmax(monkeypatch)

    with pytest.raises(RuntimeError, match=r"The search stopped: 1 trial\(s\) failed in a row"):
        _search(tmp_path, model="flaky_softmax", tuner="grid", max_trials=3,
                fixed={"learning_rate": 0.05, "batch_size": 32},
                max_consecutive_failed_trials=1)

    project = tmp_path / "tuning_runs" / "flaky_softmax-blobs_4d3c-grid" / "version_0"
    assert [r["status"] for r in tuning.read_table(project)] == ["COMPLETED", "FAILED"]


def _bad_space(monkeypatch, space, base="softmax_regression"):
    _register_variant(monkeypatch, base, "bad_space", search_space=space)
    return "bad_space"


@pytest.mark.parametrize(
    "model, kwargs, message",
    [
        (
            "mlp",
            {"tuner": "annealing"},
            "Unknown tuner 'annealing'. Expected one of: bayesian, grid, hyperband, random.",
        ),
        (
            "mlp",
            {"fixed": {"depht": 2}},
            "Invalid fixed hyperparameter(s) for 'mlp': depht. Hyperparameters in the search "
            "space: depth, width, activation, initializer, dropout_rate, l2, batch_norm, "
            "learning_rate, batch_size.",
        ),
        (
            "mlp",
            {"fixed": {"width": 100}},
            "Invalid fixed value for 'mlp': `width` must be one of 64, 128, 256. "
            "Received: width=100",
        ),
        (
            "mlp",
            {"fixed": {"depth": 9}},
            "Invalid fixed value for 'mlp': `depth` must be an integer in [1, 4]. "
            "Received: depth=9",
        ),
        (
            "mlp",
            {"fixed": {"dropout_rate": 0.25}},
            "Invalid fixed value for 'mlp': `dropout_rate` must be a float in [0, 0.5] "
            "on steps of 0.1. Received: dropout_rate=0.25",
        ),
        (
            "mlp",
            {"fixed": {"batch_norm": "yes"}},
            "Invalid fixed value for 'mlp': `batch_norm` must be True or False. "
            "Received: batch_norm='yes'",
        ),
        (
            "mlp",
            {"fixed": {"batch_size": 100}},
            "Invalid fixed value for 'mlp': `batch_size` must be one of 16, 32, 64. "
            "Received: batch_size=100",
        ),
        (
            "softmax_regression",
            {"fixed": {"learning_rate": 1.0}},
            "Invalid fixed value for 'softmax_regression': `learning_rate` must be a float "
            "in [0.005, 0.5]. Received: learning_rate=1.0",
        ),
        (
            "mlp",
            {"overrides": {"depth": 3}},
            "Invalid search space for 'mlp': overrides set depth, which the search space "
            "chooses. Fix a searched value with `fixed` instead.",
        ),
        (
            "mlp",
            {"objective": "val_auc"},
            "Unknown objective 'val_auc' for 'mlp'. Expected one of: loss, accuracy, "
            "val_loss, val_accuracy.",
        ),
        ("mlp", {"max_trials": 0}, "`max_trials` must be an integer >= 1. Received: max_trials=0"),
    ],
)
def test_invalid_search_fails_before_any_trial(tmp_path, model, kwargs, message):
    directory = tmp_path / "tuning_runs"
    with pytest.raises(ValueError) as info:
        tuning.search(model, "digits" if model == "mlp" else None, directory=directory,
                      **{**FAST, **kwargs})
    assert str(info.value) == message
    assert not directory.exists()  # no project, no trial


@pytest.mark.parametrize(
    "space, message",
    [
        (
            lambda hp: {"units": hp.Choice("units", [2, 4], default=2)},
            "Invalid search space for 'bad_space': unknown builder argument(s) units. "
            "Accepted arguments: classes, classifier_activation, input_shape, name.",
        ),
        (
            lambda hp: {"classes": hp.Choice("classes", [2, 3], default=5)},
            "Invalid search space for 'bad_space': ",  # + Keras Tuner's own message
        ),
        (
            lambda hp: {"classes": hp.Float("learning_rate", 0.1, 1.0)},
            "Invalid search space for 'bad_space': learning_rate belong(s) to the shared "
            "training space; a model's space chooses builder arguments only.",
        ),
        (
            lambda hp: ["classes"],
            "Invalid search space for 'bad_space': it must return a dict of builder "
            "arguments (or None). Received: list",
        ),
        (
            lambda hp: {"classes": hp.Int("classes", 1, 3, default=1)},
            "Invalid search space for 'bad_space': the model does not build with the default "
            "hyperparameter values: `classes` must be an integer >= 2. Received: classes=1",
        ),
    ],
    ids=["unknown-argument", "bad-default", "reserved-name", "not-a-dict", "does-not-build"],
)
def test_invalid_search_space_fails_before_any_trial(tmp_path, monkeypatch, space, message):
    name = _bad_space(monkeypatch, space)
    directory = tmp_path / "tuning_runs"
    with pytest.raises(ValueError) as info:
        tuning.search(name, "blobs_4d3c", directory=directory, **FAST)
    assert str(info.value).startswith(message)
    if not message.endswith(": "):
        assert str(info.value) == message
    assert not directory.exists()


# Large models' spaces build full-size networks: checked in the slow suite.
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if zoo.get_spec(n).large else n
    for n in zoo.list_models()
])
def test_every_registered_search_space_is_valid(name):
    spec = zoo.get_spec(name)
    if spec.test_dataset is None:  # no dataset (style transfer): nothing to search
        assert spec.search_space is None
        return
    space = spec.search_space(keras_tuner.HyperParameters()) if spec.search_space else None
    # The small test instance, minus what the space chooses (overrides may not fix those).
    overrides = {k: v for k, v in spec.test_args.items() if k not in (space or {})}
    try:
        plan = plan_data(spec, spec.test_dataset, overrides)
    except pipelines.DatasetUnavailableError as e:
        pytest.skip(str(e))
    hypermodel = ZooHyperModel(spec, plan)

    assert check_search_space(hypermodel, overrides).space == []  # nothing fixed
    names = hypermodel.declared_names()
    if spec.alternative_optimizers:
        rates = [f"{o}_learning_rate" for o in spec.learning_rates]
        assert names[-len(rates) - 2:] == ["optimizer", *rates, "batch_size"]
    else:
        assert names[-2:] == ["learning_rate", "batch_size"]
    assert len(set(names)) == len(names)


def test_other_settings_get_their_own_version_and_each_command_resumes_its_own(
        tmp_path, count_fits):
    first = _search(tmp_path, max_trials=1)
    other = _search(tmp_path, max_trials=1, epochs=2)
    again = _search(tmp_path, max_trials=1)

    group = tmp_path / "tuning_runs" / "softmax_regression-blobs_4d3c-random"
    assert (first.project_dir, other.project_dir) == (group / "version_0", group / "version_1")
    assert again.project_dir == first.project_dir and again.rows == first.rows
    assert len(count_fits) == 2  # the rerun resumed its finished search: no new trial


def test_an_explicit_project_name_with_other_settings_is_refused(tmp_path):
    _search(tmp_path, max_trials=1, project_name="mine")
    project = tmp_path / "tuning_runs" / "mine"
    with pytest.raises(ValueError, match=re.escape(
            f"Project folder {project} holds a search with other settings (differs in: "
            "epochs). Use another project_name, or delete that folder.")):
        _search(tmp_path, max_trials=1, epochs=2, project_name="mine")


def test_hyperband_on_mlp_digits_finds_values_inside_the_space(tmp_path):
    result = tuning.search("mlp", "digits", tuner="hyperband", epochs=2, verbose=0,
                           directory=tmp_path)

    assert result.rows and all(r["status"] == "COMPLETED" for r in result.rows)
    assert {r["epochs"] for r in result.rows} <= {1, 2}
    spec = zoo.get_spec("mlp")
    space = keras_tuner.HyperParameters()
    spec.search_space(space)
    tuning.training_space(space, spec.learning_rates, 32)
    best = result.best_hyperparameters
    assert set(best) == {p.name for p in space.space}
    for entry in space.space:
        value = best[entry.name]
        if isinstance(entry, (keras_tuner.engine.hyperparameters.Choice,
                              keras_tuner.engine.hyperparameters.Boolean)):
            assert value in entry.values, entry.name
        else:
            assert entry.min_value <= value <= entry.max_value, entry.name
    args = result.best_builder_args
    assert args["input_shape"] == (8, 8, 1) and args["classes"] == 10
    assert all(args[k] == best[k] for k in spec.search_space(keras_tuner.HyperParameters()))


def test_bayesian_search_runs(tmp_path):
    result = _search(tmp_path, tuner="bayesian", max_trials=2)
    assert [r["status"] for r in result.rows] == ["COMPLETED", "COMPLETED"]


def test_search_trains_and_exports_the_best_configuration(tmp_path):
    result = _search(tmp_path, max_trials=1, export=True,
                     export_options={"base_dir": tmp_path / "saved", "verify": False})

    best = result.best_model
    assert best.model.output_shape == (None, 3)
    assert best.builder_args == result.best_builder_args
    assert best.train_result.run_dir == result.project_dir / "best_trial_0"
    assert "val_loss" in best.metrics
    exported = best.export_result
    assert exported.path == (tmp_path / "saved" / "softmax_regression" / "1").resolve()
    manifest = exported.manifest
    assert manifest["hyperparameters"] == result.best_hyperparameters
    assert manifest["builder_args"]["classes"] == 3
    assert manifest["metrics"] == pytest.approx(best.metrics)
    assert manifest["preprocessing"] == ["standardize"]  # raw features in, as served

    # Training the best configuration again reloads the completed run.
    again = tuning.train_best(result, verbose=0)
    assert again.train_result.run_dir == best.train_result.run_dir
    assert again.builder_args == best.builder_args


def test_format_table_aligns_columns():
    rows = [
        {"trial_id": "0", "status": "COMPLETED", "units": 4, "score": 0.123456, "seconds": 1.5},
        {"trial_id": "1", "status": "FAILED", "units": 16, "score": None, "seconds": 12.25},
    ]
    assert tuning.format_table(rows) == "\n".join([
        "trial_id  status     units   score  seconds",
        "--------  ---------  -----  ------  -------",
        "0         COMPLETED      4  0.1235      1.5",
        "1         FAILED        16       -    12.25",
    ])
    assert tuning.format_table([]) == ""


def test_alternative_optimizers_form_a_conditional_choice(tmp_path):
    spec = zoo.get_spec("resnet20")
    assert spec.learning_rates == {"adam": 1e-3, "momentum": 0.1}
    hp = keras_tuner.HyperParameters()
    assert tuning.training_space(hp, spec.learning_rates, 32) == ("adam", 1e-3, 32)
    # Only the chosen optimizer's learning rate is active.
    assert hp.values == {"optimizer": "adam", "adam_learning_rate": 1e-3, "batch_size": 32}
    hp = keras_tuner.HyperParameters()
    hp.Fixed("optimizer", "momentum")
    assert tuning.training_space(hp, spec.learning_rates, 32) == ("momentum", 0.1, 32)
    entry = next(p for p in hp.space if p.name == "momentum_learning_rate")
    assert (entry.min_value, entry.max_value) == pytest.approx((0.01, 1.0))
    model = ZooHyperModel(spec, plan_data(spec, overrides={"width": 1})).build(hp)
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.momentum) == 0.9
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
