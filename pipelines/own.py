"""Your own data: NumPy arrays, `.npz` files and `tf.data` datasets, and the rules every
own-data source shares (labels, the validation split, checks that name the row).

`dataset_name(data)` turns what a user passes (`(x, y)`, a dict of splits, a
DataFrame, a `tf.data.Dataset`, a path) into the dataset string every other
part of the zoo records and resolves: a path stays a path; a Python object is
registered in this process under a content name (`arrays-<hash>`,
`table-<hash>`, `tf_data-<hash>`), the same data giving the same name, so
rerunning a command resumes its run. Labels decide the task: integers, strings
or booleans mean classification (class names are the sorted distinct labels),
floats mean regression; `task=` overrides. Without a validation split, a
seeded one is taken from the training data (`validation_split`, 0.1 by
default), stratified for classification; test data is never used to choose.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.info import DatasetInfo, merge_options
from pipelines.source import LoadRequest, Source, feature_pipeline

SPLITS = ("train", "validation", "test")
TASKS = ("classification", "binary_classification", "regression")
# Options of every own-data source (`pipelines.load(..., target=..., task=...)`).
OPTIONS = {"target": None, "task": None, "validation_split": 0.1, "split_seed": 0}
# Python objects given in this process, by content name.
MEMORY: dict[str, Any] = {}


class DataError(ValueError):
    """Own data that cannot be used as it is, with what is wrong and where."""


def check_options(kind: str, options: dict, extra: dict | None = None) -> dict:
    opts = merge_options(kind, options, {**OPTIONS, **(extra or {})})
    if opts["task"] is not None and opts["task"] not in TASKS:
        raise ValueError(f"`task` must be one of {', '.join(map(repr, TASKS))}. "
                         f"Received: task={opts['task']!r}")
    split = opts["validation_split"]
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
        raise ValueError(f"`validation_split` must be a number in (0, 1). "
                         f"Received: validation_split={split!r}")
    return opts


# --- names: what a run folder records (`pipelines.naming.dataset_name`) ---

def content_name(kind: str, digest) -> str:
    return f"{kind}-{digest.hexdigest()[:12]}"


def unknown_memory_name(name: str) -> DataError:
    return DataError(
        f"Dataset {name!r} was given as Python objects to another process: the data itself "
        "is not saved with the run. Pass the same data again (e.g. `data=(x, y)`), or save "
        "it as a file (.npz, .csv, .parquet, a folder) and give its path."
    )


# --- labels ---

@dataclasses.dataclass(frozen=True)
class Labels:
    """How a target column becomes model targets: the task and, for classes, their values."""

    task: str
    classes: tuple | None = None  # sorted distinct labels (classification)
    target_shape: tuple = ()

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return None if self.classes is None else tuple(str(c) for c in self.classes)

    def encode(self, y: np.ndarray, where: str) -> np.ndarray:
        """Targets for the model: class ids (int32; float32 (n, 1) for binary), floats (n, k)."""
        if self.classes is None:
            y = np.asarray(y, dtype=np.float32)
            return y.reshape(len(y), *self.target_shape)
        y = np.asarray(y).reshape(-1)
        classes = np.asarray(self.classes)
        ids = np.searchsorted(classes, y) if classes.dtype != object else np.array(
            [self.classes.index(v) if v in self.classes else len(classes) for v in y])
        bad = (ids >= len(classes)) | (classes[np.minimum(ids, len(classes) - 1)] != y)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{where}: row {row} has label {y[row]!r}, which the training "
                            f"split does not have. Classes: {', '.join(self.class_names)}.")
        if self.task == "binary_classification":
            return ids.astype(np.float32)[:, None]
        return ids.astype(np.int32)


def infer_labels(y: np.ndarray, task: str | None, where: str) -> Labels:
    """The task and classes that labels `y` (the training split's) mean; see the module doc."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    kind = y.dtype.kind
    if kind == "O":
        types = sorted({type(v).__name__ for v in y.reshape(-1)})
        if len(types) > 1:
            raise DataError(f"{where}: labels of mixed types ({', '.join(types)}). "
                            "Use one type: all strings, all integers or all floats.")
        if types != ["str"]:
            raise DataError(f"{where}: labels of type {types[0]} are neither numbers nor "
                            "strings.")
        kind = "U"
    if kind == "f":
        check_finite(y, where, "target")
    if task is None:
        task = "regression" if kind in "fc" else "classification"
    if task == "regression":
        if kind not in "fiub":
            raise DataError(f"{where}: task 'regression' needs numeric targets; the labels are "
                            "strings.")
        return Labels("regression", None, tuple(y.shape[1:]) or (1,))
    if y.ndim != 1:
        raise DataError(f"{where}: class labels must be one per example (shape (n,)). "
                        f"Received: shape {tuple(y.shape)}.")
    if kind == "f" and not np.all(y == np.round(y)):
        row = int(np.argmax(y != np.round(y)))
        raise DataError(f"{where}: task {task!r} needs integer or string labels; row {row} "
                        f"is {y[row]!r}. Leave `task` unset for regression.")
    if kind == "f":
        y = y.astype(np.int64)
    return class_labels(tuple(np.unique(y).tolist()), task, where)


def class_labels(classes: tuple, task: str, where: str) -> Labels:
    """The `Labels` of a classifier's distinct labels (sorted): at least two, and exactly
    two for binary classification (one sigmoid target per example)."""
    if len(classes) < 2:
        raise DataError(f"{where}: every label is {classes[0]!r}; a classifier needs at least "
                        "two classes.")
    if task == "binary_classification" and len(classes) != 2:
        raise DataError(f"{where}: task 'binary_classification' needs two classes; the labels "
                        f"have {len(classes)}.")
    return Labels(task, classes, (1,) if task == "binary_classification" else ())


def label_ids(classes: tuple):
    """In-graph labels -> class ids (int64; -1 for a value not in `classes`): a lookup
    table on strings, or on integers (numeric labels of a classifier are integral)."""
    import tensorflow as tf

    strings = isinstance(classes[0], str)
    keys = tf.constant([str(c) for c in classes] if strings else [int(c) for c in classes],
                       tf.string if strings else tf.int64)
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        keys, tf.range(len(classes), dtype=tf.int64)), -1)
    return lambda y: table.lookup(y if strings else tf.cast(y, tf.int64))


