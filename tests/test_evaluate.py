"""`zoo evaluate` / `zoo.evaluate`: a run or an export measured on one split."""

from __future__ import annotations

import json
import math
import re

import pytest

import zoo
from zoo import cli
from zoo.runtime.run import Run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate") / "mlp-digits"
    zoo.train("mlp", "digits", epochs=2, run_dir=folder, verbose=0)
    return folder


def test_a_run_on_its_test_split_matches_model_evaluate(digits_run, capsys):
    assert cli.main(["evaluate", str(digits_run)]) == 0
    out = capsys.readouterr().out
    folder = digits_run / "evaluations" / "digits-test"
    assert f"Evaluation: {folder / 'evaluation.json'}" in out
    report = json.loads((folder / "evaluation.json").read_text())

    run = Run(digits_run)
    spec, plan = run.plan()
    expected = run.load("best").evaluate(plan.load("test", 32, shuffle=False), verbose=0,
                                         return_dict=True)
    figures = report["figures"]
    assert (report["split"], report["examples"]) == ("test", 359)
    assert figures["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert report["metrics"]["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert report["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    matrix = figures["confusion_matrix"]
    assert sum(map(sum, matrix)) == 359
    assert [row["class"] for row in figures["classes"]] == [str(i) for i in range(10)]
    assert [row["support"] for row in figures["classes"]] == [sum(row) for row in matrix]
    assert report["files"] == ["confusion_matrix.png"]
    assert (folder / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_export_gives_the_runs_accuracy(digits_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", str(digits_run), "--base-dir", "sm"]) == 0
    export = tmp_path / "sm" / "mlp" / "1"
    files = sorted(p.name for p in export.iterdir())
    result = zoo.evaluate(export)
    run_report = zoo.evaluate(digits_run, out=tmp_path / "run").report

    assert result.folder.resolve() == tmp_path / "evaluations" / "mlp-1" / "digits-test"
    assert result.report["examples"] == 359
    assert result.report["figures"]["accuracy"] == pytest.approx(
        run_report["figures"]["accuracy"], abs=1e-6)
    assert result.report["figures"]["confusion_matrix"] == run_report["figures"][
        "confusion_matrix"]
    assert result.report["loss"] == pytest.approx(run_report["loss"], rel=1e-4)
    assert (result.folder / "confusion_matrix.png").is_file()
    assert sorted(p.name for p in export.iterdir()) == files  # exports are never modified


def test_a_regression_run_reports_rmse_as_the_root_of_its_mse(tmp_path):
    folder = tmp_path / "linear"
    zoo.train("linear_regression", "linear_1d", epochs=2, run_dir=folder, verbose=0)
    report = zoo.evaluate(folder, split="validation", out=tmp_path / "out").report

    assert (report["split"], report["examples"]) == ("validation", 20)
    figures = report["figures"]
    assert figures["rmse"] == pytest.approx(math.sqrt(report["loss"]), rel=1e-5)
    assert figures["mae"] == pytest.approx(report["metrics"]["mae"], rel=1e-5)
    assert figures["r2"] <= 1.0
    assert "files" not in report or report["files"] == []
    assert (tmp_path / "out" / "evaluation.json").is_file()


def test_a_split_the_dataset_lacks_is_refused(digits_run, capsys):
    assert cli.main(["evaluate", str(digits_run), "--split", "dev"]) == 2
    assert capsys.readouterr().err.strip() == (
        "zoo: error: Dataset 'digits' has no split 'dev'. Available splits: train, "
        "validation, test.")
    with pytest.raises(ValueError, match=re.escape(
            "Dataset 'digits' has no split 'dev'. Available splits: train, validation, test.")):
        zoo.evaluate(digits_run, split="dev")
