"""The run folder of `zoo train`: one `Run` object owns its files.

    runs/<model>-<dataset>/       the group: one version folder per set of settings
        version_0/
            run.json          settings and status ("running" or "completed")
            history.csv       one row per finished epoch (Keras CSVLogger)
            curves.png        loss and metrics against epoch, written when the run finishes
            logs/             TensorBoard event files
            backup/           Keras BackupAndRestore state, deleted on completion
            best.keras        the best epoch by the spec's monitor (val_loss)
            model.keras       the final model, with its optimizer state (extending the run
                              starts from it)
            vocabulary.json   a token model's vocabulary (language models, word vectors)

Every reader of a run folder goes through `Run`: its settings and status, its
history, its checkpoints, its vocabulary, its model and its data plan. A reader
given a group folder reads its newest completed version (`resolve_run_folder`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from zoo._common import atomic_path, version_folders, write_text_atomic

if TYPE_CHECKING:  # imported when a plan is made: `zoo runs` reads run.json files only
    from zoo.registry import ModelSpec
    from zoo.runtime.plan import DataPlan

CHECKPOINTS = {"best": "best.keras", "final": "model.keras"}
VOCABULARY_FILE = "vocabulary.json"
RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"

RUN_FOLDER = ("A run folder is what `zoo train` writes: runs/<model>-<dataset>/version_<N>, "
              "holding run.json and best.keras.")


class RunFolderError(FileNotFoundError, ValueError):
    """A folder is not a `zoo train` run folder, or lacks the checkpoint asked for.

    A FileNotFoundError for the callers that catch one, and a ValueError, so that
    `zoo` reports it as one `zoo: error: ...` line.
    """


def read_history(path: str | os.PathLike) -> list[dict]:
    """Rows of a CSVLogger file, one per finished epoch (duplicates dropped)."""
    path = Path(path)
    if not path.exists():
        return []
    rows: dict[int, dict] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row.pop("epoch"))
            rows[epoch] = {"epoch": epoch, **{k: float(v) for k, v in row.items() if v != ""}}
    return [rows[e] for e in sorted(rows)]


def write_history(path: str | os.PathLike, rows: list[dict]) -> None:
    """Replace a history file by `rows` (none: remove it), as CSVLogger writes them."""
    path = Path(path)
    if not rows:
        path.unlink(missing_ok=True)
        return
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=["epoch"] + [k for k in rows[0] if k != "epoch"])
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())


def run_identity(settings: dict) -> dict:
    """The settings that make a run a different run: all but `epochs`, which a rerun may
    raise to extend a finished run. A cosine schedule decays to zero over its epochs, so
    there `epochs` is part of the run (a longer cosine run is a new run)."""
    if settings.get("lr_schedule") == "cosine":
        return dict(settings)
    return {k: v for k, v in settings.items() if k != "epochs"}


def settings_differ(before: dict, settings: dict) -> list[str]:
    """The settings by which `before` (a recorded run) is another run than `settings`."""
    before, settings = run_identity(before or {}), run_identity(settings)
    return sorted(k for k in set(settings) | set(before) if before.get(k) != settings.get(k))


def _is_group(folder: Path) -> bool:
    """Whether `folder` holds version folders of runs, and no run itself."""
    return not (folder / RUN_FILE).is_file() and bool(version_folders(folder))


def resolve_run_folder(folder: str | os.PathLike) -> tuple[Path, str | None]:
    """The run folder to read for `folder`, and a note saying which one when it was a group.

    A group folder (`runs/<model>-<dataset>`, holding `version_N` run folders) gives
    its newest completed version (the highest N); any other folder is itself.
    A group without a completed version is a `RunFolderError` naming its versions.
    """
    folder = Path(folder)
    if not _is_group(folder):
        return folder, None
    versions = [v for v in version_folders(folder) if (v / RUN_FILE).is_file()]
    names = ", ".join(v.name for v in versions)
    held = f"{folder} holds {len(versions)} run{'s' if len(versions) != 1 else ''} ({names})"
    completed = [v for v in versions if Run(v, resolve=False).status == "completed"]
    if not completed:
        raise RunFolderError(f"{held}, none completed. Name one version folder to read an "
                             f"unfinished run, e.g. {versions[-1] if versions else folder}.")
    return completed[-1], f"{held}; using {completed[-1].name}, the newest completed."


class Run:
    """A `zoo train` run folder: its settings, status, history, checkpoints,
    vocabulary, model and data plan.

    Reading needs the folder to hold a run (`run.json`); `RunFolderError` says
    why one that does not is no run folder. A group folder (`runs/<model>-<dataset>`)
    stands for its newest completed version (`resolve_run_folder`; `note` says which),
    unless `resolve` is False.

    Example:
        >>> run = Run("runs/mlp-digits")
        >>> run.folder, run.settings["epochs"], run.status
        (PosixPath('runs/mlp-digits/version_0'), 10, 'completed')
        >>> model = run.load("best")
    """

    def __init__(self, folder: str | os.PathLike, resolve: bool = True):
        self.folder, self.note = resolve_run_folder(folder) if resolve else (Path(folder), None)

    def __repr__(self) -> str:
        return f"Run({str(self.folder)!r})"

    # --- the files ---

    @property
    def run_file(self) -> Path:
        return self.folder / RUN_FILE

    @property
    def history_file(self) -> Path:
        return self.folder / HISTORY_FILE

    @property
    def vocabulary_file(self) -> Path:
        return self.folder / VOCABULARY_FILE

    @property
    def backup_dir(self) -> Path:
        return self.folder / "backup"

    @property
    def logs_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def curves_file(self) -> Path:
        return self.folder / CURVES_FILE

    def exists(self) -> bool:
        """Whether the folder holds a run (a `run.json`)."""
        return self.run_file.is_file()

    # --- reading ---

    def record(self) -> dict:
        """The run.json (settings and status), checked: a folder without one raises
        `RunFolderError`, a damaged one a ValueError naming the file."""
        if not self.run_file.is_file():
            raise RunFolderError(self._not_a_run_folder())
        try:
            record = json.loads(self.run_file.read_text())
            problem = None if isinstance(record, dict) and isinstance(
                record.get("settings"), dict) else 'no "settings" object'
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            problem = str(exc)
        if problem is not None:
            raise ValueError(f"{self.run_file} is corrupt: not the JSON that `zoo train` writes "
                             f"({problem}). Restore it, or train again in a new run folder.")
        return record

    @property
    def settings(self) -> dict:
        return self.record()["settings"]

    @property
    def status(self) -> str | None:
        """"running" or "completed"."""
        return self.record().get("status")

    def history(self) -> list[dict]:
        """One row per finished epoch."""
        return read_history(self.history_file)

    def checkpoint(self, which: str = "best") -> Path:
        """The `best.keras` or final `model.keras` (`CHECKPOINTS`), which must exist."""
        if which not in CHECKPOINTS:
            raise ValueError(f"`checkpoint` must be one of {', '.join(map(repr, CHECKPOINTS))}. "
                             f"Received: checkpoint={which!r}")
        path = self.folder / CHECKPOINTS[which]
        if not path.exists():
            raise RunFolderError(f"{path} does not exist (has the run finished an epoch?).")
        return path

    def load(self, checkpoint: str = "best", compile: bool = True):
        """The model of a checkpoint (`load_model`: safe mode)."""
        return load_model(self.checkpoint(checkpoint), compile=compile)

    def vocabulary(self) -> tuple[str, ...]:
        """The token vocabulary saved with a token model (`[UNK]` first)."""
        from pipelines.text import read_vocabulary

        return read_vocabulary(self.vocabulary_file)

    def plan(self) -> tuple[ModelSpec, DataPlan]:
        """The spec and data plan the run was trained with.

        A token model's plan uses the vocabulary saved in the run folder, so a
        changed corpus cannot silently change token ids.
        """
        from zoo.registry import get_spec
        from zoo.runtime.plan import plan_data

        settings = self.settings
        spec = get_spec(settings["model"])

        def tuples(d):
            return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

        data_options = tuples(settings["data_options"])
        if self.vocabulary_file.exists():
            data_options["vocabulary"] = str(self.vocabulary_file)
        plan = plan_data(spec, settings["dataset"], tuples(settings["builder_args"]), data_options)
        return spec, plan

    def finished_epochs(self) -> int:
        """Epochs already finished according to the backup (BackupAndRestore's metadata)."""
        meta = self.backup_dir / "training_metadata.json"
        if meta.exists():
            try:
                # Keras writes the number of finished epochs.
                return int(json.loads(meta.read_text()).get("epoch", 0))
            except (ValueError, OSError):
                return 0
        return 0

    def check_settings(self, settings: dict) -> dict | None:
        """The run.json of the run this folder holds (None: no run yet); refuses a run with
        other settings (`epochs` may differ: a rerun resumes or extends)."""
        if not self.run_file.exists():
            return None
        record = self.record()
        changed = settings_differ(record.get("settings"), settings)
        if changed:
            raise ValueError(
                f"Run folder {self.folder} holds a run with other settings (differs in: "
                f"{', '.join(changed)}). Use another --run-dir, or delete that folder."
            )
        return record

    def is_completed(self) -> bool:
        """Whether the run finished (status "completed" and its final model saved)."""
        return self.status == "completed" and (self.folder / CHECKPOINTS["final"]).exists()

    def restore_backup_from_final(self, epochs_done: int) -> None:
        """Make the backup a completed run's final state, so that training continues from
        it: the final model's weights and optimizer state (the `model.weights.h5` of
        `model.keras`, the layout Keras' BackupAndRestore reads) after `epochs_done` epochs."""
        import zipfile

        self.backup_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(self.folder / CHECKPOINTS["final"]) as archive, \
                atomic_path(self.backup_dir / "latest.weights.h5") as tmp:
            tmp.write_bytes(archive.read("model.weights.h5"))
        write_text_atomic(self.backup_dir / "training_metadata.json",
                          json.dumps({"epoch": epochs_done, "batch": 0}))

    # --- writing ---

    def write_record(self, settings: dict, status: str, distribution: dict | None = None,
                     **extra) -> None:
        """Write run.json: the settings, the status, (when known) how it was distributed,
        and `extra` facts of the finished run (epochs done, the epoch it stopped at)."""
        record = {"settings": settings, "status": status, **extra}
        if distribution is not None:
            record["distribution"] = distribution
        write_text_atomic(self.run_file, json.dumps(record, indent=2, sort_keys=True))

    def write_history(self, rows: list[dict]) -> None:
        write_history(self.history_file, rows)

    def write_vocabulary(self, tokens) -> None:
        """Save a token model's vocabulary with it (`zoo generate`, exports)."""
        from pipelines.text import write_vocabulary

        write_vocabulary(tokens, self.vocabulary_file)

    @contextlib.contextmanager
    def removed_unless_an_epoch_finishes(self, new_run: bool):
        """Undo a new run that fails before its first epoch ends: remove the files and
        folders it created (never anything that was there before), so the corrected
        command starts afresh instead of meeting a "running" stub with other settings."""
        folder = self.folder
        created = list(itertools.takewhile(lambda p: not p.exists(), (folder, *folder.parents)))
        before = set(folder.iterdir()) if folder.is_dir() else set()
        try:
            yield
        except BaseException:
            if new_run and not self.history():
                for path in (set(folder.iterdir()) if folder.is_dir() else set()) - before:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                for parent in created:  # deepest first; a folder others wrote into stays
                    with contextlib.suppress(OSError):
                        parent.rmdir()
            raise

    def _not_a_run_folder(self) -> str:
        """Why the folder is no run folder, with what one is (and, for a search, what to run)."""
        if (self.folder / "oracle.json").is_file():
            return (f"{self.folder} is a search project (oracle.json), not a run folder. "
                    f"{RUN_FOLDER} To export a search's best model, run `zoo tune ... --export` "
                    "(it trains the best configuration in <project>/best_trial_<id>, a run folder).")
        reason = "no run.json" if self.folder.is_dir() else "it does not exist"
        return f"{self.folder} is not a run folder ({reason}). {RUN_FOLDER}"


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
