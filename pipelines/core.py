"""`pipelines.load`, `get_info`, `preprocessor` and `load_arrays`: one entry point for every source.

Each call resolves the dataset's source once (`pipelines.resolve`) and
hands the work to it. Pipelines of (features, targets) go: source -> cache
(raw, small) -> shuffle (seeded) -> batch -> preprocess (vectorized,
in-graph Keras layers) -> prefetch(AUTOTUNE), the order the tf.data
performance guide recommends (`pipelines.source.feature_pipeline`). The
preprocessing is a Keras model of serializable layers, so the exact same
graph goes into serving exports (`zoo.export`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from pipelines.info import DatasetInfo
from pipelines.source import LoadRequest
from pipelines import sources
from pipelines.sources import resolve


def load_arrays(name: str, split: str = "train", **options) -> tuple[np.ndarray, np.ndarray]:
    """Raw (features, targets) NumPy arrays of a built-in dataset split."""
    in_memory = [source for source in sources.SOURCES if source.in_memory]
    for source in in_memory:
        if source.matches(name, None, options):
            return source.arrays(name, split, options)
    names = [n for source in in_memory for n in source.names()]
    raise ValueError(f"load_arrays works on built-in datasets only ({', '.join(names)}).")


def get_info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a built-in, text or TFDS dataset.

    No data is prepared, except built-in data whose options differ from the
    defaults (its shapes and split sizes are read from the generated arrays)
    and text corpora (their vocabulary, which sets the number of classes, is
    built from the training split). `info.source` names the dataset's source
    (`pipelines.resolve`).
    """
    source = resolve(name, data_dir, **options)
    return source.info(name, options, data_dir, manual_dir, offline)


def preprocessor(name: str, image_size=None, channels=None, normalization="unit",
                 data_dir=None, **options):
    """The in-graph preprocessing of a dataset, as a `keras.Sequential`.

    Images: uint8 [0, 255] -> float32, resized to `image_size` (height,
    width) and converted to `channels` (1 or 3) when given, then normalized:
    `normalization="unit"` scales to [0, 1]; "symmetric" to [-1, 1] (for tanh
    generators, e.g. DCGAN); "caffe" is the keras.applications ResNet/VGG
    convention (BGR, ImageNet means subtracted, 0..255 scale).
    Tabular sets marked `standardize` get a `Normalization` layer holding the
    training split's mean and variance. Returns None when nothing is needed.

    Example:
        >>> prep = pipelines.preprocessor("digits", image_size=(32, 32))
        >>> prep(np.zeros((1, 8, 8, 1), "uint8")).shape
        TensorShape([1, 32, 32, 1])
    """
    source = resolve(name, data_dir, **options)
    return source.preprocessor(name, options, image_size, channels, normalization, data_dir)


def load(
    name: str,
    split: str = "train",
    *,
    batch_size: int | None = 32,
    shuffle: bool | None = None,
    seed: int = 0,
    preprocess: bool = True,
    cache: bool = True,
    drop_remainder: bool = False,
    image_size=None,
    channels: int | None = None,
    normalization: str = "unit",
    augment=None,
    data_dir: str | os.PathLike | None = None,
    manual_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    **options: Any,
):
    """A `tf.data.Dataset` of `(features, targets)` batches ready for `fit`.

    Args:
        name: A built-in dataset (`list_datasets()`), any TFDS catalog name,
            or a text corpus (a TFDS text dataset such as `tiny_shakespeare`,
            a `.txt` file or a folder of PTB-style files), which yields
            language-modelling windows (see `pipelines.text`).
        split: "train", "validation", "test", or any TFDS split string
            ("train[:90%]").
        batch_size: Examples per batch; None yields single examples.
        shuffle: Shuffle (seeded); default True for splits starting with "train".
        seed: Seed for shuffling: the same seed gives the same order.
        preprocess: Apply the in-graph preprocessing (`preprocessor`).
        cache: Cache raw examples in memory after the first pass.
        drop_remainder: Drop the last incomplete batch.
        image_size, channels, normalization: Adapt images to a model's
            input (see `preprocessor`).
        augment: Image augmentations for training splits, any of "shift",
            "crop" and "flip" (see `AUGMENTATIONS`); seeded, ignored on other
            splits (so never part of evaluation or exports).
        data_dir: TFDS data folder (default ~/tensorflow_datasets or $TFDS_DATA_DIR).
        manual_dir: Folder holding TFDS source files to prepare offline.
        offline: Never try the network; default from `ZOO_OFFLINE`.
        **options: Dataset-specific options (e.g. `gate="xor"` for `gates`).

    Raises:
        DatasetUnavailableError: within seconds, when a TFDS dataset is not
            prepared and cannot be downloaded; the message says which files to
            put in which `manual_dir`.

    Example:
        >>> ds = pipelines.load("digits", "train", batch_size=64, image_size=(32, 32))
        >>> x, y = next(iter(ds))
        >>> x.shape, y.shape
        (TensorShape([64, 32, 32, 1]), TensorShape([64]))
    """
    if shuffle is None:
        shuffle = split.startswith("train")
    request = LoadRequest(
        batch_size=batch_size, shuffle=shuffle, seed=seed, preprocess=preprocess, cache=cache,
        drop_remainder=drop_remainder, image_size=image_size, channels=channels,
        normalization=normalization, augment=augment, data_dir=data_dir,
        manual_dir=manual_dir, offline=offline,
    )
    return resolve(name, data_dir, **options).load(name, split, request, options)
