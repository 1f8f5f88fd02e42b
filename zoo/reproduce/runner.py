"""Running a claim over seeds: the verdict, the effect's mean ± std, the figure and JSON.

Every claim runs through `reproduce`; it never branches on a claim. Each seed
starts from `keras.utils.set_random_seed(seed)` and the claim passes `seed=` to
`zoo.train`. A full run (the committed record) needs at least `FULL_SEEDS` seeds
and by default writes `docs/reproductions/<claim>/`, then regenerates
`docs/reproductions.md`; a quick run writes under `runs/reproduce/` unless `out`
is given, so it never replaces a committed record by accident.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from zoo._common import check_positive_int, jsonable, write_text_atomic
from zoo.reproduce.claim import Claim, NotMeasured, get_claim
from zoo.reproduce.report import (DOCS_DIR, FIGURE_FILE, RESULT_FILE, ROOT, effect_text,
                                  write_docs_page)

QUICK_DIR = Path("runs") / "reproduce"
# The key of a claim's numbers that only its figure reads (images, point clouds): passed to
# `figure` with the numbers, kept out of result.json so the record stays small.
FIGURE_ONLY = "figure_only"
FULL_SEEDS, QUICK_SEEDS = 3, 1


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """One `reproduce` call: the record written as JSON, and where."""

    claim: Claim
    record: dict
    folder: Path

    @property
    def verdict(self) -> str:
        return self.record["verdict"]

    @property
    def summary(self) -> str:
        """"linear_regression: holds; w = 1.002 ± 0.003 over 3 seeds (rule: ...)"."""
        effect = effect_text(self.record)
        return f"{self.claim.id}: {self.verdict}{'; ' + effect if effect else ''} (rule: " \
               f"{self.record['rule']})"


def reproduce(claim_id: str, *, quick: bool = False, seeds: int | None = None,
              out: str | Path | None = None, say: Callable = print) -> Reproduction:
    """Run claim `claim_id` over seeds 0..seeds-1 and write its figure and JSON.

    Args:
        claim_id: A registered claim (`zoo.reproduce.list_claims()`).
        quick: The claim's quick budget (the same code, in under 30 s a seed).
        seeds: How many seeds (default 3 for a full run, at least 3; 1 for a quick one).
        out: The folder that gets `<claim>/figure.png` and `<claim>/result.json`
            (default: docs/reproductions for a full run, runs/reproduce for a quick one).
        say: Where progress lines go (one per seed).

    Returns:
        A `Reproduction`: the record (numbers per seed, the effect's mean ± std, the
        verdict, seconds, the zoo commit) and the folder written.

    Example:
        >>> result = zoo.reproduce.reproduce("linear_regression", quick=True, out="tmp")
        >>> result.verdict
        'holds'
    """
    claim = get_claim(claim_id)
    seeds = (QUICK_SEEDS if quick else FULL_SEEDS) if seeds is None else seeds
    check_positive_int("seeds", seeds)
    if not quick and seeds < FULL_SEEDS:
        raise ValueError(f"A full run measures at least {FULL_SEEDS} seeds (a quick run may "
                         f"use fewer: --quick). Received: seeds={seeds}")
    folder = Path(out if out is not None else (QUICK_DIR if quick else DOCS_DIR)) / claim.id
    start, cpu, runs, why = time.perf_counter(), _cpu_seconds(), [], None
    with tempfile.TemporaryDirectory(prefix=f"zoo-reproduce-{claim.id}-") as work:
        for seed in range(seeds):
            try:
                runs.append(_run_seed(claim, seed, quick, Path(work) / f"seed_{seed}"))
            except NotMeasured as exc:  # and nothing ran instead
                why = str(exc) or "the claim could not run here"
                break
            why = runs[-1].get("not_measured", why)
            say(_seed_line(claim, runs[-1]))
    figure_only = [r.pop(FIGURE_ONLY) for r in runs]  # drawn, not written to the JSON
    record = summarize(claim, runs, quick, time.perf_counter() - start, why)
    record["cpu_seconds"] = round(_cpu_seconds() - cpu, 1)
    folder.mkdir(parents=True, exist_ok=True)
    if runs:
        claim.figure([{**r["numbers"], **drawn} for r, drawn in zip(runs, figure_only)],
                     folder / FIGURE_FILE)
        record["figure"] = FIGURE_FILE
    write_text_atomic(folder / RESULT_FILE, json.dumps(jsonable(record), indent=1) + "\n")
    if folder.parent.resolve() == DOCS_DIR.resolve():
        write_docs_page()
    return Reproduction(claim, record, folder)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the budget is in CPU time:
    wall time depends on what else the machine runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_seed(claim: Claim, seed: int, quick: bool, work: Path) -> dict:
    import keras

    keras.utils.set_random_seed(seed)
    work.mkdir(parents=True)
    start = time.perf_counter()
    try:
        numbers, why = dict(claim.run(seed, quick, work)), None
    except NotMeasured as exc:
        if exc.numbers is None:
            raise
        # It ran something else instead (see `NotMeasured.numbers`): kept, drawn, not judged.
        numbers, why = dict(exc.numbers), str(exc) or "the claim could not run here"
    report = numbers.pop("report", None)
    drawn = numbers.pop(FIGURE_ONLY, {})
    numbers = {"seed": seed, **numbers}
    if why is not None:
        return {"seed": seed, "not_measured": why, "numbers": numbers, FIGURE_ONLY: drawn}
    failed = claim.failures(numbers)
    run = {"seed": seed, "seconds": round(time.perf_counter() - start, 2), "holds": not failed,
           "failed": failed, "numbers": numbers, FIGURE_ONLY: drawn}
    if report is not None:
        run["report"] = list(report)
    return run


def _seed_line(claim: Claim, run: dict) -> str:
    value = run["numbers"][claim.effect]
    if "not_measured" in run:
        return f"seed {run['seed']}: not measured ({run['not_measured']}); " \
               f"{claim.effect} = {value:.4g} instead"
    verdict = "holds" if run["holds"] else "fails: " + "; ".join(run["failed"])
    return f"seed {run['seed']}: {claim.effect} = {value:.4g}, {verdict} ({run['seconds']:.1f} s)"


def summarize(claim: Claim, runs: list[dict], quick: bool, seconds: float,
              why: str | None = None) -> dict:
    """The record of a claim's runs: the effect over seeds and the verdict by its rule."""
    measured = [r for r in runs if "not_measured" not in r]
    values = [float(r["numbers"][claim.effect]) for r in measured]
    mean = sum(values) / len(values) if values else None
    std = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
           if len(values) > 1 else 0.0 if values else None)
    held = sum(r["holds"] for r in measured)
    if why is not None:
        verdict = f"not measured: {why}"
    else:
        verdict = "holds" if held == len(runs) else "does not hold"
    record = {
        "claim": claim.id, "sentence": claim.sentence, "source": claim.source,
        "models": list(claim.models), "data": claim.data, "rule": claim.rule_text,
        "quick": quick, "budget": claim.budget.settings(quick), "verdict": verdict,
        "holds_in": (f"{held} of {len(measured)} seeds" if measured or not runs else
                     f"no seed measured; {len(runs)} ran instead, labelled"),
        "effect": {"name": claim.effect, "mean": mean, "std": std, "values": values},
        "seconds": round(seconds, 1), "cpus": os.cpu_count(), "commit": zoo_commit(),
        "runs": runs,
    }
    reports = [r["report"] for r in runs if "report" in r]
    if reports:
        record["report"] = reports[0]
    return record


def zoo_commit() -> str | None:
    """The checkout's short commit, "-dirty" when tracked files other than the reproduction
    records differ from it; None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode:
            return None
        changed = git("diff", "--quiet", "HEAD", "--", ".", ":(exclude)docs/reproductions",
                      ":(exclude)docs/reproductions.md")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if changed.returncode else "")
