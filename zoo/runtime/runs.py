"""`zoo runs`: the training runs under a folder, one row each (settings, status, best value).

Reads only run.json and history.csv files (no model is loaded, no TensorFlow).
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo.runtime.run import RUN_FILE, Run

# The settings every row shows; others appear under "other" when set.
KEY_SETTINGS = ("model", "dataset", "epochs", "batch_size", "learning_rate", "optimizer")
# Settings not shown: the builder's arguments and the data options follow the model and data.
_HIDDEN = ("builder_args", "data_options", "seed")
_OFF = (None, False, "constant", {}, [])


def list_runs(root: str | os.PathLike) -> list[dict]:
    """One dict per run folder under `root` (any depth), by folder: its key settings,
    the other settings that are set, status, epochs done, and the best value of its
    monitor (`val_loss` for most models) with its epoch."""
    rows = []
    for run_file in sorted(Path(root).rglob(RUN_FILE)):
        run = Run(run_file.parent, resolve=False)
        try:
            record = run.record()
        except ValueError as exc:  # a damaged run.json: listed, not fatal
            rows.append({"folder": str(run.folder), "status": f"unreadable ({exc})"})
            continue
        settings, history = record["settings"], run.history()
        monitor = record.get("monitor", "val_loss")
        scored = [r for r in history if monitor in r]
        best = min(scored, key=lambda r: r[monitor]) if scored else None
        row = {"folder": str(run.folder), **{k: settings.get(k) for k in KEY_SETTINGS}}
        row["other"] = {k: v for k, v in settings.items()
                        if k not in KEY_SETTINGS + _HIDDEN and v not in _OFF}
        row.update(status=record.get("status"), epochs_done=len(history), monitor=monitor,
                   best=best[monitor] if best else None,
                   best_epoch=best["epoch"] if best else None)
        if "stopped_epoch" in record:
            row["stopped_epoch"] = record["stopped_epoch"]
        if record.get("distribution"):
            row["strategy"] = record["distribution"].get("strategy")
        rows.append(row)
    return rows


def format_runs(rows: list[dict]) -> str:
    """`list_runs` rows as an aligned text table."""
    header = ("folder", "model", "dataset", "epochs", "batch", "lr", "optimizer", "other",
              "status", "done", "best")
    lines = [header]
    for row in rows:
        if "model" not in row:
            lines.append((row["folder"], "", "", "", "", "", "", "", row["status"], "", ""))
            continue
        other = " ".join(f"{k}={v}" for k, v in row["other"].items()) or "-"
        best = (f"{row['monitor']} {row['best']:.4g} (epoch {row['best_epoch']})"
                if row["best"] is not None else "-")
        done = str(row["epochs_done"]) + (" (stopped early)" if "stopped_epoch" in row else "")
        lines.append((row["folder"], row["model"], str(row["dataset"]), str(row["epochs"]),
                      str(row["batch_size"]), f"{row['learning_rate']:.4g}"
                      if isinstance(row["learning_rate"], (int, float)) else "-",
                      str(row["optimizer"]), other, str(row["status"]), done, best))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
                     for line in lines)
