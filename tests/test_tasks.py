"""Task objects own task behaviour: training, data binding and export ask the task, and
the architecture files hold architectures only."""

import ast
import dataclasses
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.registry import ModelSpec
from zoo.runtime import exporter, plan
from zoo.tasks import Task, get_task, registered_tasks

import task_exports

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_model_has_its_registered_task():
    for name in zoo.list_models():
        spec = zoo.get_spec(name)
        task = get_task(spec)
        assert isinstance(task, Task) and task.name == spec.task, name
    with pytest.raises(ValueError, match=r"Unknown task 'nope'\. Expected one of: autoencoder, "):
        get_task("nope")


def test_model_specific_training_is_a_task_of_its_own():
    assert get_task(zoo.get_spec("ppmi_svd")).trained_by_gradients is False
    assert get_task(zoo.get_spec("word2vec_skipgram")).trained_by_gradients is True
    pretrained = get_task(zoo.get_spec("stacked_autoencoder"))
    assert type(pretrained).pretrain is not Task.pretrain
    assert get_task(zoo.get_spec("mlp")).pretrain(zoo.get_spec("mlp"), None, None) is None


def test_model_specs_hold_no_training_or_export_hooks():
    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    assert not fields & {"fit", "pretrain", "callbacks", "signatures"}


@pytest.mark.parametrize("function", [plan.plan_data, exporter.export_trained])
def test_data_binding_and_export_never_branch_on_a_task_or_family(function):
    source = inspect.getsource(function)
    names = [f'"{name}"' for name in registered_tasks()] + ["spec.task", "spec.family",
                                                             "info.task"]
    assert [name for name in names if name in source] == []


ARCHITECTURES = ["autoencoders", "dcgan", "word_vectors", "transformer", "stacked_autoencoder"]


@pytest.mark.parametrize("module", ARCHITECTURES)
def test_architecture_files_import_no_pipelines_runtime_tasks_or_tuning(module):
    tree = ast.parse((ROOT / "zoo" / "models" / f"{module}.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    upward = ("pipelines", "tuning", "zoo.runtime", "zoo.tasks")
    assert [m for m in imported if m.split(".")[0] in upward[:2] or m.startswith(upward[2:])] == []


# One export per task, compared with the export the code made before tasks owned it
# (tests/task_exports.py --record). The cheap ones run by default.
DEFAULT_EXPORTS = {"logistic_regression", "autoencoder", "dcgan", "word2vec_skipgram"}
EXPORTS = [n if n in DEFAULT_EXPORTS else pytest.param(n, marks=pytest.mark.slow)
           for n in task_exports.MODELS]
# The stacked autoencoder and PPMI-SVD are tasks of their own now: their manifests name them.
RENAMED_TASKS = {"stacked_autoencoder": ("classification", "layerwise_pretrained_classification"),
                 "ppmi_svd": ("embedding", "count_vectors")}


@pytest.mark.parametrize("name", EXPORTS)
def test_each_task_exports_the_same_signatures_and_outputs_as_before(name, tmp_path):
    expected = json.loads((task_exports.DATA / "task_exports.json").read_text())[name]
    arrays = np.load(task_exports.DATA / "task_exports.npz")
    manifest, outputs = task_exports.export_one(name, tmp_path)
    before, after = RENAMED_TASKS.get(name, (expected["task"], expected["task"]))
    assert (expected["task"], manifest["task"]) == (before, after)
    assert {**manifest, "task": before} == expected
    recorded = sorted(k.split("/", 1)[1] for k in arrays if k.startswith(f"{name}/"))
    assert sorted(outputs) == recorded
    for signature, values in outputs.items():
        old = arrays[f"{name}/{signature}"]
        assert values.dtype == old.dtype and values.shape == old.shape
        if values.dtype.kind == "U":  # class names
            np.testing.assert_array_equal(values, old)
        else:
            np.testing.assert_allclose(values.astype("float64"), old, rtol=0, atol=1e-6)
