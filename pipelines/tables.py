"""Tables: a pandas DataFrame, a CSV or a Parquet file, with one target column.

Numeric columns (integers, floats, booleans) are normalised and string columns
become categorical (one-hot over the training split's values, an unknown
value going to an out-of-vocabulary slot), through `keras.utils.FeatureSpace`,
so the model sees one float vector per row and an export takes one named
input per column. The statistics (means, variances, vocabularies, classes)
come from the training rows only, computed in one streamed pass: a file is
read in chunks, never whole, and the training pipeline streams it again with
tf.data on each epoch (`TextLineDataset` -> batched `decode_csv` for CSV,
pyarrow record batches for Parquet).

The validation rows of a table without a validation split are chosen in the
same pass: within each class (each target value; all rows for regression)
every k-th row, k = round(1 / validation_split), from a seeded offset, so the
split is stratified and the same on every read. A CSV must not hold line
breaks inside quoted fields (it is read by line).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from pipelines.info import DatasetInfo
from pipelines.own import (MEMORY, DataError, Labels, check_options, class_labels, content_name,
                           holdout_offset, holdout_period, info_task, label_ids,
                           unknown_memory_name)
from pipelines.source import LoadRequest, Source

SUFFIXES = (".csv", ".parquet", ".pq")
CHUNK_ROWS = 65_536  # rows per chunk of the statistics pass and of the CSV parse
SNIFF_ROWS = 1_000  # rows read to decide each CSV column's type
LINE_BLOCK = 8_192  # CSV lines per block when the validation rows are masked out
NUMERIC, STRING = "float32", "string"


def is_dataframe(value) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def register_frames(frames: dict) -> str:
    """Register DataFrames by split under their content name."""
    import pandas as pd

    digest = hashlib.sha256()
    for split in sorted(frames):
        frame = frames[split]
        digest.update(f"{split}{list(map(str, frame.columns))}{list(map(str, frame.dtypes))}"
                      .encode())
        try:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        except TypeError:  # unhashable cells (dicts, lists): refused later, by column
            digest.update(repr(frame.to_dict("list")).encode())
    name = content_name("table", digest)
    MEMORY.setdefault(name, {k: frames[k] for k in frames})
    return name


# --- reading: chunks of a split, as DataFrames ---

@dataclasses.dataclass(frozen=True, eq=False)
class Table:
    """Where a table's rows come from: DataFrames by split, or one file."""

    name: str
    frames: dict | None = None  # split -> DataFrame
    path: Path | None = None

    @property
    def origin(self) -> str:
        return str(self.path) if self.path is not None else "the DataFrame"

    def chunks(self, split: str, columns: dict | None = None):
        """DataFrame chunks of a split's rows (a file is one split: 'train')."""
        if self.frames is not None:
            yield self.frames[split]
        elif self.path.suffix.lower() == ".csv":
            import pandas as pd

            dtypes = None if columns is None else {k: (str if v == STRING else "float64")
                                                   for k, v in columns.items()}
            try:
                yield from pd.read_csv(self.path, chunksize=CHUNK_ROWS, dtype=dtypes,
                                       keep_default_na=True)
            except ValueError as exc:
                raise DataError(f"{self.path}: {exc}. A column read as numbers holds text "
                                "further down; fix the value, or quote the column.") from None
        else:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK_ROWS):
                yield batch.to_pandas()

    def head(self):
        if self.frames is not None:
            return self.frames["train"].head(SNIFF_ROWS)
        return next(iter(self._head_reader()))

    def _head_reader(self):
        if self.path.suffix.lower() == ".csv":
            import pandas as pd

            try:
                return [pd.read_csv(self.path, nrows=SNIFF_ROWS)]
            except (ValueError, pd.errors.EmptyDataError) as exc:
                raise DataError(f"{self.path} is not a readable CSV table ({exc}).") from None
        import pyarrow.parquet as pq

        return [next(pq.ParquetFile(self.path).iter_batches(batch_size=SNIFF_ROWS)).to_pandas()]


