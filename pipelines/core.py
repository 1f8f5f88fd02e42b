"""`pipelines.load`: one entry point for built-in and TFDS datasets.

Pipeline order, the one the tf.data performance guide recommends:
source -> cache (raw, small) -> shuffle (seeded) -> batch -> preprocess
(vectorized, in-graph Keras layers) -> prefetch(AUTOTUNE).
The preprocessing is a Keras model of serializable layers, so the exact same
graph goes into serving exports (`zoo.export`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import numpy as np

from pipelines.builtin import BUILTINS
from pipelines.info import DatasetInfo, OptionError

SPLITS = ("train", "validation", "test")

# Training-time augmentations for images, applied after preprocessing (on
# float images at the model's resolution), on training splits only.
AUGMENTATIONS = {
    "shift": "random translation by up to 8% of the height and width",
    "crop": "zero-pad by 1/8 of the size (4 pixels at 32), then random crop back",
    "flip": "random horizontal flip",
}


def _augment_names(augment) -> tuple[str, ...]:
    """The requested augmentation names, checked against `AUGMENTATIONS`."""
    names = (augment,) if isinstance(augment, str) else tuple(augment or ())
    unknown = [a for a in names if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"Unknown augmentation(s) {', '.join(map(repr, unknown))}. "
            f"Expected any of: {', '.join(repr(a) for a in AUGMENTATIONS)}."
        )
    return names


def _augmenter(names: tuple[str, ...], seed: int, image_shape):
    """A Keras Sequential of seeded random layers for (height, width) images."""
    import keras

    layers = []
    for name in names:
        if name == "shift":
            layers.append(keras.layers.RandomTranslation(
                0.08, 0.08, fill_mode="constant", seed=seed, name="augment_shift"))
        elif name == "crop":
            h, w = int(image_shape[0]), int(image_shape[1])
            pad_h, pad_w = max(1, round(h / 8)), max(1, round(w / 8))
            layers.append(keras.layers.ZeroPadding2D((pad_h, pad_w), name="augment_pad"))
            layers.append(keras.layers.RandomCrop(h, w, seed=seed, name="augment_crop"))
        elif name == "flip":
            layers.append(keras.layers.RandomFlip("horizontal", seed=seed, name="augment_flip"))
    return keras.Sequential(layers, name="augmentation")


def list_datasets() -> list[str]:
    """Names of the built-in datasets. Any TFDS catalog name also works."""
    return sorted(BUILTINS)


def _builtin_options(name: str, options: dict) -> dict:
    accepted = BUILTINS[name].options
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        listing = ", ".join(sorted(accepted)) or "none"
        raise OptionError(
            f"Dataset {name!r} got unknown option(s) {', '.join(unknown)}. "
            f"Accepted options: {listing}."
        )
    return {**accepted, **options}


@functools.lru_cache(maxsize=32)
def _builtin_arrays(name: str, frozen_options: tuple) -> dict:
    return BUILTINS[name].make(**dict(frozen_options))


def load_arrays(name: str, split: str = "train", **options) -> tuple[np.ndarray, np.ndarray]:
    """Raw (features, targets) NumPy arrays of a built-in dataset split."""
    if name not in BUILTINS:
        raise ValueError(f"load_arrays works on built-in datasets only ({', '.join(BUILTINS)}).")
    opts = _builtin_options(name, options)
    splits = _builtin_arrays(name, tuple(sorted(opts.items())))
    if split not in splits:
        raise ValueError(
            f"Dataset {name!r} has no split {split!r}. Available: {', '.join(splits)}."
        )
    x, y = splits[split]
    return x.copy(), y.copy()


def get_info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a built-in, text or TFDS dataset.

    No data is prepared, except built-in data whose options differ from the
    defaults (its shapes and split sizes are read from the generated arrays)
    and text corpora (their vocabulary, which sets the number of classes, is
    built from the training split).
    """
    if name in BUILTINS:
        opts = _builtin_options(name, options)
        info = BUILTINS[name].info
        if opts != BUILTINS[name].options:
            # Options may change shapes and sizes (a sequence length, a CSV file):
            # read them from the arrays those options produce.
            splits = _builtin_arrays(name, tuple(sorted(opts.items())))
            x, y = splits["train"]
            info = dataclasses.replace(
                info, feature_shape=tuple(x.shape[1:]), target_shape=tuple(y.shape[1:]),
                splits={k: len(v[0]) for k, v in splits.items()},
            )
        return info
    from pipelines import text, text_classification, tfds_source

    if options.get("corpus") or text.is_text_corpus(name, data_dir):
        return text.info(name, data_dir, manual_dir, offline, **options)
    if text_classification.is_text_classification(name, data_dir):
        return text_classification.info(name, data_dir, manual_dir, offline, **options)
    return _tfds_info(tfds_source.builder(name, data_dir))


def _tfds_info(b) -> DatasetInfo:
    import tensorflow_datasets as tfds

    info = b.info
    splits = {k: v.num_examples for k, v in info.splits.items()}
    keys = info.supervised_keys
    if not keys or not isinstance(keys[0], str) or not isinstance(keys[1], str):
        return DatasetInfo(
            name=b.name, task="unsupervised", feature_shape=(), feature_dtype="dict",
            splits=splits, source="tfds", description=info.description or "",
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
        source="tfds",
        description=info.description or "",
        citation=info.citation or "",
    )