def check_finite(values: np.ndarray, where: str, what: str) -> None:
    """Refuse NaN or inf, naming the first row (and column) holding one."""
    values = np.asarray(values)
    if values.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(values)
    if bad.any():
        index = np.unravel_index(int(np.argmax(bad)), values.shape)
        at = f"row {index[0]}" + (f", position {tuple(int(i) for i in index[1:])}"
                                  if len(index) > 1 else "")
        raise DataError(f"{where}: {what} {at} is {values[index].item()!r}. Remove or fill "
                        "missing and infinite values first.")


def info_task(labels: Labels) -> tuple[str, int | None]:
    """`DatasetInfo.task` and `num_classes` of labels."""
    return labels.task, (None if labels.classes is None else len(labels.classes))


# --- the validation split ---

def split_indices(n: int, labels: np.ndarray | None, fraction: float, seed: int):
    """(train, validation) row indices: a seeded shuffle split, stratified by `labels`
    when given (every class keeps its share in both parts)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    n_val = max(1, round(n * fraction))
    stratify = labels
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() < 2 or n_val < len(counts):  # too few to give every class a share
            stratify = None
    train, val = train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def holdout_period(fraction: float) -> int:
    """k of the streamed validation rule: every k-th example of a class is held out."""
    return max(2, round(1 / fraction))


def holdout_offset(seed: int, key, period: int) -> int:
    """Where, within its period, a class (`key`: its label, or its index) starts being
    held out: a seeded hash, the same in every process."""
    return int(hashlib.sha256(f"{seed}:{key!r}".encode()).hexdigest(), 16) % period


# --- NumPy arrays and .npz files ---

@dataclasses.dataclass
class ArraySplits:
    """Raw NumPy splits of own data: features and labels as given."""

    splits: dict  # split -> (x, y)
    origin: str  # for messages: "arrays" or the file's path


def register_arrays(splits: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(splits):
        x, y = splits[key]
        for a in (x, y):
            digest.update(f"{key}{a.shape}{a.dtype}".encode())
            digest.update(np.ascontiguousarray(a).tobytes() if a.dtype != object
                          else repr(a.tolist()).encode())
    name = content_name("arrays", digest)
    MEMORY.setdefault(name, ArraySplits(splits, "arrays"))
    return name


def read_npz(path: Path) -> ArraySplits:
    """`x`/`y`, or `x_train`, `y_train` (and `_validation` or `_val`, `_test`)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except ValueError as exc:  # object arrays need pickles: never loaded
        raise DataError(f"{path}: cannot read it without unpickling ({exc}). Save plain "
                        "numeric or string arrays.") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc}).") from None
    if "x" in arrays and "y" in arrays:
        return ArraySplits({"train": (arrays["x"], arrays["y"])}, str(path))
    splits = {}
    for split, suffixes in (("train", ("train",)), ("validation", ("validation", "val")),
                            ("test", ("test",))):
        for suffix in suffixes:
            if f"x_{suffix}" in arrays and f"y_{suffix}" in arrays:
                splits[split] = (arrays[f"x_{suffix}"], arrays[f"y_{suffix}"])
    if "train" not in splits:
        raise DataError(f"{path} holds {', '.join(sorted(arrays)) or 'no arrays'}; expected "
                        "x and y, or x_train and y_train (and x_validation, y_validation, "
                        "x_test, y_test).")
    return ArraySplits(splits, str(path))