def column_kind(series, where: str) -> str:
    """NUMERIC for numbers and booleans, STRING for text; anything else is refused."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return NUMERIC
    if (isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(series)
            or series.dtype == object):
        values = series.dropna()
        bad = values[[not isinstance(v, str) for v in values]]
        if len(bad) == 0:
            return STRING
        row = bad.index[0]
        raise DataError(f"{where}: column {series.name!r} holds {type(bad.iloc[0]).__name__} "
                        f"values (row {row}: {bad.iloc[0]!r}), which are neither strings nor "
                        "numbers. Convert the column to strings or numbers first.")
    raise DataError(f"{where}: column {series.name!r} has dtype {series.dtype}, which is "
                    "neither strings nor numbers. Convert it first (e.g. dates to numbers).")


# --- the statistics pass ---

@dataclasses.dataclass
class TableStats:
    columns: dict  # name -> NUMERIC | STRING (features, in table order)
    target: str
    labels: Labels
    means: dict
    variances: dict
    vocabularies: dict  # string column -> sorted values seen in training rows
    splits: dict  # split -> rows
    validation_rows: np.ndarray | None  # packed bits: row -> validation (one-file tables)


class _Split:
    """The streamed stratified rule: within each class, every k-th row is validation."""

    def __init__(self, fraction: float, seed: int):
        self.k, self.seed = holdout_period(fraction), seed
        self.seen: collections.Counter = collections.Counter()

    def offset(self, value) -> int:
        return holdout_offset(self.seed, value, self.k)

    def validation(self, groups: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(groups), bool)
        values, inverse = np.unique(groups, return_inverse=True)
        for index, value in enumerate(values):
            rows = np.flatnonzero(inverse == index)
            value = value.item() if hasattr(value, "item") else value
            counts = self.seen[value] + np.arange(len(rows))
            mask[rows] = (counts + self.offset(value)) % self.k == 0
            self.seen[value] += len(rows)
        return mask


def _check_values(chunk, columns: dict, target: str, first_row: int, where: str) -> None:
    """Refuse missing, NaN or infinite values, naming the column and the row."""
    for name in [*columns, target]:
        values = chunk[name]
        missing = values.isna().to_numpy()
        if values.dtype.kind == "f":
            missing = missing | ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if missing.any():
            row = first_row + int(np.argmax(missing))
            value = values.iloc[row - first_row]
            value = value.item() if hasattr(value, "item") else value
            raise DataError(f"{where}: column {name!r}, row {row}, is {value!r}. Remove or fill "
                            "missing and infinite values first.")


def compute_stats(table: Table, target: str | None, task: str | None, fraction: float,
                  seed: int) -> TableStats:
    """One pass over the table: column types, checks, statistics of the training rows."""
    head = table.head()
    where = table.origin
    if target is None:
        raise DataError(f"{where}: a table needs its target column: target=NAME (--target "
                        f"NAME). Columns: {', '.join(map(str, head.columns))}.")
    if target not in head.columns:
        import difflib

        close = difflib.get_close_matches(str(target), list(map(str, head.columns)), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"{where}: no column {target!r}.{hint} Columns: "
                        f"{', '.join(map(str, head.columns))}.")
    columns = {str(c): column_kind(head[c], where) for c in head.columns if c != target}
    if not columns:
        raise DataError(f"{where}: the target {target!r} is the only column; no features.")
    names = collections.Counter(input_name(c) for c in columns)
    clashes = sorted(c for c in columns if names[input_name(c)] > 1)
    if clashes:
        raise DataError(f"{where}: columns {', '.join(map(repr, clashes))} share the input name "
                        f"{input_name(clashes[0])!r} (names keep letters, digits, _ . -); "
                        "rename one.")
    target_numeric = column_kind(head[target], where) == NUMERIC
    is_float = target_numeric and head[target].dtype.kind == "f"
    if task is None:
        task = "regression" if is_float else "classification"
    if task == "regression" and not target_numeric:
        raise DataError(f"{where}: task 'regression' needs a numeric target; column "
                        f"{target!r} holds strings.")
    classify = task != "regression"
    read_columns = {**columns, target: NUMERIC if target_numeric else STRING}
    rule = None if "validation" in (table.frames or {}) else _Split(fraction, seed)
    sums = {c: 0.0 for c, k in columns.items() if k == NUMERIC}
    squares = dict(sums)
    vocab = {c: collections.Counter() for c, k in columns.items() if k == STRING}
    classes: set = set()
    masks, rows, n_train = [], 0, 0
    for chunk in table.chunks("train", read_columns):
        _check_values(chunk, columns, target, rows, where)
        y = chunk[target].to_numpy()
        if classify and is_float and not np.all(y == np.round(y)):
            row = rows + int(np.argmax(y != np.round(y)))
            raise DataError(f"{where}: task {task!r} needs integer or string labels; column "
                            f"{target!r}, row {row}, is {y[row - rows]!r}.")
        groups = y if classify else np.zeros(len(y), np.int8)
        val = rule.validation(groups) if rule else np.zeros(len(y), bool)
        masks.append(val)
        train = ~val
        for c in sums:
            v = chunk[c].to_numpy(dtype=np.float64)[train]
            sums[c] += v.sum()
            squares[c] += np.square(v).sum()
        for c in vocab:
            vocab[c].update(chunk[c].to_numpy()[train].tolist())
        if classify:  # numbers as integers: a class 2 read as 2.0 is named "2"
            classes.update((y[train].astype(np.int64) if target_numeric else y[train]).tolist())
        n_train += int(train.sum())
        rows += len(chunk)
    if rows == 0:
        raise DataError(f"{where}: the table has no rows.")
    labels = _labels(classes, task, where) if classify else Labels("regression", None, (1,))
    means = {c: sums[c] / n_train for c in sums}
    variances = {c: max(squares[c] / n_train - means[c] ** 2, 0.0) for c in sums}
    splits = {"train": n_train}
    if rule is not None:
        splits["validation"] = rows - n_train
        validation_rows = np.packbits(np.concatenate(masks))
    else:
        validation_rows = None
        for split in table.frames:
            if split != "train":
                splits[split] = len(table.frames[split])
    return TableStats(columns, target, labels, means, variances,
                      {c: sorted(v) for c, v in vocab.items()}, splits, validation_rows)


def _labels(classes: set, task: str, where: str) -> Labels:
    types = sorted({type(v).__name__ for v in classes})
    if len(types) > 1 and not set(types) <= {"int", "float", "bool"}:
        raise DataError(f"{where}: labels of mixed types ({', '.join(types)}). "
                        "Use one type: all strings, all integers or all floats.")
    return class_labels(tuple(sorted(classes)), task, where)


# --- FeatureSpace ---

def feature_space(stats: TableStats):
    """A `keras.utils.FeatureSpace` holding the training statistics (nothing to adapt):
    numeric columns normalised, string columns one-hot with an out-of-vocabulary slot."""
    import keras

    fs = keras.utils.FeatureSpace
    features = {}
    for name, kind in stats.columns.items():
        if kind == NUMERIC:
            features[input_name(name)] = fs.feature(
                dtype="float32", output_mode="float",
                preprocessor=keras.layers.Normalization(
                    mean=[stats.means[name]], variance=[stats.variances[name]],
                    name=f"normalize_{_layer_name(name)}"))
        else:
            features[input_name(name)] = fs.feature(
                dtype="string", output_mode="one_hot",
                preprocessor=keras.layers.StringLookup(
                    vocabulary=stats.vocabularies[name] or ["[none]"],
                    name=f"lookup_{_layer_name(name)}"))
    space = fs(features, output_mode="concat")
    # The statistics are set: mark the space adapted through its public build path.
    space.build_from_config(space.get_build_config())
    space.get_encoded_features()  # builds the encoders now, eagerly (not inside a tf.data map)
    return space


def _layer_name(column: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in column)


def input_name(column: str) -> str:
    """The tensor name of a column: letters, digits, `_`, `.` and `-` kept, others `_`
    (Keras and TF Serving names take no `/` or spaces), a letter first."""
    name = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in column)
    return name if name[:1].isalpha() else f"c_{name}"


def encoded_width(stats: TableStats) -> int:
    """The model's input width: one per numeric column, vocabulary + 1 per string column."""
    return sum(1 if kind == NUMERIC else len(stats.vocabularies[name] or ["[none]"]) + 1
               for name, kind in stats.columns.items())


