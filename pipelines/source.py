"""The `Source` interface: how one kind of dataset is recognised, described and loaded.

`pipelines.resolve(name, **options)` asks the sources of
`pipelines.sources.SOURCES` in order whether they read `name`; the first
that does is the dataset's source. Its `kind` is recorded as
`DatasetInfo.source`, and `pipelines.load`, `get_info`, `preprocessor` and
`load_arrays` call it, so no other code asks what kind a dataset is. A new
kind of data is a new `Source` subclass added to that list.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipelines import preprocessing
from pipelines.info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class LoadRequest:
    """The arguments of `pipelines.load` besides the name, the split and the dataset options."""

    batch_size: int | None = 32
    shuffle: bool = False
    seed: int = 0
    preprocess: bool = True
    cache: bool = True
    drop_remainder: bool = False
    image_size: Any = None
    channels: int | None = None
    normalization: str = "unit"
    augment: Any = None
    data_dir: Any = None
    manual_dir: Any = None
    offline: bool | None = None


class Source:
    """One kind of dataset. Subclasses set `kind` and implement the methods below.

    Attributes:
        kind: The name of the kind, recorded as `DatasetInfo.source`.
        in_memory: Whether the splits are NumPy arrays in memory, read by
            `pipelines.load_arrays` (and split among workers by element).
        own: Whether the data is the user's own (arrays, tables, folders, tf.data),
            whose content a name does not fix: a run records its `DatasetInfo.signature()`.
    """

    kind: str = ""
    in_memory: bool = False
    own: bool = False  # the user's own data (pipelines.own): its shape is recorded with a run

    def names(self) -> tuple[str, ...]:
        """The dataset names this source lists in `pipelines.list_datasets()`."""
        return ()

    def matches(self, name, data_dir, options: dict) -> bool:
        """Whether this source reads dataset `name` with these options."""
        raise NotImplementedError

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        """The dataset's `DatasetInfo`, its `source` being this source's `kind`."""
        raise NotImplementedError

    def load(self, name, split: str, request: LoadRequest, options: dict):
        """A `tf.data.Dataset` of one split (see `pipelines.load`)."""
        raise NotImplementedError

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        """The in-graph preprocessing (see `pipelines.preprocessor`); None by default."""
        return None

    def arrays(self, name, split: str, options: dict):
        """Raw (features, targets) NumPy arrays of a split, for `in_memory` sources."""
        raise NotImplementedError


class TextSource(Source):
    """Text that becomes token ids inside the pipeline: no image arguments, no preprocessor."""

    described_as = "a text dataset"

    def refuse_image_arguments(self, name, request: LoadRequest) -> None:
        if request.image_size is not None or request.channels is not None or request.augment:
            raise ValueError(f"Dataset {name!r} is {self.described_as}; image_size, channels "
                             "and augment do not apply.")


def feature_pipeline(ds, name, split: str, request: LoadRequest, info: DatasetInfo,
                     n_examples: int, prep):
    """cache -> shuffle (seeded) -> batch -> preprocess -> augment -> prefetch.

    The order the tf.data performance guide recommends, for the
    `(features, targets)` examples of array and TFDS sources; `prep` is the
    in-graph preprocessing (or None), run vectorized on batches.
    """
    import tensorflow as tf

    if request.cache:
        ds = ds.cache()
    if request.shuffle:
        ds = ds.shuffle(
            min(max(n_examples, 1), 10_000), seed=request.seed, reshuffle_each_iteration=True
        )
    if request.batch_size is not None:
        ds = ds.batch(request.batch_size, drop_remainder=request.drop_remainder)
    if prep is not None:
        ds = ds.map(
            lambda x, y: (prep(x, training=False), y),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    augment_names = preprocessing.augment_names(request.augment)  # checked on every split
    if augment_names and split.startswith("train"):
        if not info.is_image:
            raise ValueError(f"Augmentation applies to image datasets; {name!r} is not one.")
        if not request.preprocess or request.batch_size is None:
            raise ValueError("Augmentation needs preprocess=True and a batch_size.")
        augmenter = preprocessing.augmenter(augment_names, request.seed,
                                            ds.element_spec[0].shape[1:3])
        # Sequential map: the random layers' seed generator is stateful.
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y))
    return ds.prefetch(tf.data.AUTOTUNE)
