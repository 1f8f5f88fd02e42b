"""Built-in sequence datasets and time-series windows of user data.

Four built-in sets, generated with fixed seeds, never downloaded:

- `adding_problem` (regression): remember two marked values over T steps
  and output their sum (Hochreiter & Schmidhuber 1997; Le et al. 2015).
- `temporal_order` (4-class classification): tell the order of two
  symbols hidden among distractors (Hochreiter & Schmidhuber 1997, 6a).
- `digit_reversal` (sequence to sequence): reverse a digit string, the
  toy task of the encoder-decoder Transformer.
- `synthetic_series` (regression): forecast a target series driven by two
  of eight series, with known lags (`SYNTHETIC_DRIVERS`), for checking
  what an attention model attends to.

`series_windows` turns a CSV file or named arrays into the same kind of
windows: features (T, n + 1), the driving series then the target's own
history in the last column, and the target's next value. The split is by
time (first 70% train, next 10% validation, last 20% test) and no window
crosses a split boundary. The `csv_series` dataset does the same through
`pipelines.load("csv_series", path=..., target=...)`.

Features stay unscaled here: datasets marked `standardize` get a
`Normalization` layer with the train split's per-series mean and variance
in the in-graph preprocessor (see `pipelines.preprocessor`), and
serving exports carry that layer. The option `scale_target=True` of
`synthetic_series` and `csv_series` also standardizes the target with the
train split's mean and standard deviation (`DatasetInfo.target_mean`,
`target_std`); serving exports apply the inverse, so they forecast in the
target's own units.
"""

from __future__ import annotations

import csv
import os
from typing import Mapping

import numpy as np

from pipelines.builtin import (SCALE_TARGET, TRAIN_FRACTION, VALIDATION_FRACTION, ArrayDataset,
                               _register, _split)
from pipelines.info import DatasetInfo

SPLITS = ("train", "validation", "test")


# --- adding problem --------------------------------------------------------


