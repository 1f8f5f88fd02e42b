"""Reproductions (`zoo reproduce`): the registry of claims, the runner's verdicts over seeds,
every claim's quick form, and docs/reproductions.md generated from the committed records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from conftest import zoo_env
from zoo.reproduce import claim as claim_module
from zoo.reproduce import (AtLeast, Budget, Claim, NotMeasured, Within, docs_page, get_claim,
                           list_claims, read_record, reproduce)
from zoo.reproduce.report import DOCS_DIR, DOCS_PAGE

CLAIMS_DIR = Path(claim_module.__file__).parent / "claims"


# --- the registry ------------------------------------------------------------------------

def test_each_claim_module_registers_the_claim_named_after_it():
    modules = sorted(p.stem for p in CLAIMS_DIR.glob("*.py") if not p.stem.startswith("_"))
    assert list_claims() == modules


@pytest.mark.parametrize("claim_id", list_claims())
def test_each_claim_declares_registered_models_a_budget_and_a_rule_over_its_numbers(claim_id):
    claim = get_claim(claim_id)
    assert claim.sentence.endswith(".") and claim.source and claim.data
    assert set(claim.models) <= set(zoo.list_models()), claim.models
    assert claim.budget.quick.keys() == claim.budget.full.keys()
    assert claim.rule and claim.rule_text


def test_an_unknown_claim_is_one_error_line_naming_the_closest(zoo_main):
    proc = zoo_main("reproduce", "linear_regresion", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("zoo: error: Unknown claim 'linear_regresion'. Did you mean: "
                                "linear_regression? (`zoo reproduce --list`)")


def test_an_unknown_claim_far_from_all_lists_every_claim(zoo_main):
    proc = zoo_main("reproduce", "qqq", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"zoo: error: Unknown claim 'qqq'. Registered claims: "
                                f"{', '.join(list_claims())}. (`zoo reproduce --list`)")


def test_a_full_run_needs_three_seeds_and_a_claim(zoo_main):
    proc = zoo_main("reproduce", "linear_regression", "--seeds", "2", check=False)
    assert proc.stderr.strip() == ("zoo: error: A full run measures at least 3 seeds (a quick run "
                                "may use fewer: --quick). Received: seeds=2")
    proc = zoo_main("reproduce", check=False)
    assert proc.stderr.strip() == "zoo: error: Give a claim id, or --list to see the claims."


def test_list_shows_every_claim_its_sentence_source_and_last_record(zoo_main):
    out = zoo_main("reproduce", "--list").stdout
    assert out.splitlines()[0].split() == ["claim", "verdict", "last", "measured", "wall", "time",
                                           "CPU", "time"]
    for claim_id in list_claims():
        claim, record = get_claim(claim_id), read_record(claim_id)
        row = next(line for line in out.splitlines() if line.startswith(claim_id + " "))
        verdict = record["verdict"] if record else "not measured: no full run recorded"
        assert verdict in row
        assert f"    {claim.sentence}" in out and f"    source: {claim.source}" in out


def test_list_answers_without_tensorflow():
    code = ("import sys, contextlib, io; from zoo.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): assert main(['reproduce', '--list']) == 0\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], env=zoo_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# --- the runner, on a scratch claim --------------------------------------------------------

def _scratch_claim(run) -> Claim:
    def figure(results, path):
        Path(path).write_bytes(b"png")

    return Claim("scratch_claim", "A scratch claim.", "tests", ("mlp",), "none",
                 Budget(quick={"n": 1}, full={"n": 2}), (Within("x", 1.0, 0.5), AtLeast("y", 0)),
                 "x", run, figure)


def test_a_claim_holds_only_when_its_rule_holds_in_every_seed(monkeypatch, tmp_path):
    def run(seed, quick, work):
        assert Path(work).is_dir() and quick
        return {"x": [1.0, 1.2, 2.0][seed], "y": 1, "report": ["a table"]}

    monkeypatch.setitem(claim_module._CLAIMS, "scratch_claim", _scratch_claim(run))
    lines = []
    result = reproduce("scratch_claim", quick=True, seeds=3, out=tmp_path, say=lines.append)
    record = json.loads((tmp_path / "scratch_claim" / "result.json").read_text())
    assert record == result.record
    assert record["verdict"] == "does not hold" and record["holds_in"] == "2 of 3 seeds"
    assert record["effect"]["values"] == [1.0, 1.2, 2.0]
    assert record["effect"]["mean"] == pytest.approx(1.4)
    assert record["effect"]["std"] == pytest.approx(0.52915, rel=1e-4)  # sample std (n - 1)
    assert record["runs"][2]["failed"] == ["x within 0.5 of 1 (x = 2)"]
    assert record["report"] == ["a table"] and record["quick"] and record["budget"] == {"n": 1}
    assert lines[2] == (f"seed 2: x = 2, fails: x within 0.5 of 1 (x = 2) "
                        f"({record['runs'][2]['seconds']:.1f} s)")
    assert (tmp_path / "scratch_claim" / "figure.png").is_file()


def test_a_claim_that_cannot_run_here_is_not_measured_and_says_why(monkeypatch, tmp_path):
    def run(seed, quick, work):
        raise NotMeasured("needs the network to download the corpus")

    monkeypatch.setitem(claim_module._CLAIMS, "scratch_claim", _scratch_claim(run))
    result = reproduce("scratch_claim", quick=True, out=tmp_path)
    assert result.verdict == "not measured: needs the network to download the corpus"
    assert result.record["effect"]["mean"] is None and "figure" not in result.record


def test_a_claim_that_runs_something_else_instead_draws_it_and_decides_nothing(
        monkeypatch, tmp_path):
    drawn = []

    def run(seed, quick, work):
        raise NotMeasured("weights absent",
                          numbers={"x": 1.0, "y": 1, "figure_only": {"img": seed}})

    claim = _scratch_claim(run)
    monkeypatch.setitem(claim_module._CLAIMS, "scratch_claim", claim.__class__(
        **{**claim.__dict__, "figure": lambda results, path: drawn.append(results) or
           Path(path).write_bytes(b"png")}))
    lines = []
    result = reproduce("scratch_claim", quick=True, seeds=2, out=tmp_path, say=lines.append)
    assert result.verdict == "not measured: weights absent"
    assert result.record["effect"]["mean"] is None and result.record["figure"] == "figure.png"
    assert [r["not_measured"] for r in result.record["runs"]] == ["weights absent"] * 2
    assert result.record["holds_in"] == "no seed measured; 2 ran instead, labelled"
    assert result.record["runs"][1]["numbers"] == {"seed": 1, "x": 1.0, "y": 1}
    assert drawn == [[{"seed": 0, "x": 1.0, "y": 1, "img": 0}, {"seed": 1, "x": 1.0, "y": 1,
                                                                 "img": 1}]]
    assert "figure_only" not in (tmp_path / "scratch_claim" / "result.json").read_text()
    assert lines[0] == "seed 0: not measured (weights absent); x = 1 instead"
    assert result.summary == ("scratch_claim: not measured: weights absent (rule: x within 0.5 "
                              "of 1 and y >= 0)")


def test_what_only_the_figure_draws_stays_out_of_the_json(monkeypatch, tmp_path):
    drawn = []

    def run(seed, quick, work):
        return {"x": 1.0, "y": 0, "figure_only": {"image": [[seed] * 3] * 3}}

    claim = _scratch_claim(run)
    monkeypatch.setitem(claim_module._CLAIMS, "scratch_claim", claim.__class__(
        **{**claim.__dict__, "figure": lambda results, path: drawn.extend(results) or
           Path(path).write_bytes(b"png")}))
    result = reproduce("scratch_claim", quick=True, out=tmp_path, say=lambda line: None)
    assert drawn == [{"seed": 0, "x": 1.0, "y": 0, "image": [[0] * 3] * 3}]
    assert result.record["runs"][0]["numbers"] == {"seed": 0, "x": 1.0, "y": 0}
    assert json.loads((tmp_path / "scratch_claim" / "result.json").read_text()) == result.record


def test_a_quick_run_without_out_never_writes_into_docs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(claim_module._CLAIMS, "scratch_claim",
                        _scratch_claim(lambda seed, quick, work: {"x": 1.0, "y": 0}))
    result = reproduce("scratch_claim", quick=True, say=lambda line: None)
    assert result.folder == Path("runs/reproduce/scratch_claim")
    assert (tmp_path / "runs/reproduce/scratch_claim/result.json").is_file()
    assert not (DOCS_DIR / "scratch_claim").exists()


# --- every claim's quick form ----------------------------------------------------------------

@pytest.mark.parametrize("claim_id", list_claims())
def test_each_quick_claim_completes_and_writes_its_figure_and_json(claim_id, zoo_main, tmp_path):
    out = zoo_main("reproduce", claim_id, "--quick", "--out", tmp_path / "out").stdout
    folder = tmp_path / "out" / claim_id
    record = json.loads((folder / "result.json").read_text())
    assert (folder / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    claim = get_claim(claim_id)
    assert record["quick"] and record["budget"] == claim.budget.quick
    assert {c.key for c in claim.rule} | {claim.effect} <= set(record["runs"][0]["numbers"])
    if "not_measured" in record["runs"][0]:  # it ran something else instead, labelled
        assert record["verdict"] == f"not measured: {record['runs'][0]['not_measured']}"
        assert f"seed 0: not measured ({record['runs'][0]['not_measured']}); " in out
    else:
        assert record["verdict"] in ("holds", "does not hold")
        assert f"{claim_id}: {record['verdict']}; {claim.effect} = " in out
    # Its time is a figure, not a test: `zoo reproduce --list` shows the recorded times.


def _direction(claim, record: dict):
    """Which way a record's effect points: its mean against the rule's own condition on the
    effect (the sign of the mean where the rule has none); the verdict when not measured."""
    mean = record["effect"]["mean"]
    if mean is None:
        return record["verdict"]
    conditions = [c for c in claim.rule if c.key == claim.effect]
    return all(c.check({claim.effect: mean}) for c in conditions) if conditions else mean > 0


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", list_claims())
def test_each_quick_effect_over_three_seeds_points_the_way_of_the_full_record(claim_id, tmp_path):
    """The quick budget is too small to decide every condition of a rule (a quick autoencoder
    does not yet denoise better), but its effect must point the way the full run's does."""
    record, claim = read_record(claim_id), get_claim(claim_id)
    if record is None:
        pytest.skip(f"{claim_id} has no full record under docs/reproductions")
    result = reproduce(claim_id, quick=True, seeds=3, out=tmp_path, say=lambda line: None)
    assert _direction(claim, result.record) == _direction(claim, record), (
        result.record["effect"], record["effect"])


# --- the docs page ---------------------------------------------------------------------------

def test_docs_page_is_generated_from_the_committed_records():
    assert DOCS_PAGE.read_text(encoding="utf-8") == docs_page(), (
        "docs/reproductions.md is stale: run `python -m zoo.reproduce` to rewrite it")


def test_every_committed_record_is_a_full_run_of_a_registered_claim_with_its_figure():
    for path in sorted(DOCS_DIR.glob("*/result.json")):
        record = json.loads(path.read_text())
        claim = get_claim(path.parent.name)
        assert record["claim"] == claim.id and not record["quick"] and len(record["runs"]) >= 3
        assert record["rule"] == claim.rule_text, "a verdict rule is never changed after a run"
        assert (path.parent / record["figure"]).is_file()
