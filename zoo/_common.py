"""Argument checks and small helpers shared by every layer (no TensorFlow, no Keras:
`zoo list` and `zoo info` import this without loading them)."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import math
import numbers
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


def check_choice(arg: str, value: Any, choices: Iterable[Any]) -> None:
    """Fail with the received value and the accepted ones."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(
            f"`{arg}` must be one of {', '.join(repr(c) for c in choices)}. "
            f"Received: {arg}={value!r}"
        )


def check_positive_int(arg: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{arg}` must be an integer >= {minimum}. Received: {arg}={value!r}")


def check_finite_number(arg: str, value: Any, allow_zero: bool = False) -> None:
    """Refuse anything but a finite real number > 0 (>= 0 with `allow_zero`)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 or (allow_zero and value == 0)))
    if not ok:
        raise ValueError(f"`{arg}` must be a finite number {'>=' if allow_zero else '>'} 0. "
                         f"Received: {arg}={value!r}")


def check_rate(arg: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{arg}` must be a float in [0, 1). Received: {arg}={value!r}")


def as_shape(arg: str, value: Any, rank: int | None = None) -> tuple[int, ...]:
    """Validate an `input_shape` (no batch dimension)."""
    try:
        shape = tuple(int(d) for d in value)
    except TypeError:
        raise ValueError(f"`{arg}` must be a tuple of ints. Received: {arg}={value!r}") from None
    if rank is not None and len(shape) != rank:
        raise ValueError(
            f"`{arg}` must have {rank} dimension(s). Received: {arg}={value!r}"
        )
    if any(d < 1 for d in shape):
        raise ValueError(f"`{arg}` dimensions must be >= 1. Received: {arg}={value!r}")
    return shape


FOLDER_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_folder_name(arg: str, value: Any) -> None:
    """Refuse a name that is not one plain folder: letters, digits, `.`, `_`, `-`,
    not starting with a dot (so no `..`, no separators, nothing hidden)."""
    if not isinstance(value, str) or not FOLDER_NAME.fullmatch(value):
        raise ValueError(
            f"`{arg}` must be a plain folder name: letters, digits, '.', '_' or '-', not "
            f"starting with a dot. Received: {arg}={value!r}"
        )


def safe_folder_name(text: str, max_length: int = 64) -> str:
    """A folder name derived from any string (a dataset name or path): the
    non-empty path parts other than `.`/`..` joined by `_`, other characters
    replaced by `_`. A name that had to change gets a short hash of the original,
    so two different strings never share a folder."""
    parts = [p for p in re.split(r"[\\/]+", str(text)) if p not in ("", ".", "..")]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", "_".join(parts)).lstrip(".") or "data"
    if name == text and len(name) <= max_length:
        return name
    digest = hashlib.sha256(str(text).encode()).hexdigest()[:8]
    return f"{name[:max_length - 9]}-{digest}"


def check_writable_folder(arg: str, value: Any) -> None:
    """Refuse, before anything is written, a folder this process can neither write
    nor create: the nearest existing one of it and its parents must be a folder
    it may write (a read-only folder or filesystem fails here, not half-way)."""
    path = existing = Path(value).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"`{arg}` must be a folder; {existing} is a file. "
                         f"Received: {arg}={os.fspath(value)!r}")
    effective = os.access in os.supports_effective_ids
    if not os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        where = "" if existing == path else " (where it would be created)"
        raise ValueError(f"`{arg}` must be a folder this process can write (or create); "
                         f"{existing}{where} is not writable. Received: {arg}={os.fspath(value)!r}")


def jsonable(value):
    """Settings and metadata as plain JSON values: tuples to lists, NumPy scalars
    to Python numbers, paths to strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def no_architecture_choices(hp) -> dict:
    """Search space of a model whose architecture is fixed by definition.

    Only the shared training choices (learning rate, batch size) are searched.
    """
    return {}


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (signal 0 only asks)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def temporary_path(path: str | os.PathLike, pid: int | None = None) -> Path:
    """The hidden temporary `atomic_path` writes `path` through, for process `pid`
    (this one by default) of this machine: `.tmp-<host>-<pid>-<name>` beside it."""
    path = Path(path)
    return path.with_name(f".tmp-{_host()}-{os.getpid() if pid is None else pid}-{path.name}")


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries of `path` that dead processes of this machine left
    (a killed write); those of live processes, or of other machines, stay."""
    pattern = re.compile(rf"\.tmp-(?P<host>.+)-(?P<pid>\d+)-{re.escape(path.name)}")
    for stale in path.parent.glob(f".tmp-*-{glob.escape(path.name)}"):
        match = pattern.fullmatch(stale.name)
        if match and match["host"] == _host() and not pid_alive(int(match["pid"])):
            _remove(stale)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write into; it replaces `path` when the block
    ends without an error, and is removed otherwise, so readers never see half a file.

    A file written this way is readable by all (0644). Temporaries of `path` that
    a killed process left behind are removed first.

    Example:
        >>> with atomic_path("runs/x/run.json") as tmp:
        ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        if tmp.is_file():
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` through `atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


VERSION_PREFIX = "version_"


def version_folders(group: str | os.PathLike) -> list[Path]:
    """The `version_N` folders of `group`, by N (none when `group` is no folder)."""
    group = Path(group)
    if not group.is_dir():
        return []
    found = []
    for path in group.iterdir():
        number = path.name[len(VERSION_PREFIX):]
        if path.name.startswith(VERSION_PREFIX) and number.isdigit() and path.is_dir():
            found.append((int(number), path))
    return [path for _, path in sorted(found)]


def versioned_folder(group: str | os.PathLike, holds_same: Callable[[Path], bool]) -> Path:
    """The `version_N` folder of `group` for one set of settings, as TensorBoard and
    Lightning users know them: the first existing one for which `holds_same(folder)` is
    true (the same command resumes its own run), else the next free `version_N`
    (`version_0` first; a number is never reused)."""
    versions = version_folders(group)
    for folder in versions:
        if holds_same(folder):
            return folder
    number = int(versions[-1].name[len(VERSION_PREFIX):]) + 1 if versions else 0
    return Path(group) / f"{VERSION_PREFIX}{number}"
