"""The run folder: its files, the checks on them, and loading its models.

See `zoo.runtime.training` for the layout a `zoo train` run writes.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import shutil
from pathlib import Path

from zoo.registry import ModelSpec, get_spec
from zoo.runtime.plan import DataPlan, plan_data


def read_history(path: Path) -> list[dict]:
    """Rows of a CSVLogger file, one per finished epoch (duplicates dropped)."""
    if not path.exists():
        return []
    rows: dict[int, dict] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row.pop("epoch"))
            rows[epoch] = {"epoch": epoch, **{k: float(v) for k, v in row.items() if v != ""}}
    return [rows[e] for e in sorted(rows)]


def _backup_epoch(backup_dir: Path) -> int:
    """Epochs already finished according to BackupAndRestore's metadata."""
    meta = backup_dir / "training_metadata.json"
    if meta.exists():
        try:
            # Keras writes the number of finished epochs.
            return int(json.loads(meta.read_text()).get("epoch", 0))
        except (ValueError, OSError):
            return 0
    return 0


def _previous_run_completed(run_dir: Path, settings: dict) -> bool:
    """Whether `run_dir` holds this run, completed; refuses a run with other settings."""
    run_file = run_dir / "run.json"
    if not run_file.exists():
        return False
    previous = read_run_file(run_dir)
    if previous.get("settings") != settings:
        before = previous.get("settings", {})
        changed = sorted(k for k in set(settings) | set(before)
                         if before.get(k) != settings.get(k))
        raise ValueError(
            f"Run folder {run_dir} holds a run with other settings (differs in: "
            f"{', '.join(changed)}). Use another --run-dir, or delete that folder."
        )
    return previous.get("status") == "completed" and (run_dir / "model.keras").exists()


@contextlib.contextmanager
def _removed_unless_an_epoch_finishes(run_dir: Path, new_run: bool):
    """Undo a new run that fails before its first epoch ends: remove the files and
    folders it created (never anything that was there before), so the corrected
    command starts afresh instead of meeting a "running" stub with other settings."""
    created = list(itertools.takewhile(lambda p: not p.exists(), (run_dir, *run_dir.parents)))
    before = set(run_dir.iterdir()) if run_dir.is_dir() else set()
    try:
        yield
    except BaseException:
        if new_run and not read_history(run_dir / "history.csv"):
            for path in (set(run_dir.iterdir()) if run_dir.is_dir() else set()) - before:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for folder in created:  # deepest first; a folder others wrote into stays
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


VOCABULARY_FILE = "vocabulary.json"


class RunFolderError(FileNotFoundError, ValueError):
    """A folder is not a `zoo train` run folder, or lacks the checkpoint asked for.

    A FileNotFoundError for the callers that catch one, and a ValueError, so that
    `zoo` reports it as one `zoo: error: ...` line.
    """


RUN_FOLDER = ("A run folder is what `zoo train` writes: runs/<model>-<dataset>, holding "
              "run.json and best.keras.")


def _not_a_run_folder(run_dir: Path) -> str:
    """Why `run_dir` is no run folder, with what one is (and, for a search, what to run)."""
    if (run_dir / "oracle.json").is_file():
        return (f"{run_dir} is a search project (oracle.json), not a run folder. {RUN_FOLDER} "
                "To export a search's best model, run `zoo tune ... --export` (it trains the "
                "best configuration in <project>/best_trial_<id>, a run folder).")
    reason = "no run.json" if run_dir.is_dir() else "it does not exist"
    return f"{run_dir} is not a run folder ({reason}). {RUN_FOLDER}"


def read_run_file(run_dir: str | os.PathLike) -> dict:
    """The run.json of a run folder (settings and status), checked: a folder without
    one raises `RunFolderError`, a damaged one a ValueError naming the file."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise RunFolderError(_not_a_run_folder(run_dir))
    try:
        record = json.loads(path.read_text())
        problem = None if isinstance(record, dict) and isinstance(
            record.get("settings"), dict) else 'no "settings" object'
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        problem = str(exc)
    if problem is not None:
        raise ValueError(f"{path} is corrupt: not the JSON that `zoo train` writes ({problem}). "
                         "Restore it, or train again in a new run folder.")
    return record


def plan_from_run(run_dir: str | os.PathLike) -> tuple[ModelSpec, DataPlan]:
    """The spec and data plan a `zoo train` run folder was trained with.

    A language model's plan uses the vocabulary saved in the run folder, so
    a changed corpus cannot silently change token ids.
    """
    run_dir = Path(run_dir)
    settings = read_run_file(run_dir)["settings"]
    spec = get_spec(settings["model"])

    def tuples(d):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    data_options = tuples(settings["data_options"])
    if (run_dir / VOCABULARY_FILE).exists():
        data_options["vocabulary"] = str(run_dir / VOCABULARY_FILE)
    plan = plan_data(spec, settings["dataset"], tuples(settings["builder_args"]), data_options)
    return spec, plan


CHECKPOINTS = {"best": "best.keras", "final": "model.keras"}


def checkpoint_path(run_dir: str | os.PathLike, checkpoint: str = "best") -> Path:
    """The `best.keras` or final `model.keras` of a run folder, which must exist."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"`checkpoint` must be one of {', '.join(map(repr, CHECKPOINTS))}. "
                         f"Received: checkpoint={checkpoint!r}")
    path = Path(run_dir) / CHECKPOINTS[checkpoint]
    if not path.exists():
        raise RunFolderError(f"{path} does not exist (has the run finished an epoch?).")
    return path


def load_model(path: str | os.PathLike, compile: bool = True):
    """Load a `.keras` file with `safe_mode=True` (never arbitrary code).

    A truncated, random or damaged file is a ValueError naming it (Keras itself
    says "File not found" for a file that is there but no zip archive).
    """
    import zipfile

    import keras

    import pipelines.layers  # noqa: F401  (registers preprocessing layers)
    import zoo.layers  # noqa: F401
    import zoo.models  # noqa: F401
    import zoo.tasks.word_vectors  # noqa: F401  (registers WordLookup, served word vectors)
    from zoo.runtime.precision import dtype_policy, saved_policy

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model file (a .keras zip archive): it is "
                         "truncated or corrupt.")
    # A mixed-precision model loads under its own policy: a few Keras ops read the
    # global policy when called, not the layer's.
    with dtype_policy(saved_policy(path)):
        try:
            return keras.saving.load_model(str(path), compile=compile, safe_mode=True)
        except (zipfile.BadZipFile, KeyError, EOFError, OSError, json.JSONDecodeError) as exc:
            # Missing or damaged members: config.json, metadata.json, model.weights.h5.
            raise ValueError(
                f"{path} is a corrupt Keras model file ({type(exc).__name__}: {exc})."
            ) from None


def _rewrite_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    keys = ["epoch"] + [k for k in rows[0] if k != "epoch"]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