NORMALIZATIONS = ("unit", "caffe", "symmetric")


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
    import keras

    from pipelines import text, text_classification
    from pipelines.layers import AdaptChannels, CaffeNormalization

    if name not in BUILTINS and (text.is_text_corpus(name, data_dir)
                                 or text_classification.is_text_classification(name, data_dir)):
        return None  # text becomes token ids in the pipeline (see pipelines.text)
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {', '.join(map(repr, NORMALIZATIONS))}. "
            f"Received: normalization={normalization!r}"
        )
    info = get_info(name, data_dir=data_dir, **options)
    layers = []
    if info.is_image:
        # Cast to float first: eager Keras runs later layers on raw uint8 otherwise.
        scale, offset = {"unit": (1.0 / 255.0, 0.0), "symmetric": (2.0 / 255.0, -1.0)}.get(
            normalization, (1.0, 0.0))
        layers.append(keras.layers.Rescaling(scale, offset=offset, name="rescale"))
        if image_size is not None:
            h, w = (int(s) for s in image_size)
            if (h, w) != tuple(info.feature_shape[:2]):
                layers.append(keras.layers.Resizing(h, w, interpolation="bilinear", name="resize"))
        if channels is not None and channels != info.feature_shape[-1]:
            layers.append(AdaptChannels(int(channels), name="adapt_channels"))
        if normalization == "caffe":
            layers.append(CaffeNormalization(name="caffe_normalization"))
    elif image_size is not None or channels is not None:
        raise ValueError(
            f"Dataset {name!r} is not an image dataset; image_size/channels do not apply. "
            f"Its features have shape {info.feature_shape}."
        )
    if info.standardize:
        # One mean and variance per feature (the last axis), over examples and,
        # for sequences of shape (T, features), over time steps too.
        x, _ = load_arrays(name, "train", **options)
        x = x.reshape(-1, x.shape[-1])
        layers.append(
            keras.layers.Normalization(
                mean=x.mean(axis=0), variance=x.var(axis=0), name="standardize"
            )
        )
    if not layers:
        return None
    return keras.Sequential(layers, name=f"{name}_preprocessing")


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
    import tensorflow as tf

    from pipelines import text, text_classification

    if shuffle is None:
        shuffle = split.startswith("train")
    if name not in BUILTINS and (options.get("corpus") or text.is_text_corpus(name, data_dir)):
        if image_size is not None or channels is not None or augment:
            raise ValueError(
                f"Dataset {name!r} is a text corpus; image_size, channels and augment do not apply."
            )
        return text.load(name, split, batch_size, shuffle=shuffle, seed=seed,
                         drop_remainder=drop_remainder, data_dir=data_dir,
                         manual_dir=manual_dir, offline=offline, **options)
    if name not in BUILTINS and text_classification.is_text_classification(name, data_dir):
        if image_size is not None or channels is not None or augment:
            raise ValueError(
                f"Dataset {name!r} is a text dataset; image_size, channels and augment do not apply."
            )
        return text_classification.load(
            name, split, batch_size, shuffle=shuffle, seed=seed, cache=cache,
            drop_remainder=drop_remainder, data_dir=data_dir, manual_dir=manual_dir,
            offline=offline, **options)
    if name in BUILTINS:
        x, y = load_arrays(name, split, **options)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        n_examples = len(x)
        prep = (
            preprocessor(name, image_size, channels, normalization, **options)
            if preprocess else None
        )
    else:
        if options:
            raise OptionError(
                f"TFDS dataset {name!r} takes no dataset options. Received: {sorted(options)}"
            )
        from pipelines import tfds_source
        import tensorflow_datasets as tfds

        b = tfds_source.ensure_prepared(name, data_dir, manual_dir, offline)
        info = _tfds_info(b)
        base_split = split.split("[")[0]
        if b.info.splits and base_split not in b.info.splits:
            raise ValueError(
                f"Dataset {name!r} has no split {split!r}. Available: "
                f"{', '.join(b.info.splits)} (TFDS slicing like 'train[:90%]' works too)."
            )
        ds = b.as_dataset(
            split=split,
            as_supervised=info.task != "unsupervised",
            shuffle_files=shuffle,
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
        n_examples = b.info.splits[split].num_examples if b.info.splits else 10_000
        prep = (
            preprocessor(name, image_size, channels, normalization, data_dir=data_dir)
            if preprocess and info.task != "unsupervised"
            else None
        )
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(
            min(max(n_examples, 1), 10_000), seed=seed, reshuffle_each_iteration=True
        )
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if prep is not None:
        ds = ds.map(
            lambda x, y: (prep(x, training=False), y),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    augment_names = _augment_names(augment)  # checked on every split
    if augment_names and split.startswith("train"):
        if not get_info(name, data_dir=data_dir, **options).is_image:
            raise ValueError(f"Augmentation applies to image datasets; {name!r} is not one.")
        if not preprocess or batch_size is None:
            raise ValueError("Augmentation needs preprocess=True and a batch_size.")
        augmenter = _augmenter(augment_names, seed, ds.element_spec[0].shape[1:3])
        # Sequential map: the random layers' seed generator is stateful.
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y))
    return ds.prefetch(tf.data.AUTOTUNE)
