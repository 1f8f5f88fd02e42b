"""Issue 12, the search layer: reproducible trials, data and state errors before any trial,
a non-zero exit when every trial failed, safe project folders, pinned private imports."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import time
from pathlib import Path

import keras_tuner
import pytest

import tuning
import zoo
from tuning.hypermodel import ZooHyperModel
from zoo import cli, registry
from zoo._common import safe_folder_name
from zoo.runtime.plan import plan_data
from zoo.tasks import base as task_base
from zoo.tasks import get_task

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = dict(tuner="random", epochs=1, verbose=0)


def _search(directory, model="softmax_regression", dataset="blobs_4d3c", **kwargs):
    return tuning.search(model, dataset, directory=directory, **{**FAST, **kwargs})


def _tune(*args) -> list[str]:
    """`zoo tune` arguments of a small random search of softmax_regression on blobs_4d3c."""
    return ["tune", *args, "--tuner", "random", "--epochs", "1"]


# Search reproducibility -----------------------------------------------------------------

def _score(hypermodel: ZooHyperModel, values: dict) -> float:
    """The validation loss of one trial with these hyperparameter values."""
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    model = hypermodel.build(hp)
    return hypermodel.fit(hp, model, epochs=1, verbose=0).history["val_loss"][-1]


def test_a_trial_sees_the_same_data_whatever_ran_before_it():
    spec = zoo.get_spec("softmax_regression")
    plan = plan_data(spec, "blobs_4d3c")
    trial = {"learning_rate": 0.05, "batch_size": 16}
    alone = _score(ZooHyperModel(spec, plan, seed=0), trial)

    hypermodel = ZooHyperModel(spec, plan, seed=0)
    for learning_rate in (0.01, 0.2):  # two other trials first, same batch size
        _score(hypermodel, {**trial, "learning_rate": learning_rate})
    assert _score(hypermodel, trial) == alone


def test_a_resumed_search_reproduces_the_scores_of_an_uninterrupted_one(tmp_path):
    whole = _search(tmp_path / "whole", max_trials=4)
    _search(tmp_path / "parts", max_trials=2)
    resumed = _search(tmp_path / "parts", max_trials=4)

    def table(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert [r["status"] for r in whole.rows] == ["COMPLETED"] * 4
    assert table(resumed.rows) == table(whole.rows)


# Unavailable data, failed searches ------------------------------------------------------

def test_data_that_cannot_be_loaded_fails_before_the_first_trial_as_in_zoo_train(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    data = ["lenet5", "--data", "mnist", "--data-dir", "empty"]
    assert cli.main(["train", *data, "--epochs", "1", "--run-dir", "run"]) == 2
    train_error = capsys.readouterr().err

    start = time.monotonic()
    assert cli.main(_tune(*data, "--max-trials", "2", "--directory", "tuned")) == 2
    out, err = capsys.readouterr()
    assert time.monotonic() - start < 30
    assert err == train_error
    assert err.startswith("zoo: error: Dataset 'mnist' is not prepared in data_dir empty. ")
    assert "manual_dir empty/downloads/manual" in err
    assert "Best hyperparameters" not in out
    assert not (tmp_path / "tuned").exists()  # no project folder, no trial


@pytest.fixture
def broken_fit(monkeypatch):
    """softmax_regression under a task whose every fit fails."""
    classification = get_task("classification")

    class NeverFits(type(classification)):
        name = "never_fits"
        trained_by_gradients = False

        def fit_without_gradients(self, spec, model, plan, seed=0):
            raise ValueError("this model never fits")

    monkeypatch.setitem(task_base._TASKS, "never_fits", NeverFits())
    spec = dataclasses.replace(zoo.get_spec("softmax_regression"), name="broken_fit",
                               task="never_fits")
    monkeypatch.setitem(registry._REGISTRY, "broken_fit", spec)
    return spec


@pytest.mark.parametrize("max_failures, message", [
    ("3", "All 2 trial(s) of the search failed; the last error: ValueError: this model "
          "never fits. See the error column of {csv}."),
    ("1", "The search stopped: 1 trial(s) failed in a row; the last error: ValueError: "
          "this model never fits. See the error column of {csv}."),
])
def test_a_search_whose_every_trial_failed_exits_non_zero(tmp_path, broken_fit, capsys,
                                                          max_failures, message):
    argv = _tune("broken_fit", "--data", "blobs_4d3c", "--max-trials", "2",
                 "--max-failures", max_failures, "--directory", str(tmp_path))
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    csv = tmp_path / "broken_fit-blobs_4d3c-random" / "version_0" / "results.csv"
    # Above it, Keras Tuner printed each failed trial's traceback as the trial ended.
    lines = err.strip().splitlines()
    assert lines[-1] == "zoo: error: " + message.format(csv=csv)
    assert [ln for ln in lines if "zoo: error" in ln] == lines[-1:]
    assert "Best hyperparameters" not in out
    assert csv.exists()


# A project whose Keras Tuner state is missing or damaged ---------------------------------

@pytest.fixture(scope="module")
def finished_project(tmp_path_factory):
    """A finished one-trial search written by `zoo tune`."""
    directory = tmp_path_factory.mktemp("finished")
    assert cli.main(_tune("softmax_regression", "--data", "blobs_4d3c", "--max-trials", "1",
                          "--directory", str(directory))) == 0
    return directory / "softmax_regression-blobs_4d3c-random" / "version_0"


@pytest.mark.parametrize("damage, what", [
    (lambda path: path.unlink(), "is missing"),
    (lambda path: path.write_text(path.read_text()[:40]), "is not a JSON object (damaged or cut short)"),
    (lambda path: path.write_text("[]"), "is not a JSON object (damaged or cut short)"),
])
def test_resuming_without_a_readable_oracle_json_is_one_clear_error(
        finished_project, tmp_path, capsys, damage, what):
    project = tmp_path / finished_project.parent.name / finished_project.name  # version_0
    shutil.copytree(finished_project, project)
    damage(project / "oracle.json")
    trials = sorted(p.name for p in project.iterdir())

    assert cli.main(_tune("softmax_regression", "--data", "blobs_4d3c", "--max-trials", "1",
                          "--directory", str(tmp_path))) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"zoo: error: Cannot resume the search in {project}: {project / 'oracle.json'} "
        f"{what}. Delete the folder {project} to start the search over."]
    assert sorted(p.name for p in project.iterdir()) == trials  # nothing written


# Project folder names ---------------------------------------------------------------------

def test_the_default_project_folder_stays_inside_directory(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "tiny.txt").write_text("hello world, hello search.\n" * 200)
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    dataset = "../../../corpus/tiny.txt"

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop  # the project folder is claimed; no trial is needed to see where

    monkeypatch.setattr(sys.modules["tuning.search"], "make_tuner", stop)
    with pytest.raises(Stop):
        _search("tuning_runs", model="char_rnn", dataset=dataset, max_trials=1)
    name = f"char_rnn-{safe_folder_name(dataset)}-random"
    assert re.fullmatch(r"char_rnn-corpus_tiny\.txt-[0-9a-f]{8}-random", name)
    assert sorted(tmp_path.rglob("search.json")) == [cwd / "tuning_runs" / name / "version_0" / "search.json"]


@pytest.mark.parametrize("project_name", ["../escape", "a/b", ".hidden", "", "x\\y"])
def test_an_explicit_project_name_must_be_a_plain_folder_name(tmp_path, project_name):
    with pytest.raises(ValueError) as info:
        _search(tmp_path, max_trials=1, project_name=project_name)
    assert str(info.value) == (
        "`project_name` must be a plain folder name: letters, digits, '.', '_' or '-', not "
        f"starting with a dot. Received: project_name={project_name!r}")
    assert list(tmp_path.iterdir()) == []


# Pins of privately imported packages ----------------------------------------------------

PRIVATE = {"keras.src": "keras", "tensorflow.python": "tensorflow",
           "keras_tuner.src": "keras-tuner"}


def _privately_imported() -> dict[str, list[str]]:
    """Distribution -> files of this repository importing its private modules."""
    pattern = re.compile(r"^\s*(?:from|import)\s+(" + "|".join(
        re.escape(m) for m in PRIVATE) + r")\b", re.MULTILINE)
    found: dict[str, list[str]] = {}
    for path in sorted(REPO_ROOT.rglob("*.py")):
        if any(part.startswith(".") for part in path.relative_to(REPO_ROOT).parts):
            continue
        for module in pattern.findall(path.read_text(errors="replace")):
            found.setdefault(PRIVATE[module], []).append(str(path.relative_to(REPO_ROOT)))
    return found


def test_every_privately_imported_package_has_an_upper_bound():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    from packaging.requirements import Requirement

    found = _privately_imported()
    assert "tuning/distributed.py" in found["keras-tuner"]  # the scan sees the imports
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        requirements = {r.name: r for r in map(Requirement,
                                               tomllib.load(f)["project"]["dependencies"])}
    for package, files in found.items():
        assert package in requirements, (package, files)
        bounds = [s for s in requirements[package].specifier if s.operator in ("<", "<=", "~=")]
        assert bounds, f"{package} has no upper bound; imported privately in {files}"
    assert str(requirements["keras-tuner"].specifier) in (">=1.4.7,<1.5", "<1.5,>=1.4.7")
