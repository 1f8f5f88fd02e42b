"""Text classification pipelines: labelled TFDS text (`imdb_reviews`, ...) -> fixed-length ids.

A TFDS dataset whose supervised input is a text feature and whose target is
a class label is tokenized like the language-model corpora
(`pipelines.text.tokenize`, word level by default), looked up in a
vocabulary built from the training split only (`[UNK]` = 0, `max_tokens`
at most), and cut or padded to `seq_len` ids: the last `seq_len` tokens are
kept and shorter texts are padded with 0 in front, so a recurrent network
reads the words last (Keras' `pad_sequences` defaults).
"""

from __future__ import annotations

import functools

from pipelines import text, tfds_source
from pipelines.info import DatasetInfo, merge_options
from pipelines.source import LoadRequest, TextSource

OPTIONS = {"level": "word", "seq_len": 200, "max_tokens": 20_000, "vocabulary": None}


def check_options(options: dict) -> dict:
    opts = merge_options("Text classification datasets", options, OPTIONS)
    text.check_options({k: v for k, v in opts.items() if k in text.TEXT_OPTIONS})
    return opts


def _examples(name, split, data_dir, manual_dir, offline, shuffle=False, seed=0):
    import tensorflow_datasets as tfds

    b = tfds_source.ensure_prepared(name, data_dir, manual_dir, offline)
    base = split.split("[")[0]
    if b.info.splits and base not in b.info.splits:
        raise ValueError(
            f"Dataset {name!r} has no split {split!r}. Available: {', '.join(b.info.splits)}."
        )
    ds = b.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle,
                      read_config=tfds.ReadConfig(shuffle_seed=seed))
    return b, ds


@functools.lru_cache(maxsize=8)
def _vocabulary(name, level, max_tokens, data_dir, manual_dir, offline) -> tuple[str, ...]:
    _, ds = _examples(name, "train", data_dir, manual_dir, offline)
    stream = ds.map(lambda t, _: text.tokenize(t, level)).unbatch()
    return text.vocabulary_from_tokens(stream, max_tokens)


def vocabulary(name, opts, data_dir=None, manual_dir=None, offline=None) -> tuple[str, ...]:
    if opts["vocabulary"] is not None:
        return text.read_vocabulary(opts["vocabulary"])
    return _vocabulary(name, opts["level"], opts["max_tokens"],
                       None if data_dir is None else str(data_dir),
                       None if manual_dir is None else str(manual_dir), offline)


def info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a labelled text dataset (builds the vocabulary)."""
    opts = check_options(options)
    b = tfds_source.builder(name, data_dir)
    label = b.info.features[b.info.supervised_keys[1]]
    tokens = vocabulary(name, opts, data_dir, manual_dir, offline)
    return DatasetInfo(
        name=name,
        task="classification",
        feature_shape=(opts["seq_len"],),
        feature_dtype="int32",
        num_classes=label.num_classes,
        class_names=tuple(label.names),
        splits={k: v.num_examples for k, v in b.info.splits.items()},
        source=LabelledTextSource.kind,
        description=b.info.description or "",
        citation=b.info.citation or "",
        vocabulary=tokens,
        text_level=opts["level"],
    )


def load(name: str, split: str, batch_size: int | None = 32, *, shuffle: bool | None = None,
         seed: int = 0, cache: bool = True, drop_remainder: bool = False, data_dir=None,
         manual_dir=None, offline=None, **options):
    """`(ids, label)` batches: ids (batch, seq_len) int32, pre-padded with 0."""
    import tensorflow as tf

    from pipelines.layers import TextToIds

    opts = check_options(options)
    tokens = vocabulary(name, opts, data_dir, manual_dir, offline)
    if shuffle is None:
        shuffle = split.startswith("train")
    b, ds = _examples(name, split, data_dir, manual_dir, offline, shuffle, seed)
    if cache:
        ds = ds.cache()
    if shuffle:
        n = b.info.splits[split].num_examples if b.info.splits else 10_000
        ds = ds.shuffle(min(max(n, 1), 10_000), seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    to_ids = TextToIds(tokens, opts["level"], length=opts["seq_len"])
    if batch_size is None:
        ds = ds.map(lambda t, y: (to_ids(t[None])[0][0], y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda t, y: (to_ids(t)[0], y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class LabelledTextSource(TextSource):
    """TFDS datasets of (text, class label) pairs, read as fixed-length token ids."""

    kind = "labelled_text"

    def matches(self, name, data_dir, options: dict) -> bool:
        return (not text.is_local_corpus(name)
                and tfds_source.catalog_kind(name, data_dir) == "labelled_text")

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        return info(name, data_dir, manual_dir, offline, **options)

    def load(self, name, split: str, request: LoadRequest, options: dict):
        self.refuse_image_arguments(name, request)
        return load(name, split, request.batch_size, shuffle=request.shuffle, seed=request.seed,
                    cache=request.cache, drop_remainder=request.drop_remainder,
                    data_dir=request.data_dir, manual_dir=request.manual_dir,
                    offline=request.offline, **options)
