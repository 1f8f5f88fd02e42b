"""Built-in offline datasets: never downloaded, always the same.

Each loader returns raw NumPy splits: images as uint8 in [0, 255] with a
channel axis, tabular features as float32, class labels as int32 and
binary/regression targets as float32 of shape (n, 1). Normalization is not
done here: it belongs to the in-graph preprocessor (see `pipelines.core`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from pipelines import preprocessing
from pipelines.info import DatasetInfo, OptionError
from pipelines.source import LoadRequest, Source, feature_pipeline

# Fixed split fractions for every built-in set that is not a truth table.
TRAIN_FRACTION, VALIDATION_FRACTION = 0.7, 0.1
_SPLIT_SEED = 0  # fixed forever: the splits are part of the dataset definition


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
    """A named dataset made in memory: `make(**options)` returns its NumPy splits."""

    info: DatasetInfo
    make: Callable[..., dict[str, tuple[np.ndarray, np.ndarray]]]
    options: dict  # accepted options and their defaults


# The built-in datasets (the sequence ones register from pipelines.sequences).
BUILTINS: dict[str, ArrayDataset] = {}


def _register(info: DatasetInfo, options: dict | None = None):
    def decorate(make):
        BUILTINS[info.name] = ArrayDataset(info, make, dict(options or {}))
        return make

    return decorate


@functools.lru_cache(maxsize=32)
def _made_splits(make, frozen_options: tuple) -> dict:
    return make(**dict(frozen_options))


# The option of regression datasets that standardizes their targets (see `standardize_targets`).
SCALE_TARGET = "scale_target"


def target_statistics(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per target column, the mean and standard deviation of training targets (n, k);
    a constant column gets std 1, so it is only centred."""
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    mean, std = y.mean(axis=0), y.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def standardize_targets(splits: dict) -> dict:
    """Every split's targets as (y - mean) / std with the training split's statistics:
    the loss is then on a unit scale whatever the target's units. The serving export
    applies the inverse (`DatasetInfo.target_mean`, `target_std`)."""
    mean, std = target_statistics(splits["train"][1])
    return {split: (x, ((y.reshape(len(y), -1) - mean) / std).reshape(y.shape).astype(np.float32))
            for split, (x, y) in splits.items()}


class ArraySource(Source):
    """Named datasets whose splits are NumPy arrays made in memory (`ArrayDataset`)."""

    in_memory = True

    def __init__(self, kind: str, datasets: dict[str, ArrayDataset]):
        self.kind, self.datasets = kind, datasets

    def names(self) -> tuple[str, ...]:
        return tuple(self.datasets)

    def matches(self, name, data_dir, options: dict) -> bool:
        return isinstance(name, str) and name in self.datasets

    def _options(self, name: str, options: dict) -> dict:
        accepted = self.datasets[name].options
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            listing = ", ".join(sorted(accepted)) or "none"
            raise OptionError(
                f"Dataset {name!r} got unknown option(s) {', '.join(unknown)}. "
                f"Accepted options: {listing}."
            )
        scale = options.get(SCALE_TARGET, False)
        if not isinstance(scale, bool):
            raise ValueError(
                f"`{SCALE_TARGET}` must be True or False. Received: {SCALE_TARGET}={scale!r}"
            )
        return {**accepted, **options}

    def _splits(self, name: str, options: dict) -> dict:
        options = dict(options)
        scale = options.pop(SCALE_TARGET, False)
        splits = _made_splits(self.datasets[name].make, tuple(sorted(options.items())))
        return standardize_targets(splits) if scale else splits

    def arrays(self, name, split: str, options: dict):
        splits = self._splits(name, self._options(name, options))
        if split not in splits:
            raise ValueError(
                f"Dataset {name!r} has no split {split!r}. Available: {', '.join(splits)}."
            )
        x, y = splits[split]
        return x.copy(), y.copy()

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        """The declared info; options other than the defaults may change shapes and
        sizes (a sequence length, a CSV file), so those are read from the arrays."""
        dataset = self.datasets[name]
        opts = self._options(name, options)
        if opts == dataset.options:
            return dataset.info
        splits = self._splits(name, opts)
        x, y = splits["train"]
        scaling = {}
        if opts.get(SCALE_TARGET):
            raw = self._splits(name, {**opts, SCALE_TARGET: False})
            mean, std = target_statistics(raw["train"][1])
            scaling = dict(target_mean=tuple(mean.tolist()), target_std=tuple(std.tolist()))
        return dataclasses.replace(
            dataset.info, feature_shape=tuple(x.shape[1:]), target_shape=tuple(y.shape[1:]),
            splits={k: len(v[0]) for k, v in splits.items()}, **scaling,
        )

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import tensorflow as tf

        x, y = self.arrays(name, split, options)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        prep = (self.preprocessor(name, options, request.image_size, request.channels,
                                  request.normalization) if request.preprocess else None)
        return feature_pipeline(ds, name, split, request, self.info(name, options), len(x), prep)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        preprocessing.check_normalization(normalization)
        info = self.info(name, options)
        return preprocessing.feature_preprocessor(
            name, info, image_size, channels, normalization,
            train_features=lambda: self.arrays(name, "train", options)[0])


