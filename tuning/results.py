"""The results table of a search: one row per trial, as CSV, JSON and text."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from tuning.hypermodel import ZooHyperModel
from tuning.tuners import read_seconds
from zoo._common import write_text_atomic

RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
BEST_JSON = "best_hyperparameters.json"


def hyperparameter_names(tuner) -> list[str]:
    """Names in the tuner's search space, without Keras Tuner's own ("tuner/epochs").

    Ordered as the hypermodel declares them (the model's, then the training
    ones), not as the oracle registered them (fixed ones first).
    """
    names = [p.name for p in tuner.oracle.get_space().space if not p.name.startswith("tuner/")]
    declared = []
    if isinstance(tuner.hypermodel, ZooHyperModel):
        declared = [n for n in tuner.hypermodel.declared_names() if n in names]
    return declared + [n for n in names if n not in declared]


def trial_rows(tuner) -> list[dict]:
    """One row per trial: trial_id, status, each hyperparameter, score, seconds, error.

    Hyperband trials also get `epochs`, the budget of that trial.
    """
    names = hyperparameter_names(tuner)
    seconds = read_seconds(tuner.project_dir)
    # In start order: ids are zero-padded to the width of max_trials, which a
    # resumed search may have changed ("8" then "09"), so they do not sort as text.
    started = {trial_id: i for i, trial_id in enumerate(tuner.oracle.start_order)}
    trials = sorted(tuner.oracle.trials.values(),
                    key=lambda t: (started.get(t.trial_id, len(started)), t.trial_id))
    with_epochs = any("tuner/epochs" in t.hyperparameters.values for t in trials)
    rows = []
    for trial in trials:
        values = trial.hyperparameters.values
        row: dict[str, Any] = {"trial_id": trial.trial_id, "status": trial.status}
        row.update({name: values.get(name) for name in names})
        if with_epochs:
            row["epochs"] = values.get("tuner/epochs")
        row["score"] = _plain(trial.score)
        row["seconds"] = seconds.get(trial.trial_id)
        row["error"] = _last_line(trial.message) if trial.status != "COMPLETED" else None
        rows.append({k: _plain(v) for k, v in row.items()})
    return rows


def best_trial(tuner):
    """The best completed trial by the objective, or None when none completed."""
    completed = [t for t in tuner.oracle.get_best_trials(len(tuner.oracle.trials) or 1)
                 if t.status == "COMPLETED"]
    return completed[0] if completed else None


def write_table(rows: Sequence[dict], project_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write `results.csv` and `results.json` into `project_dir`."""
    project_dir = Path(project_dir)
    columns = _columns(rows)
    csv_path, json_path = project_dir / RESULTS_CSV, project_dir / RESULTS_JSON
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    write_text_atomic(csv_path, text.getvalue())
    write_json(json_path, list(rows))
    return csv_path, json_path


def read_table(project_dir: str | os.PathLike) -> list[dict]:
    """The rows of `results.json` in `project_dir`."""
    return json.loads((Path(project_dir) / RESULTS_JSON).read_text())


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """The results table as aligned text, for a terminal.

    Numbers are right-aligned (floats to 4 significant digits), text is
    left-aligned, a missing value is shown as "-".

    Example:
        >>> print(format_table([{"trial_id": "0", "score": 0.12345, "seconds": 1.5}]))
        trial_id   score  seconds
        --------  ------  -------
        0         0.1235      1.5
    """
    columns = list(columns) if columns is not None else _columns(rows)
    if not columns:
        return ""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    numeric = [
        all(_is_number(row.get(c)) or row.get(c) is None for row in rows)
        and any(_is_number(row.get(c)) for row in rows)
        for c in columns
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values):
        parts = [
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def write_json(path: Path, data) -> None:
    """Write `data` as indented JSON, atomically (NumPy scalars and paths as plain values)."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_plain_default))


def _columns(rows: Sequence[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _last_line(message: str | None) -> str | None:
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    return lines[-1] if lines else None


def _plain(value):
    """NumPy scalars as Python numbers and NaN as None, so rows serialize as JSON."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _plain_default(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