# --- tf.data ---

def _split_rows(stats: TableStats, split: str):
    """A boolean row mask of `split` for a one-file table (None: every row)."""
    if stats.validation_rows is None:
        return None
    total = stats.splits["train"] + stats.splits["validation"]
    val = np.unpackbits(stats.validation_rows, count=total).astype(bool)
    return val if split == "validation" else ~val


def raw_dataset(table: Table, stats: TableStats, split: str):
    """Unbatched `({column: value}, target)` rows of a split, raw (strings and floats)."""
    import tensorflow as tf

    mask = _split_rows(stats, split)
    features = list(stats.columns)
    target_numeric = stats.labels.classes is None or not isinstance(stats.labels.classes[0], str)
    if table.frames is not None:
        frame = table.frames["train" if mask is not None else split]
        cols = {input_name(c): _column_array(frame[c], stats.columns[c]) for c in features}
        y = frame[stats.target].to_numpy()
        if mask is not None:
            cols, y = {c: v[mask] for c, v in cols.items()}, y[mask]
        return tf.data.Dataset.from_tensor_slices((cols, stats.labels.encode(y, table.origin)))
    encode = _target_encoder(stats)
    if table.path.suffix.lower() == ".csv":
        return _csv_rows(table.path, stats, mask, encode)
    return _parquet_rows(table, stats, mask, target_numeric)


