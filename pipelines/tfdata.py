"""A `tf.data.Dataset` of `(x, y)` as own data, batched or not.

The dataset is read as it is: a batched one (its first dimension unknown) is
unbatched, numeric features become float32 (uint8 images stay uint8 and get
the image preprocessing), and labels follow the rules of `pipelines.own`,
learnt in one pass over the training dataset (which also refuses NaN or inf
features, naming the element). Without a validation split, every k-th element
of each class (k = round(1 / validation_split), from a seeded offset) is held
out, so the dataset must yield its elements in the same order on every pass
(do not shuffle it before giving it; the zoo shuffles).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from pipelines.info import DatasetInfo
from pipelines.own import (MEMORY, SPLITS, DataError, check_options, content_name,
                           holdout_offset, holdout_period, infer_labels, info_task, label_ids,
                           unknown_memory_name)
from pipelines.source import LoadRequest, Source, feature_pipeline


def is_dataset(value) -> bool:
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec")


def _pairs(ds, where: str):
    """`ds` as unbatched (x, y) pairs."""
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise DataError(f"{where}: a tf.data.Dataset must yield (x, y) pairs. Received "
                        f"elements of {spec}.")
    x_spec, y_spec = spec
    if x_spec.shape.rank and x_spec.shape[0] is None and y_spec.shape.rank and (
            y_spec.shape[0] is None):
        ds = ds.unbatch()
    return ds


def register(splits: dict) -> str:
    digest = hashlib.sha256()
    for split in sorted(splits):
        ds = _pairs(splits[split], f"tf.data split {split!r}")
        digest.update(f"{split}{ds.element_spec}{int(splits[split].cardinality())}".encode())
        for x, y in ds.take(2).as_numpy_iterator():
            digest.update(np.asarray(x).tobytes() + np.asarray(y).tobytes())
    name = content_name("tf_data", digest)
    MEMORY.setdefault(name, {k: _pairs(v, f"tf.data split {k!r}") for k, v in splits.items()})
    return name


@functools.lru_cache(maxsize=16)
def _labels(name: str, task, where: str):
    """One pass over the training dataset: its `Labels` and the examples per class (one
    count for regression); refuses NaN or inf features, naming the element."""
    import tensorflow as tf

    ds = MEMORY[name]["train"]
    x_spec = ds.element_spec[0]
    floating = x_spec.dtype.is_floating

    def finite(x, y):
        ok = tf.reduce_all(tf.math.is_finite(x)) if floating else tf.constant(True)
        return ok, y

    labels, seen = [], 0
    for ok, y in ds.map(finite).batch(4096).as_numpy_iterator():
        if not ok.all():
            raise DataError(f"{where}: element {seen + int(np.argmax(~ok))} holds NaN or inf "
                            "features. Remove or fill them first.")
        labels.append(y)
        seen += len(ok)
    if not seen:
        raise DataError(f"{where}: the dataset is empty.")
    y = np.concatenate(labels)
    if y.dtype == object:
        y = y.astype(str)
    inferred = infer_labels(y, task, where)
    if inferred.classes is None:
        return inferred, np.array([seen])
    ids = inferred.encode(y, where).reshape(-1).astype(np.int64)
    return inferred, np.bincount(ids, minlength=len(inferred.classes))


def _offsets(classes: int, opts: dict) -> list[int]:
    """Each class's seeded offset into the every-k-th rule of `_held_out`."""
    k = holdout_period(opts["validation_split"])
    return [holdout_offset(opts["split_seed"], c, k) for c in range(classes)]