@functools.lru_cache(maxsize=4)
def _read_npz_once(path: str, mtime: int, size: int) -> ArraySplits:
    """`read_npz`, once per file content (its time and size)."""
    return read_npz(Path(path))


class OwnArraySource(Source):
    """Own NumPy data, given as arrays in this process or as a `.npz` file."""

    own = True
    kind = "arrays"
    in_memory = True

    def matches(self, name, data_dir, options: dict) -> bool:
        text = str(name)
        return text.startswith("arrays-") and len(text) == 19 or text.endswith(".npz")

    def _raw(self, name) -> ArraySplits:
        text = str(name)
        if text.endswith(".npz"):
            path = Path(os.path.expanduser(text))
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist.")
            stat = path.stat()
            return _read_npz_once(str(path), stat.st_mtime_ns, stat.st_size)
        if text not in MEMORY:
            raise unknown_memory_name(text)
        return MEMORY[text]

    def _prepared(self, name, options: dict):
        opts = check_options("Own arrays", options)
        return _prepare_arrays(self._raw(name), opts["task"], opts["validation_split"],
                               opts["split_seed"])

    def arrays(self, name, split: str, options: dict):
        splits, _ = self._prepared(name, options)
        if split not in splits:
            raise ValueError(f"Dataset {name!r} has no split {split!r}. "
                             f"Available: {', '.join(splits)}.")
        x, y = splits[split]
        return x.copy(), y.copy()

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        return self._prepared(name, options)[1]

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import tensorflow as tf

        x, y = self.arrays(name, split, options)
        prep = (self.preprocessor(name, options, request.image_size, request.channels,
                                  request.normalization) if request.preprocess else None)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        return feature_pipeline(ds, name, split, request, self.info(name, options), len(x), prep)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        from pipelines import preprocessing

        preprocessing.check_normalization(normalization)
        return preprocessing.feature_preprocessor(
            name, self.info(name, options), image_size, channels, normalization,
            train_features=lambda: self.arrays(name, "train", options)[0])


_PREPARED: dict = {}


def _prepare_arrays(raw: ArraySplits, task, validation_split, seed):
    """(splits of model-ready arrays, DatasetInfo), computed once per data and options."""
    key = (id(raw), task, validation_split, seed)
    if key in _PREPARED and _PREPARED[key][0] is raw:
        return _PREPARED[key][1]
    where = raw.origin
    checked = {split: _check_features(x, y, f"{where}, split {split!r}")
               for split, (x, y) in raw.splits.items()}
    x_train, y_train = checked["train"]
    labels = infer_labels(y_train, task, f"{where}, split 'train'")
    splits = {split: (x, labels.encode(y, f"{where}, split {split!r}"))
              for split, (x, y) in checked.items()}
    if "validation" not in splits:
        x, y = splits["train"]
        train, val = split_indices(len(x), y if labels.classes else None, validation_split,
                                   seed)
        splits["validation"] = (x[val], y[val])
        splits["train"] = (x[train], y[train])
    x = splits["train"][0]
    shapes = {split: tuple(v[0].shape[1:]) for split, v in splits.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{where}: the splits' examples differ in shape: "
                        + ", ".join(f"{k} {v}" for k, v in shapes.items()) + ".")
    task_name, classes = info_task(labels)
    info = DatasetInfo(
        name=where, task=task_name, feature_shape=tuple(x.shape[1:]),
        feature_dtype=str(x.dtype), num_classes=classes, class_names=labels.class_names,
        target_shape=labels.target_shape, splits={k: len(v[0]) for k, v in splits.items()},
        source=OwnArraySource.kind, description=f"Own data ({where}).",
        standardize=x.dtype != np.uint8,
    )
    result = (splits, info)
    if len(_PREPARED) >= 8:  # bounded: the oldest preparation goes first
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = (raw, result)
    return result


def _check_features(x: np.ndarray, y: np.ndarray, where: str):
    """Features as the pipeline takes them: uint8 images (a channel axis added to (n, h, w)),
    or float32 numbers; refuses other types, NaN and inf, and x and y of different lengths."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{where}: x and y must hold one row per example. "
                        f"Received: shapes {x.shape} and {y.shape}.")
    if len(x) != len(y):
        raise DataError(f"{where}: x has {len(x)} rows but y has {len(y)}; they must have one "
                        "row per example each.")
    if len(x) == 0:
        raise DataError(f"{where}: no examples.")
    if x.dtype == np.uint8:
        return (x[..., None] if x.ndim == 3 else x), y
    if x.dtype.kind not in "fiub":
        raise DataError(f"{where}: features of dtype {x.dtype} are not numbers. Give numeric "
                        "arrays, or a pandas DataFrame with target=... for a table with "
                        "string columns.")
    check_finite(x, where, "feature")
    return x.astype(np.float32), y