def _split(x: np.ndarray, y: np.ndarray, stratify: bool) -> dict:
    """70/10/20 train/validation/test split with a fixed permutation."""
    from sklearn.model_selection import train_test_split

    n_test = round(len(x) * (1 - TRAIN_FRACTION - VALIDATION_FRACTION))
    n_val = round(len(x) * VALIDATION_FRACTION)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=n_test, random_state=_SPLIT_SEED, stratify=y if stratify else None
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=n_val, random_state=_SPLIT_SEED,
        stratify=y_rest if stratify else None,
    )
    return {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}


@_register(
    DatasetInfo(
        name="digits",
        task="classification",
        feature_shape=(8, 8, 1),
        feature_dtype="uint8",
        num_classes=10,
        class_names=tuple(str(i) for i in range(10)),
        splits={"train": 1258, "validation": 180, "test": 359},
        source="builtin",
        description="scikit-learn's bundled UCI handwritten digits: 1,797 8x8 images. "
        "Intensities 0..16 are stored as uint8 0..255 (v * 255 / 16, rounded) so they "
        "share the image convention of MNIST and CIFAR.",
        citation="Alpaydin & Kaynak 1998, UCI Optical Recognition of Handwritten Digits",
    )
)
def _digits() -> dict:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return _split(images, bunch.target.astype(np.int32), stratify=True)


@_register(
    DatasetInfo(
        name="iris",
        task="classification",
        feature_shape=(4,),
        feature_dtype="float32",
        num_classes=3,
        class_names=("setosa", "versicolor", "virginica"),
        splits={"train": 105, "validation": 15, "test": 30},
        source="builtin",
        description="Fisher's iris: 150 flowers, 4 measurements (cm), 3 species.",
        citation="Fisher 1936, The use of multiple measurements in taxonomic problems",
        standardize=True,
    )
)
def _iris() -> dict:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return _split(bunch.data.astype(np.float32), bunch.target.astype(np.int32), stratify=True)


@_register(
    DatasetInfo(
        name="linear_1d",
        task="regression",
        feature_shape=(1,),
        feature_dtype="float32",
        target_shape=(1,),
        splits={"train": 140, "validation": 20, "test": 40},
        source="builtin",
        description="200 points x ~ U(-4, 4), y = x - 1 + N(0, 1): the least-squares "
        "fit should find slope 1 and intercept -1.",
    )
)
def _linear_1d() -> dict:
    rng = np.random.default_rng(_SPLIT_SEED)
    x = rng.uniform(-4.0, 4.0, size=(200, 1)).astype(np.float32)
    y = (x - 1.0 + rng.normal(0.0, 1.0, size=(200, 1))).astype(np.float32)
    return _split(x, y, stratify=False)