def _held_count(counts, opts: dict) -> int:
    """How many elements `_held_out` holds out of classes of these sizes."""
    k = holdout_period(opts["validation_split"])
    first = [(-o) % k for o in _offsets(len(counts), opts)]
    return sum(0 if j >= n else (n - 1 - j) // k + 1 for j, n in zip(first, counts.tolist()))


class TfDataSource(Source):
    """`tf.data.Dataset`s given in this process."""

    own = True
    kind = "tf_data"

    def matches(self, name, data_dir, options: dict) -> bool:
        return str(name).startswith("tf_data-") and len(str(name)) == 20

    def _splits(self, name) -> dict:
        if name not in MEMORY:
            raise unknown_memory_name(name)
        return MEMORY[name]

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        opts = check_options("tf.data datasets", options)
        splits = self._splits(name)
        labels, counts = _labels(name, opts["task"], "the tf.data dataset")
        x_spec = splits["train"].element_spec[0]
        task, classes = info_task(labels)
        n, held = int(counts.sum()), _held_count(counts, opts)
        sizes = {"train": n} if "validation" in splits else {"train": n - held,
                                                              "validation": held}
        for split in splits:
            if split != "train":
                sizes[split] = int(splits[split].cardinality())
        image = x_spec.dtype.name == "uint8" and x_spec.shape.rank == 3
        return DatasetInfo(
            name=name, task=task, feature_shape=tuple(x_spec.shape),
            feature_dtype="uint8" if image else "float32", num_classes=classes,
            class_names=labels.class_names, target_shape=labels.target_shape, splits=sizes,
            source=self.kind, description="Own tf.data dataset.",
        )

    def _encoded(self, name, split: str, options: dict):
        import tensorflow as tf

        opts = check_options("tf.data datasets", options)
        splits = self._splits(name)
        labels, _ = _labels(name, opts["task"], "the tf.data dataset")
        available = ["train", "validation", *(k for k in splits if k not in SPLITS[:2])]
        if split not in available:
            raise ValueError(f"Dataset {name!r} has no split {split!r}. "
                             f"Available: {', '.join(available)}.")
        # Without its own validation split, both parts come from the training dataset.
        source = splits[split if split in splits else "train"]
        x_dtype = source.element_spec[0].dtype
        lookup = label_ids(labels.classes) if labels.classes is not None else None

        def encode(x, y):
            if x_dtype != tf.uint8:
                x = tf.cast(x, tf.float32)
            if labels.classes is None:
                return x, tf.reshape(tf.cast(y, tf.float32), labels.target_shape)
            ids = lookup(y)
            if labels.task == "binary_classification":
                return x, tf.reshape(tf.cast(ids, tf.float32), (1,))
            return x, tf.cast(ids, tf.int32)

        ds = source.map(encode)
        if "validation" not in splits and split in ("train", "validation"):
            ds = _held_out(ds, len(labels.classes or [0]), opts, keep=split == "validation",
                           classify=labels.classes is not None)
        return ds

    def load(self, name, split: str, request: LoadRequest, options: dict):
        ds = self._encoded(name, split, options)
        info = self.info(name, options)
        prep = (self.preprocessor(name, options, request.image_size, request.channels,
                                  request.normalization) if request.preprocess else None)
        import dataclasses

        request = dataclasses.replace(request, cache=False)
        return feature_pipeline(ds, name, split, request, info, 10_000, prep)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        from pipelines import preprocessing

        info = self.info(name, options)
        if not info.is_image and image_size is None and channels is None:
            return None
        preprocessing.check_normalization(normalization)
        return preprocessing.feature_preprocessor(name, info, image_size, channels, normalization)


def _held_out(ds, classes: int, opts: dict, keep: bool, classify: bool):
    """Every k-th element of each class (a seeded offset per class): the validation part
    (`keep`) or the rest."""
    import tensorflow as tf

    k = holdout_period(opts["validation_split"])
    offsets = tf.constant(_offsets(classes, opts), tf.int64)

    def step(counts, element):
        x, y = element
        c = tf.reshape(tf.cast(y, tf.int64), (-1,))[0] if classify else tf.constant(0, tf.int64)
        held = (counts[c] + offsets[c]) % k == 0
        counts = tf.tensor_scatter_nd_add(counts, [[c]], [1])
        return counts, (x, y, held)

    marked = ds.scan(tf.zeros([classes], tf.int64), step)
    return marked.filter(lambda x, y, held: held if keep else tf.logical_not(held)).map(
        lambda x, y, held: (x, y))