def _column_array(series, kind):
    return (series.to_numpy(dtype=np.float32) if kind == NUMERIC
            else series.astype(str).to_numpy().astype(object))


def _target_encoder(stats: TableStats):
    """In-graph target encoding: class value -> id, or the float itself."""
    import tensorflow as tf

    labels = stats.labels
    if labels.classes is None:
        return lambda y: tf.reshape(tf.cast(y, tf.float32), (-1, 1))
    lookup = label_ids(labels.classes)

    def encode(y):
        ids = lookup(y)
        if labels.task == "binary_classification":
            return tf.reshape(tf.cast(ids, tf.float32), (-1, 1))
        return tf.cast(ids, tf.int32)

    return encode


def _csv_rows(path: Path, stats: TableStats, mask, encode):
    """Unbatched parsed rows of a split (the lines, parsed in blocks)."""
    import tensorflow as tf

    parse = _csv_parser(path, stats, encode)
    lines = _csv_lines(path, mask).batch(CHUNK_ROWS)
    return lines.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()


def _csv_lines(path: Path, mask):
    """The unparsed lines of a split's rows, in file order: the row mask applied to blocks
    of `LINE_BLOCK` lines. Shuffling and batching lines (one string per row) before
    parsing them costs a fraction of doing so on parsed rows (one tensor per column)."""
    import tensorflow as tf

    lines = tf.data.TextLineDataset(str(path)).skip(1)
    if mask is None:
        return lines
    mask_t = tf.constant(mask)

    def keep(block_index, block):
        start = block_index * LINE_BLOCK
        return tf.boolean_mask(block, mask_t[start:start + tf.shape(block, out_type=tf.int64)[0]])

    # Small blocks: the few tf.data holds in flight stay a few MiB, whatever the file's size.
    return (lines.batch(LINE_BLOCK).enumerate()
            .map(keep, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch())


def _csv_parser(path: Path, stats: TableStats, encode):
    """A vector of lines -> ({input name: column}, encoded targets)."""
    import tensorflow as tf

    header = next(iter(_header(path)))
    kinds = {**stats.columns,
             stats.target: STRING if isinstance((stats.labels.classes or [0.0])[0], str)
             else NUMERIC}
    defaults = [tf.constant([], tf.string) if kinds.get(c) == STRING else
                tf.constant([], tf.float64 if c == stats.target else tf.float32)
                for c in header]
    index = {c: i for i, c in enumerate(header)}

    def parse(lines):
        fields = tf.io.decode_csv(lines, defaults)
        cols = {input_name(c): fields[index[c]] for c in stats.columns}
        return cols, encode(fields[index[stats.target]])

    return parse


@functools.lru_cache(maxsize=16)
def _header_cached(path: str, mtime: int) -> tuple:
    import csv

    with open(path, newline="") as f:
        return tuple(next(csv.reader(f)))


def _header(path: Path):
    return [_header_cached(str(path), path.stat().st_mtime_ns)]


def _parquet_rows(table: Table, stats: TableStats, mask, target_numeric: bool):
    import tensorflow as tf

    features = list(stats.columns)

    def rows():
        start = 0
        for chunk in table.chunks("train"):
            cols = {input_name(c): _column_array(chunk[c], stats.columns[c]) for c in features}
            y = stats.labels.encode(chunk[stats.target].to_numpy(), table.origin)
            if mask is not None:
                keep = mask[start:start + len(chunk)]
                cols, y = {c: v[keep] for c, v in cols.items()}, y[keep]
            start += len(chunk)
            yield cols, y

    y_spec = (tf.TensorSpec((None,), tf.int32) if stats.labels.classes is not None
              and stats.labels.task != "binary_classification"
              else tf.TensorSpec((None, 1), tf.float32))
    signature = ({input_name(c): tf.TensorSpec((None,), tf.float32 if k == NUMERIC else tf.string)
                  for c, k in stats.columns.items()}, y_spec)
    return tf.data.Dataset.from_generator(rows, output_signature=signature).unbatch()


# --- the source ---

class TableSource(Source):
    """DataFrames (in this process) and CSV or Parquet files, with a target column."""

    own = True
    kind = "table"

    def matches(self, name, data_dir, options: dict) -> bool:
        text = str(name)
        return (text.startswith("table-") and len(text) == 18) or text.lower().endswith(SUFFIXES)

    def table(self, name) -> Table:
        text = str(name)
        if text.lower().endswith(SUFFIXES):
            path = Path(os.path.expanduser(text))
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist.")
            return Table(text, path=path)
        if text not in MEMORY:
            raise unknown_memory_name(text)
        return Table(text, frames=MEMORY[text])

    def stats(self, name, options: dict) -> TableStats:
        opts = check_options("Tables", options)
        table = self.table(name)
        stamp = (table.path.stat().st_mtime_ns, table.path.stat().st_size) if table.path else 0
        return _stats(str(name), stamp, opts["target"], opts["task"], opts["validation_split"],
                      opts["split_seed"])

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        stats = self.stats(name, options)
        task, classes = info_task(stats.labels)
        return DatasetInfo(
            name=str(name), task=task, feature_shape=(encoded_width(stats),),
            feature_dtype="float32", num_classes=classes,
            class_names=stats.labels.class_names, target_shape=stats.labels.target_shape,
            splits=dict(stats.splits), source=self.kind,
            description=f"Own table ({self.table(name).origin}), target {stats.target!r}.",
            columns=tuple((input_name(c), k) for c, k in stats.columns.items()),
        )

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import tensorflow as tf

        stats = self.stats(name, options)
        if split not in stats.splits:
            raise ValueError(f"Dataset {name!r} has no split {split!r}. "
                             f"Available: {', '.join(stats.splits)}.")
        if request.image_size is not None or request.channels is not None or request.augment:
            raise ValueError(f"Dataset {name!r} is a table; image_size, channels and augment "
                             "do not apply.")
        table = self.table(name)
        parse = None
        if table.frames is None and table.path.suffix.lower() == ".csv":
            # Lines are shuffled and batched, then parsed: the same rows in the same order
            # (a shuffle's order does not depend on the elements), at a fraction of the cost.
            ds = _csv_lines(table.path, _split_rows(stats, split))
            parse = _csv_parser(table.path, stats, _target_encoder(stats))
            if request.batch_size is None:  # one line: parsed as a block of one
                block = parse

                def parse(line):
                    return tf.nest.map_structure(lambda t: t[0], block(line[None]))
        else:
            ds = raw_dataset(table, stats, split)
        if request.cache and table.frames is not None:
            ds = ds.cache()  # in memory already; a file is streamed on every pass
        if request.shuffle:
            ds = ds.shuffle(min(max(stats.splits[split], 1), 10_000), seed=request.seed,
                            reshuffle_each_iteration=True)
        if request.batch_size is not None:
            ds = ds.batch(request.batch_size, drop_remainder=request.drop_remainder)
        space = feature_space(stats) if request.preprocess else None
        if parse is not None or space is not None:
            def prepare(*example):
                x, y = parse(*example) if parse is not None else example
                return (space(x) if space is not None else x), y

            ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        """The table's `FeatureSpace` (raw columns -> the model's float vector)."""
        return feature_space(self.stats(name, options))


@functools.lru_cache(maxsize=16)
def _stats(name: str, stamp, target, task, fraction, seed) -> TableStats:
    """The statistics of a table, once per content (`stamp`: a file's time and size)."""
    return compute_stats(TableSource().table(name), target, task, fraction, seed)
