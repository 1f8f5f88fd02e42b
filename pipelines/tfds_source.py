"""TFDS catalog datasets, with an offline check that fails in seconds.

Offline, `tfds.load` of a dataset that is not prepared retries its downloads
for minutes before failing. `ensure_prepared` decides up front: prepared
data is used as is; source files found in `manual_dir` are prepared from
there offline; otherwise a quick reachability probe of the download hosts
either lets TFDS download or raises `DatasetUnavailableError` naming the
files and the folder to put them in.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from pathlib import Path

PROBE_TIMEOUT_S = 2.0


class DatasetUnavailableError(RuntimeError):
    """A dataset is not prepared and cannot be downloaded from here."""


def default_data_dir() -> Path:
    return Path(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")).expanduser()


def default_manual_dir(data_dir: Path) -> Path:
    return data_dir / "downloads" / "manual"


def forced_offline() -> bool:
    """`ZOO_OFFLINE=1` skips the network probe and treats hosts as unreachable."""
    return os.environ.get("ZOO_OFFLINE", "").lower() in ("1", "true", "yes")


def hosts_reachable(hosts: list[str], timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when every host accepts a TCP connection on 443 within `timeout`.

    The probe runs in daemon threads joined with a deadline, because a DNS
    lookup cannot be given a timeout of its own.
    """
    results: dict[str, bool] = {}

    def probe(host: str) -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                results[host] = True
        except OSError:
            results[host] = False

    threads = [threading.Thread(target=probe, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return all(results.get(h, False) for h in hosts)


def builder(name: str, data_dir: str | os.PathLike | None = None):
    """The TFDS builder for `name`, with close matches for unknown names."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=str(data_dir) if data_dir else None)
    except tfds.core.registered.DatasetNotFoundError:
        import difflib

        from pipelines.builtin import BUILTINS

        # A built-in name may also be a TFDS name (iris): each candidate once.
        candidates = list(dict.fromkeys([*BUILTINS, *tfds.list_builders()]))
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown dataset {name!r}: not built in and not in the TFDS catalog.{hint} "
            "See pipelines.list_datasets()."
        ) from None


def ensure_prepared(
    name: str,
    data_dir: str | os.PathLike | None = None,
    manual_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
):
    """Return a prepared TFDS builder, or fail fast explaining what to do."""
    import tensorflow_datasets as tfds

    data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
    b = builder(name, data_dir)
    if b.is_prepared():
        return b
    manual = Path(manual_dir).expanduser() if manual_dir else default_manual_dir(data_dir)
    url_infos = dict(b.url_infos or {})
    needs_manual = bool(getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", None))
    missing = {
        url: info.filename
        for url, info in url_infos.items()
        if not info.filename or not (manual / info.filename).exists()
    }
    have_all_files = bool(url_infos) and not missing
    if have_all_files or (needs_manual and manual.is_dir() and any(manual.iterdir())):
        _prepare(b, manual)
        return b

    if offline is None:
        offline = forced_offline()
    hosts = sorted({urllib.parse.urlparse(u).hostname for u in missing if u})
    if not offline and not needs_manual and hosts and hosts_reachable(hosts):
        _prepare(b, manual)  # online: let TFDS download as usual
        return b

    where = f"data_dir {data_dir}"
    if needs_manual:
        # One line, as every `zoo: error:` is: TFDS' instructions span several.
        instructions = " ".join(b.MANUAL_DOWNLOAD_INSTRUCTIONS.split())
        what = (
            f"It needs files you download by hand. Put them in the manual_dir {manual} "
            f"(or pass manual_dir=...). TFDS says: {instructions}"
        )
    elif missing and all(missing.values()):
        listing = "; ".join(f"{fname} (from {url})" for url, fname in sorted(missing.items()))
        what = (
            f"Its source files cannot be downloaded ({'offline mode' if offline else 'unreachable: ' + ', '.join(hosts)}). "
            f"Put these files in the manual_dir {manual} (or pass manual_dir=...) and TFDS "
            f"prepares the dataset offline: {listing}"
        )
    else:
        what = (
            "Its source files cannot be downloaded and TFDS does not list their file names. "
            f"Prepare it on a machine with network access (tfds.load({name!r})) and copy "
            f"its folder {name}/ into {data_dir}."
        )
    raise DatasetUnavailableError(f"Dataset {name!r} is not prepared in {where}. {what}")


def _prepare(b, manual: Path) -> None:
    import tensorflow_datasets as tfds

    b.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual))
    )