@_register(
    DatasetInfo(
        name="logistic_2d",
        task="binary_classification",
        feature_shape=(2,),
        feature_dtype="float32",
        num_classes=2,
        target_shape=(1,),
        splits={"train": 140, "validation": 20, "test": 40},
        source="builtin",
        description="200 points x1, x2 ~ U(-1, 1); label 1 when x2 > x1 + 1 + e, "
        "e ~ N(0, 0.3^2). The classes are imbalanced: see `class_balance`.",
    )
)
def _logistic_2d() -> dict:
    rng = np.random.default_rng(_SPLIT_SEED)
    x = rng.uniform(-1.0, 1.0, size=(200, 2)).astype(np.float32)
    noise = rng.normal(0.0, 0.3, size=200)
    y = (x[:, 1] > x[:, 0] + 1.0 + noise).astype(np.float32)[:, None]
    return _split(x, y, stratify=True)


GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "xor": (0, 1, 1, 0),
}


@_register(
    DatasetInfo(
        name="gates",
        task="binary_classification",
        feature_shape=(2,),
        feature_dtype="float32",
        num_classes=2,
        target_shape=(1,),
        splits={"train": 4, "validation": 4, "test": 4},
        source="builtin",
        description="Truth table of a two-input logic gate (option gate=and|or|nand|xor). "
        "Every split is the whole table: the task is to represent the function.",
    ),
    options={"gate": "and"},
)
def _gates(gate: str = "and") -> dict:
    if gate not in GATES:
        raise ValueError(
            f"`gate` must be one of {', '.join(repr(g) for g in GATES)}. Received: gate={gate!r}"
        )
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array(GATES[gate], dtype=np.float32)[:, None]
    return {split: (x, y) for split in ("train", "validation", "test")}


@_register(
    DatasetInfo(
        name="blobs_4d3c",
        task="classification",
        feature_shape=(4,),
        feature_dtype="float32",
        num_classes=3,
        class_names=("0", "1", "2"),
        splits={"train": 210, "validation": 30, "test": 60},
        source="builtin",
        description="300 points in 4 dimensions around 3 Gaussian centres "
        "(sklearn.datasets.make_blobs, random_state=0), for softmax regression.",
        standardize=True,
    )
)
def _blobs_4d3c() -> dict:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=300, n_features=4, centers=3, random_state=_SPLIT_SEED)
    return _split(x.astype(np.float32), y.astype(np.int32), stratify=True)


SIGNAL_SHAPES = ("sine", "square", "sawtooth")


@_register(
    DatasetInfo(
        name="signals_1d",
        task="classification",
        feature_shape=(64, 1),
        feature_dtype="float32",
        num_classes=3,
        class_names=SIGNAL_SHAPES,
        splits={"train": 420, "validation": 60, "test": 120},
        source="builtin",
        description="600 windows of 64 samples, 1 channel: a sine, square or sawtooth wave "
        "(200 each) of random frequency (2 to 6 periods a window), phase and amplitude "
        "(0.5 to 1.5), plus N(0, 0.3^2) noise. A stand-in for sensor windows or audio "
        "frames, for the 1-D forms of the convolutional classifiers.",
    )
)
def _signals_1d() -> dict:
    rng = np.random.default_rng(_SPLIT_SEED)
    n, length = 600, 64
    labels = np.repeat(np.arange(len(SIGNAL_SHAPES), dtype=np.int32), n // len(SIGNAL_SHAPES))
    periods = rng.uniform(2.0, 6.0, size=(n, 1))
    phase = rng.uniform(0.0, 1.0, size=(n, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1))
    # Position in the wave's cycle, in [0, 1): (n, length).
    cycle = (periods * np.arange(length) / length + phase) % 1.0
    waves = np.stack([
        np.sin(2.0 * np.pi * cycle),  # sine
        np.where(cycle < 0.5, 1.0, -1.0),  # square
        2.0 * cycle - 1.0,  # sawtooth
    ])
    x = amplitude * waves[labels, np.arange(n)] + rng.normal(0.0, 0.3, size=(n, length))
    return _split(x[..., None].astype(np.float32), labels, stratify=True)
