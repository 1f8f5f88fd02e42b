"""TFDS catalog datasets: what a catalog name holds, its source, and an offline check
that fails in seconds.

`catalog_kind` reads a name's features (never its data) to tell text, labelled
text and other datasets apart; `TfdsSource` reads the others.

Offline, `tfds.load` of a dataset that is not prepared retries its downloads
for minutes before failing. `ensure_prepared` decides up front: prepared
data is used as is; source files found in `manual_dir` are prepared from
there offline; otherwise a quick reachability probe of the download hosts
either lets TFDS download or raises `DatasetUnavailableError` naming the
files and the folder to put them in.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import urllib.parse
from pathlib import Path

import numpy as np

from pipelines import preprocessing
from pipelines.info import DatasetInfo, OptionError
from pipelines.source import LoadRequest, Source, feature_pipeline

PROBE_TIMEOUT_S = 2.0


class DatasetUnavailableError(RuntimeError):
    """A dataset is not prepared and cannot be downloaded from here."""


class UnknownDatasetError(ValueError):
    """A dataset name that no source reads: not built in, not local, not in the TFDS catalog."""


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
    """The TFDS builder for `name`; `UnknownDatasetError` when the catalog has none."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=str(data_dir) if data_dir else None)
    except tfds.core.registered.DatasetNotFoundError:
        raise unknown_dataset(name) from None


@functools.lru_cache(maxsize=1)
def catalog_names() -> frozenset[str]:
    """The names of the TFDS catalog (community datasets excluded)."""
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


def unknown_dataset(name: str, known_names=()) -> UnknownDatasetError:
    """The error for a name no source reads, with close names from `known_names` and TFDS."""
    import difflib

    import tensorflow_datasets as tfds

    # A built-in name may also be a TFDS name (iris): each candidate once.
    candidates = list(dict.fromkeys([*known_names, *tfds.list_builders()]))
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return UnknownDatasetError(
        f"Unknown dataset {name!r}: not built in and not in the TFDS catalog.{hint} "
        "See pipelines.list_datasets()."
    )


def text_feature(info) -> str | None:
    """The feature holding a TFDS dataset's text: the one its supervised keys name
    as input and target alike, else its only text feature (None if not one)."""
    import tensorflow_datasets as tfds

    keys = info.supervised_keys
    same = keys and isinstance(keys[0], str) and keys[0] == keys[1]
    candidates = [keys[0]] if same else list(info.features)
    names = [k for k in candidates if isinstance(info.features[k], tfds.features.Text)]
    return names[0] if len(names) == 1 else None


def catalog_kind(name, data_dir=None) -> str | None:
    """What a TFDS catalog name holds, read from its features alone (no data), or None
    when the catalog has no such name.

    "text": text alone, with no labels or supervised keys naming one text feature as
    both input and target (lm1b: ('text', 'text')); "labelled_text": (text, class
    label) supervised keys (imdb_reviews); "tfds": anything else. Features are the
    builder's code, so the answer is computed once per name and folder.
    """
    return _catalog_kind(str(name), None if data_dir is None else str(data_dir))


@functools.lru_cache(maxsize=64)
def _catalog_kind(name: str, data_dir: str | None) -> str | None:
    import tensorflow_datasets as tfds

    try:
        info = builder(name, data_dir).info
    except UnknownDatasetError:
        return None
    keys = info.supervised_keys
    unlabelled = not keys or (isinstance(keys[0], str) and keys[0] == keys[1])
    if unlabelled and text_feature(info) is not None:
        return "text"
    if keys and all(isinstance(k, str) for k in keys) and isinstance(
            info.features[keys[0]], tfds.features.Text) and isinstance(
            info.features[keys[1]], tfds.features.ClassLabel):
        return "labelled_text"
    return "tfds"


def ensure_prepared(
    name: str,
    data_dir: str | os.PathLike | None = None,
    manual_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
):
    """Return a prepared TFDS builder, or fail fast explaining what to do."""
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


def catalog_info(b) -> DatasetInfo:
    """The `DatasetInfo` of a TFDS builder: supervised (x, y) or unsupervised feature dicts."""
    import tensorflow_datasets as tfds

    info = b.info
    splits = {k: v.num_examples for k, v in info.splits.items()}
    keys = info.supervised_keys
    if not keys or not isinstance(keys[0], str) or not isinstance(keys[1], str):
        return DatasetInfo(
            name=b.name, task="unsupervised", feature_shape=(), feature_dtype="dict",
            splits=splits, source=TfdsSource.kind, description=info.description or "",
            citation=info.citation or "",
        )
    x_feat, y_feat = info.features[keys[0]], info.features[keys[1]]
    is_label = isinstance(y_feat, tfds.features.ClassLabel)
    return DatasetInfo(
        name=b.name,
        task="classification" if is_label else "regression",
        feature_shape=tuple(x_feat.shape),
        feature_dtype=np.dtype(x_feat.np_dtype).name,
        num_classes=y_feat.num_classes if is_label else None,
        class_names=tuple(y_feat.names) if is_label else None,
        target_shape=() if is_label else tuple(y_feat.shape),
        splits=splits,
        source=TfdsSource.kind,
        description=info.description or "",
        citation=info.citation or "",
    )


def check_split(name: str, b, split: str) -> None:
    """Refuse a split the prepared dataset does not have (TFDS slicing allowed)."""
    if b.info.splits and split.split("[")[0] not in b.info.splits:
        raise ValueError(
            f"Dataset {name!r} has no split {split!r}. Available: "
            f"{', '.join(b.info.splits)} (TFDS slicing like 'train[:90%]' works too)."
        )


class TfdsSource(Source):
    """Any other TFDS catalog dataset: (features, targets) pairs, or feature dicts."""

    kind = "tfds"

    def matches(self, name, data_dir, options: dict) -> bool:
        return catalog_kind(name, data_dir) is not None

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        return catalog_info(builder(name, data_dir))

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import tensorflow_datasets as tfds

        if options:
            raise OptionError(
                f"TFDS dataset {name!r} takes no dataset options. Received: {sorted(options)}"
            )
        b = ensure_prepared(name, request.data_dir, request.manual_dir, request.offline)
        info = catalog_info(b)
        check_split(name, b, split)
        ds = b.as_dataset(
            split=split,
            as_supervised=info.task != "unsupervised",
            shuffle_files=request.shuffle,
            read_config=tfds.ReadConfig(shuffle_seed=request.seed),
        )
        n_examples = b.info.splits[split].num_examples if b.info.splits else 10_000
        prep = (self.preprocessor(name, options, request.image_size, request.channels,
                                  request.normalization, request.data_dir)
                if request.preprocess and info.task != "unsupervised" else None)
        return feature_pipeline(ds, name, split, request, info, n_examples, prep)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        preprocessing.check_normalization(normalization)
        return preprocessing.feature_preprocessor(
            name, self.info(name, options, data_dir), image_size, channels, normalization)