def _check_int(arg: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{arg}` must be an integer >= {minimum}. Received: {arg}={value!r}")


@_register(
    DatasetInfo(
        name="adding_problem",
        task="regression",
        feature_shape=(50, 2),
        feature_dtype="float32",
        target_shape=(1,),
        splits={"train": 3500, "validation": 500, "test": 1000},
        source="builtin",
        description="The adding problem: sequences of T (option `length`, default 50) "
        "steps with two channels. Channel 0 holds values ~ U(0, 1); channel 1 is 1 at "
        "exactly two steps, one in each half of the sequence, else 0. The target is the "
        "sum of the two marked values. Predicting 1.0 always gives MSE 1/6 = 0.167; a "
        "model that remembers the marked values gets close to 0. Option `examples` "
        "(default 5000) sets the number of sequences, split 70/10/20.",
        citation="Hochreiter & Schmidhuber 1997, Long short-term memory; "
        "Le, Jaitly & Hinton 2015, A simple way to initialize recurrent networks of "
        "rectified linear units",
    ),
    options={"length": 50, "examples": 5000},
)
def adding_problem(length: int = 50, examples: int = 5000, seed: int = 0) -> dict:
    """Adding-problem splits: features (n, length, 2), targets (n, 1), float32."""
    _check_int("length", length, 2)
    _check_int("examples", examples, 10)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(examples, length)).astype(np.float32)
    half = length // 2
    first = rng.integers(0, half, size=examples)  # one mark in the first half
    second = rng.integers(half, length, size=examples)  # one in the second half
    rows = np.arange(examples)
    marks = np.zeros((examples, length), np.float32)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=-1)  # (n, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None]  # (n, 1)
    return _split(x, y.astype(np.float32), stratify=False)


# --- temporal order --------------------------------------------------------

TEMPORAL_ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "B", "E")
TEMPORAL_ORDER_CLASSES = ("XX", "XY", "YX", "YY")


@_register(
    DatasetInfo(
        name="temporal_order",
        task="classification",
        feature_shape=(50, 8),
        feature_dtype="float32",
        num_classes=4,
        class_names=TEMPORAL_ORDER_CLASSES,
        splits={"train": 2800, "validation": 400, "test": 800},
        source="builtin",
        description="The temporal-order problem: one-hot sequences over the symbols "
        "a, b, c, d (distractors), X, Y (relevant), B and E (start and end). Two steps, "
        "one in [10%, 20%) and one in [50%, 60%) of the length T (option `length`, "
        "default 50), hold X or Y; the class is their order: XX, XY, YX or YY (chance "
        "25%). The first relevant symbol must be remembered for about 0.8T steps, "
        "through the distractors. Option `examples` (default 4000), split 70/10/20.",
        citation="Hochreiter & Schmidhuber 1997, Long short-term memory (experiment 6a)",
    ),
    options={"length": 50, "examples": 4000},
)
def temporal_order(length: int = 50, examples: int = 4000, seed: int = 1) -> dict:
    """Temporal-order splits: one-hot features (n, length, 8), class ids (n,) int32."""
    _check_int("length", length, 10)
    _check_int("examples", examples, 10)
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, 4, size=(examples, length))  # distractors a..d
    symbols[:, 0], symbols[:, -1] = 6, 7  # B ... E
    first = rng.integers(length // 10, max(length // 5, length // 10 + 1), size=examples)
    second = rng.integers(length // 2, max(3 * length // 5, length // 2 + 1), size=examples)
    first_is_y = rng.integers(0, 2, size=examples)
    second_is_y = rng.integers(0, 2, size=examples)
    rows = np.arange(examples)
    symbols[rows, first] = 4 + first_is_y  # X = 4, Y = 5
    symbols[rows, second] = 4 + second_is_y
    x = np.eye(len(TEMPORAL_ORDER_SYMBOLS), dtype=np.float32)[symbols]  # (n, T, 8)
    y = (2 * first_is_y + second_is_y).astype(np.int32)  # index into TEMPORAL_ORDER_CLASSES
    return _split(x, y, stratify=True)


# --- sequence to sequence --------------------------------------------------

# Token ids of `digit_reversal`: 0 pads, 1 starts the decoder input, 2 + d is digit d.
REVERSAL_TOKENS = ("[PAD]", "[START]", *(str(d) for d in range(10)))
START_ID = 1


@_register(
    DatasetInfo(
        name="digit_reversal",
        task="sequence_to_sequence",
        feature_shape=(16,),
        feature_dtype="int32",
        num_classes=len(REVERSAL_TOKENS),
        class_names=REVERSAL_TOKENS,
        target_shape=(8,),
        splits={"train": 3500, "validation": 500, "test": 1000},
        source="builtin",
        description="Reverse a string of `length` random digits (option, default 8). "
        "Features are the source ids followed by the teacher-forced decoder input "
        "([START] and the target shifted right), shape (2 * length,); the target is the "
        "reversed string, shape (length,). Ids: 0 [PAD], 1 [START], 2 + d for digit d. "
        "Option `examples` (default 5000), split 70/10/20.",
        citation="Sutskever, Vinyals & Le 2014, Sequence to Sequence Learning with Neural "
        "Networks (the reversal toy task)",
    ),
    options={"length": 8, "examples": 5000},
)
def digit_reversal(length: int = 8, examples: int = 5000, seed: int = 3) -> dict:
    """Digit-reversal splits: features (n, 2 * length) int32, targets (n, length) int32."""
    _check_int("length", length, 1)
    _check_int("examples", examples, 10)
    rng = np.random.default_rng(seed)
    source = rng.integers(2, 12, size=(examples, length)).astype(np.int32)
    target = source[:, ::-1]
    decoder_input = np.concatenate(
        [np.full((examples, 1), START_ID, np.int32), target[:, :-1]], axis=1
    )
    x = np.concatenate([source, decoder_input], axis=1)
    return _split(x, np.ascontiguousarray(target), stratify=False)


# --- time-series windows ---------------------------------------------------


def _time_split(steps: int) -> dict[str, slice]:
    """Steps of each split: the first 70% train, the next 10% validation, the rest test."""
    n_train = round(steps * TRAIN_FRACTION)
    n_val = round(steps * VALIDATION_FRACTION)
    return {
        "train": slice(0, n_train),
        "validation": slice(n_train, n_train + n_val),
        "test": slice(n_train + n_val, steps),
    }


def _windows(part: np.ndarray, target_index: int, window: int):
    """All windows of one split and the target's next value.

    Args:
        part: (steps, columns) float32, the driving series and the target.
        target_index: Column of the target.
        window: Steps per window, T.

    Returns:
        features (steps - T, T, columns) with the target moved to the last
        column, and targets (steps - T, 1): the target one step after each window.
    """
    order = [c for c in range(part.shape[1]) if c != target_index] + [target_index]
    part = part[:, order]
    # (steps - T + 1, columns, T) -> (steps - T + 1, T, columns); the last window has no next value.
    x = np.lib.stride_tricks.sliding_window_view(part, window, axis=0).transpose(0, 2, 1)[:-1]
    y = part[window:, -1:]
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.float32)


def _read_csv(path) -> dict[str, np.ndarray]:
    """Numeric columns of a CSV file with a header row; fully non-numeric columns
    (dates, labels) are dropped."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"CSV file {os.fspath(path)!r} is empty; expected a header row.")
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2)
    if table.shape[1] != len(header):
        raise ValueError(
            f"CSV file {os.fspath(path)!r} has {len(header)} header names but "
            f"{table.shape[1]} columns of values."
        )
    columns = {}
    for name, values in zip(header, table.T):
        missing = np.isnan(values)
        if missing.all():
            continue  # not numeric: a timestamp or a label
        if missing.any():
            raise ValueError(
                f"Column {name!r} of {os.fspath(path)!r} has a missing or non-numeric value "
                f"in data row {int(np.argmax(missing)) + 1}."
            )
        columns[name.strip()] = values
    return columns


def series_windows(series, target: str, window: int = 10) -> dict:
    """Windows of a multivariate time series for one-step-ahead forecasting.

    Args:
        series: A CSV file path (header row; rows in time order; columns that
            are not numeric, such as dates, are ignored), or a mapping of
            column name -> 1-D array of equal lengths (a pandas DataFrame works).
        target: Name of the column to forecast.
        window: Steps per window, T.

    Returns:
        `{"train": (x, y), "validation": (x, y), "test": (x, y)}` with
        features x of shape (examples, T, n + 1) float32: the n other columns
        in their order, then the target's history; targets y of shape
        (examples, 1): the target one step after each window. The splits are
        the first 70%, the next 10% and the last 20% of the steps; a window
        and its target never cross a split boundary. Features are not scaled:
        fit the scaling on `x_train` only, e.g.
        `keras.layers.Normalization(axis=-1).adapt(x_train)`.

    Example:
        >>> t = np.arange(200.0)
        >>> splits = series_windows({"x": np.sin(t), "y": np.cos(t)}, target="y", window=5)
        >>> splits["train"][0].shape, splits["train"][1].shape
        ((135, 5, 2), (135, 1))
    """
    if isinstance(series, (str, os.PathLike)):
        columns = _read_csv(series)
    elif isinstance(series, Mapping) or hasattr(series, "columns"):
        columns = {str(name): np.asarray(series[name], dtype=np.float64) for name in series}
    else:
        raise TypeError(
            "`series` must be a CSV file path or a mapping of column name -> 1-D array. "
            f"Received: {type(series).__name__}"
        )
    if target not in columns:
        raise ValueError(
            f"Unknown target column {target!r}. Columns: {', '.join(map(repr, columns))}."
        )
    lengths = {name: np.shape(v) for name, v in columns.items()}
    if any(len(shape) != 1 for shape in lengths.values()) or len(set(lengths.values())) != 1:
        raise ValueError(f"Every series must be 1-D and of the same length. Received: {lengths}")
    _check_int("window", window, 1)
    table = np.stack(list(columns.values()), axis=1)  # (steps, columns)
    steps = len(table)
    if window >= steps:
        raise ValueError(
            f"window T={window} is longer than the {steps}-step series: a window and the "
            f"value after it need at least T + 1 steps."
        )
    target_index = list(columns).index(target)
    splits = {}
    for split, rows in _time_split(steps).items():
        part = table[rows]
        if len(part) <= window:
            raise ValueError(
                f"window T={window} is longer than the {split} part of the {steps}-step "
                f"series ({len(part)} steps); windows never cross split boundaries, so "
                f"each part needs at least T + 1 steps. Use a shorter window or a longer series."
            )
        splits[split] = _windows(part, target_index, window)
    return splits


def _csv_series(path=None, target=None, window: int = 10) -> dict:
    if path is None or target is None:
        raise ValueError(
            "Dataset 'csv_series' needs the options `path` (a CSV file) and `target` "
            f"(a column name). Received: path={path!r}, target={target!r}"
        )
    return series_windows(path, target, window)


# Its own source kind (pipelines.sources): the arrays come from the user's file.
CSV_SERIES = ArrayDataset(
    DatasetInfo(
        name="csv_series",
        task="regression",
        feature_shape=(None, None),  # read from the file: (window, columns)
        feature_dtype="float32",
        target_shape=(1,),
        splits={"train": 0, "validation": 0, "test": 0},
        source="csv_series",
        description="Windows of a user CSV time series (options `path`, `target` and "
        "`window`, default 10): features (T, n + 1) are the other numeric columns and "
        "the target's history, the target is its next value; split by time 70/10/20; "
        "features standardized per column with train-split statistics; option "
        "`scale_target=True` standardizes the target too (exports serve original units).",
        standardize=True,
    ),
    _csv_series,
    {"path": None, "target": None, "window": 10, SCALE_TARGET: False},
)


# --- synthetic series with known drivers -------------------------------------

SYNTHETIC_SERIES = 8  # driving series x1..x8
# The truth: the target's drivers, name -> (coefficient, lag). Every other series is a distractor.
SYNTHETIC_DRIVERS = {"x1": (0.8, 2), "x3": (0.6, 1)}
SYNTHETIC_DRIVER_INDICES = (0, 2)  # their feature columns
SYNTHETIC_AUTOREGRESSION = 0.3  # coefficient of the target's own previous value
SYNTHETIC_NOISE = 0.1  # standard deviation of the target's noise


@_register(
    DatasetInfo(
        name="synthetic_series",
        task="regression",
        feature_shape=(10, SYNTHETIC_SERIES + 1),
        feature_dtype="float32",
        target_shape=(1,),
        splits={"train": 2790, "validation": 390, "test": 790},
        source="builtin",
        description="Eight driving series x1..x8, each an AR(1) process "
        "x_t = phi x_{t-1} + N(0, 1 - phi^2) with phi from 0.5 to 0.9, and a target "
        "y_t = 0.8 x1_{t-2} + 0.6 x3_{t-1} + 0.3 y_{t-1} + N(0, 0.1^2). Only x1 and x3 "
        "drive the target (columns 0 and 2, `SYNTHETIC_DRIVERS`); the other six are "
        "distractors. Windows of T steps (option `window`, default 10) hold x1..x8 and "
        "the target's history (last column); the target is y one step after the window. "
        "Split by time: first 70% of the steps train, next 10% validation, last 20% test "
        "(option `steps`, default 4000). Features are standardized per series with "
        "train-split statistics; option `scale_target=True` standardizes the target "
        "too (exports serve original units).",
        citation="Synthetic; the setting of Qin et al. 2017, A dual-stage attention-based "
        "recurrent neural network for time series prediction",
        standardize=True,
    ),
    options={"window": 10, "steps": 4000, SCALE_TARGET: False},
)
def synthetic_series(window: int = 10, steps: int = 4000, seed: int = 2) -> dict:
    """Synthetic-series splits (see the dataset description); also the raw
    series as `series_windows` input: use `synthetic_columns`."""
    return series_windows(synthetic_columns(steps, seed), target="y", window=window)


def synthetic_columns(steps: int = 4000, seed: int = 2) -> dict[str, np.ndarray]:
    """The raw synthetic series: {"x1": ..., ..., "x8": ..., "y": ...}, each (steps,)."""
    _check_int("steps", steps, 20)
    rng = np.random.default_rng(seed)
    phi = np.linspace(0.5, 0.9, SYNTHETIC_SERIES)  # (n,)
    shocks = rng.normal(size=(steps, SYNTHETIC_SERIES)) * np.sqrt(1.0 - phi**2)
    x = np.zeros((steps, SYNTHETIC_SERIES))
    x[0] = rng.normal(size=SYNTHETIC_SERIES)  # start in the stationary distribution
    for t in range(1, steps):  # a recurrence over time, vectorized over the series
        x[t] = phi * x[t - 1] + shocks[t]
    names = [f"x{k + 1}" for k in range(SYNTHETIC_SERIES)]
    drive = rng.normal(0.0, SYNTHETIC_NOISE, size=steps)  # (steps,) noise plus the drivers
    for name, (coefficient, lag) in SYNTHETIC_DRIVERS.items():
        drive[lag:] += coefficient * x[:-lag, names.index(name)]
    y = np.zeros(steps)
    y[0] = drive[0]
    for t in range(1, steps):
        y[t] = SYNTHETIC_AUTOREGRESSION * y[t - 1] + drive[t]
    return {**dict(zip(names, x.T)), "y": y}
