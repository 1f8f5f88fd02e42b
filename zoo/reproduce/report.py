"""What the committed records say: `zoo reproduce --list` and docs/reproductions.md.

Both are made from the claims' JSON records under docs/reproductions/ and never
edited by hand: `python -m zoo.reproduce` rewrites the page (a full run does it
too), and a test checks that the committed page matches.
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo._common import write_text_atomic
from zoo.reproduce.claim import get_claim, list_claims
ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = ROOT / "docs" / "reproductions"
RESULT_FILE, FIGURE_FILE = "result.json", "figure.png"
DOCS_PAGE = DOCS_DIR.parent / "reproductions.md"
NOT_RECORDED = "not measured: no full run recorded"

PAGE_HEADER = """\
# Reproductions

Claims from papers and tutorials, each rerun with the zoo's own `zoo.train`
and registered models. A claim is one module under `zoo/reproduce/claims/`
declaring its sentence, source, models, data, budget and verdict rule; the
rule is stated before the first run and never tuned afterwards. A claim
holds when its rule holds in every seed (at least 3 for a full run). The
effect is the mean ± sample standard deviation over seeds.

```bash
zoo reproduce --list
zoo reproduce linear_regression --quick --out quick_check
```

A full run (`zoo reproduce CLAIM`) writes `reproductions/<claim>/figure.png`
and `result.json` (every seed's numbers, the commit it ran at) and rewrites
this page, which `python -m zoo.reproduce` regenerates from the JSON files.
A claim that cannot measure here (style transfer without the ImageNet VGG19
file) says why in its verdict; what it ran instead is drawn, labelled, and
decides nothing. The default test suite runs every claim's quick form; the
slow suite checks that each quick effect, over 3 seeds, points the way of the
full record.
"""


def effect_text(record: dict) -> str:
    """"w = 1.002 ± 0.003 over 3 seeds", or "" when nothing was measured."""
    effect = record.get("effect") or {}
    if effect.get("mean") is None:
        return ""
    n = len(effect["values"])
    return (f"{effect['name']} = {effect['mean']:.4g} ± {effect['std']:.2g} over "
            f"{n} seed{'s' if n != 1 else ''}")


def read_record(claim_id: str, root: str | Path = DOCS_DIR) -> dict | None:
    """The JSON record of `claim_id` under `root`, None when there is none."""
    path = Path(root) / claim_id / RESULT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _cpu_text(record: dict) -> str:
    cpu = record.get("cpu_seconds")
    return "" if cpu is None else f" ({_seconds(cpu)} of CPU time)"


def _seconds(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def list_rows(root: str | Path = DOCS_DIR) -> list[dict]:
    """One row per registered claim: its sentence, source and last record's figures."""
    rows = []
    for claim_id in list_claims():
        claim, record = get_claim(claim_id), read_record(claim_id, root)
        rows.append({
            "claim": claim_id, "sentence": claim.sentence, "source": claim.source,
            "rule": claim.rule_text, "effect": effect_text(record) if record else "",
            "verdict": record["verdict"] if record else NOT_RECORDED,
            "seconds": record.get("seconds") if record else None,
            "cpu_seconds": record.get("cpu_seconds") if record else None,
            "quick": bool(record and record.get("quick")),
            "figure": record.get("figure") if record else None,
        })
    return rows


def format_list(root: str | Path = DOCS_DIR) -> str:
    """The `zoo reproduce --list` table: a row per claim, its sentence and source below."""
    rows = list_rows(root)
    cells = [(r["claim"], r["verdict"] + (" (quick)" if r["quick"] else ""),
              r["effect"] or "-", _seconds(r["seconds"]), _seconds(r["cpu_seconds"]))
             for r in rows]
    header = ("claim", "verdict", "last measured", "wall time", "CPU time")
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for row, cell in zip(rows, cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip())
        lines.append(f"    {row['sentence']}")
        lines.append(f"    source: {row['source']}")
    return "\n".join(lines)


def docs_page(root: str | Path = DOCS_DIR) -> str:
    """docs/reproductions.md: the header, then a table with thumbnails, numbers and verdicts,
    then each claim's rule and per-seed numbers."""
    rows = list_rows(root)
    lines = [PAGE_HEADER, "| claim | figure | verdict | effect (mean ± std) | wall time | CPU time | source |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        figure = (f'[<img src="reproductions/{row["claim"]}/{FIGURE_FILE}" width="160">]'
                  f'(reproductions/{row["claim"]}/{FIGURE_FILE})' if row["figure"] else "")
        lines.append(f"| [`{row['claim']}`](#{row['claim']}) | {figure} | {row['verdict']} | "
                     f"{row['effect'] or '-'} | {_seconds(row['seconds'])} | "
                     f"{_seconds(row['cpu_seconds'])} | {row['source'].replace('|', '/')} |")
    for row in rows:
        lines += ["", f"## {row['claim']}", "", row["sentence"], "",
                  f"- Source: {row['source']}", f"- Rule: {row['rule']}"]
        lines += _record_lines(get_claim(row["claim"]), read_record(row["claim"], root))
    return "\n".join(lines) + "\n"


def _seed_mark(run: dict) -> str:
    if "not_measured" in run:
        return " (not measured: ran instead on what the claim had)"
    return "" if run["holds"] else " (fails)"


def _record_lines(claim, record: dict | None) -> list[str]:
    if record is None:
        return [f"- Verdict: {NOT_RECORDED}"]
    seeds = ", ".join(f"{r['seed']}: {r['numbers'][claim.effect]:.4g}{_seed_mark(r)}"
                      for r in record["runs"])
    budget = ", ".join(f"{k}={v}" for k, v in record["budget"].items())
    lines = [f"- Models: {', '.join(f'`{m}`' for m in record['models'])}; data: {record['data']}",
             f"- Budget: {budget}{' (quick)' if record['quick'] else ''}",
             f"- Verdict: **{record['verdict']}** ({record['holds_in']}); "
             f"{effect_text(record)}; {claim.effect} by seed: {seeds}",
             f"- Time: {_seconds(record['seconds'])}{_cpu_text(record)} on "
             f"{record.get('cpus', '?')} CPU cores, at commit "
             f"`{record.get('commit') or 'unknown'}`"]
    lines += [f"- Seed {r['seed']} fails: {'; '.join(r['failed'])}"
              for r in record["runs"] if r.get("failed")]
    if record.get("report"):
        lines += ["", "```text", *record["report"], "```"]
    return lines


def write_docs_page(root: str | Path = DOCS_DIR, page: str | Path = DOCS_PAGE) -> Path:
    """Rewrite docs/reproductions.md from the records under `root`."""
    write_text_atomic(page, docs_page(root))
    return Path(page)
