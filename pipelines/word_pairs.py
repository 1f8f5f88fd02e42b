"""Word-vector training examples from text corpora: skip-gram and CBOW with negative sampling.

Mikolov et al. 2013a (skip-gram, CBOW) and 2013b (negative sampling,
subsampling of frequent words). The corpus, its tokenization and its
train-only vocabulary are those of `pipelines.text`; this module turns the
token ids of one split into examples, all vectorized in TensorFlow:

1. Subsampling: each occurrence of word w is kept with probability
   `min(1, sqrt(t / f(w)))`, f the word's frequency in the training split
   and t the `subsample` option (2013b, section 2.3; None keeps every word).
2. Dynamic window: every kept position i draws a window R_i uniformly in
   [1, `window`] (2013a, section 3.2), so near words are paired more often.
3. Pairs: `pairs="skipgram"` gives one example per (centre, context word)
   pair, the centre as input; `pairs="cbow"` gives one example per centre
   word, its context words (up to 2 * window, padded with -1) as input.
4. Negatives: each example's true word is followed by `negatives` words
   drawn from the unigram distribution of the training split raised to 3/4
   (2013b, section 2.2).

Each element is `({"input_words": (B, C), "candidates": (B, 1 + k)}, labels (B, 1 + k))`
with labels `[1, 0, ..., 0]`: the model scores every candidate against the
input words and is taught with sigmoid cross-entropy. A training split gets
new subsampling, windows, order and negatives every epoch (seeded); other
splits get the same ones every time.
"""

from __future__ import annotations

import functools

import numpy as np

from pipelines import text
from pipelines.info import DatasetInfo, merge_options

PAIRINGS = ("skipgram", "cbow")
NOISE_POWER = 0.75  # unigram^(3/4), Mikolov et al. 2013b
PAD_ID = -1  # pads CBOW contexts at the corpus edges and for short windows
# Options of word-pair corpora and their defaults.
PAIR_OPTIONS = {"pairs": "skipgram", "level": "word_lower", "window": 5, "negatives": 5,
                "subsample": 1e-3, "max_tokens": None, "vocabulary": None}


def check_options(options: dict) -> dict:
    """Word-pair options merged over `PAIR_OPTIONS`, each checked."""
    opts = merge_options("Word-pair corpora", options, PAIR_OPTIONS)
    if opts["pairs"] not in PAIRINGS:
        raise ValueError(
            f"`pairs` must be one of {', '.join(map(repr, PAIRINGS))}. Received: pairs={opts['pairs']!r}"
        )
    text.check_options({"level": opts["level"], "max_tokens": opts["max_tokens"]})
    for key in ("window", "negatives"):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value!r}")
    t = opts["subsample"]
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 1):
        raise ValueError(f"`subsample` must be None or in (0, 1]. Received: subsample={t!r}")
    return opts


def vocabulary(name, opts, data_dir=None, manual_dir=None, offline=None) -> tuple[str, ...]:
    """The corpus vocabulary of `pipelines.text` (training split only, `[UNK]` first)."""
    return text.vocabulary(name, opts["level"], opts["max_tokens"], data_dir, manual_dir,
                           offline, opts["vocabulary"])


@functools.lru_cache(maxsize=16)
def _ids(name, split, level, tokens, data_dir, manual_dir, offline) -> np.ndarray:
    return text.split_ids(name, split, level, tokens, data_dir, manual_dir, offline).numpy()


def split_ids(name, split: str, data_dir=None, manual_dir=None, offline=None,
              **options) -> np.ndarray:
    """Token ids (N,) int32 of one split, in corpus order, with the corpus vocabulary."""
    opts = check_options(options)
    tokens = vocabulary(name, opts, data_dir, manual_dir, offline)
    as_str = lambda v: None if v is None else str(v)  # noqa: E731  (hashable cache keys)
    ids = _ids(str(name), split, opts["level"], tokens, as_str(data_dir), as_str(manual_dir),
               offline)
    return ids.copy()


def unigram_counts(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Occurrences of each id (V,) int64."""
    return np.bincount(np.asarray(ids), minlength=vocab_size).astype(np.int64)


def noise_distribution(counts: np.ndarray, power: float = NOISE_POWER) -> np.ndarray:
    """The negative-sampling distribution (V,): counts^power, normalized (2013b)."""
    weights = np.asarray(counts, np.float64) ** power
    return weights / weights.sum()


def keep_probabilities(counts: np.ndarray, subsample: float | None) -> np.ndarray:
    """Probability (V,) of keeping an occurrence of each word: min(1, sqrt(t / f)) (2013b)."""
    counts = np.asarray(counts, np.float64)
    if subsample is None:
        return np.ones_like(counts)
    frequency = counts / max(counts.sum(), 1.0)
    with np.errstate(divide="ignore"):
        keep = np.sqrt(subsample / frequency)
    return np.minimum(keep, 1.0)  # unseen words (f = 0) are kept


def examples(ids, keep, window: int, pairs: str, seed):
    """One epoch of (input words (P, C), true words (P,)) from token ids (N,), seeded.

    `keep` (V,) are the subsampling probabilities; `seed` a shape-(2,) int
    tensor of the stateless random ops. C is 1 for skip-gram, 2 * window for
    CBOW (padded with `PAD_ID`).
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    n = tf.size(ids)
    kept_mask = tf.random.stateless_uniform([n], seed=seed + [0, 1]) < tf.gather(keep, ids)
    kept = tf.boolean_mask(ids, kept_mask)  # (M,)
    m = tf.size(kept)
    reach = tf.random.stateless_uniform([m], seed=seed + [0, 2], minval=1, maxval=window + 1,
                                        dtype=tf.int32)  # R_i in [1, window]
    offsets = tf.constant([d for d in range(-window, window + 1) if d != 0], tf.int32)  # (2W,)
    positions = tf.range(m)[:, None] + offsets[None, :]  # (M, 2W)
    valid = ((positions >= 0) & (positions < m)
             & (tf.abs(offsets)[None, :] <= reach[:, None]))  # (M, 2W)
    neighbours = tf.gather(kept, tf.clip_by_value(positions, 0, tf.maximum(m - 1, 0)))
    if pairs == "skipgram":
        centres = tf.broadcast_to(kept[:, None], tf.shape(neighbours))
        inputs = tf.boolean_mask(centres, valid)[:, None]  # (P, 1)
        targets = tf.boolean_mask(neighbours, valid)  # (P,)
    else:
        has_context = tf.reduce_any(valid, axis=1)
        inputs = tf.boolean_mask(tf.where(valid, neighbours, PAD_ID), has_context)  # (P, 2W)
        targets = tf.boolean_mask(kept, has_context)  # (P,)
    return inputs, targets


def with_negatives(inputs, targets, noise_logits, negatives: int, seed):
    """Append `negatives` noise words to each true word: ({input_words, candidates}, labels)."""
    import tensorflow as tf

    b = tf.shape(targets)[0]
    drawn = tf.random.stateless_categorical(noise_logits[None, :], b * negatives,
                                            seed=tf.cast(seed, tf.int64), dtype=tf.int32)
    noise = tf.reshape(drawn, (b, negatives))  # (B, k)
    candidates = tf.concat([targets[:, None], noise], axis=1)  # (B, 1 + k)
    labels = tf.one_hot(tf.zeros_like(targets), negatives + 1)  # (B, 1 + k): [1, 0, ..., 0]
    return {"input_words": inputs, "candidates": candidates}, labels


def info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a corpus read as word pairs (builds the vocabulary)."""
    opts = check_options(options)
    tokens = vocabulary(name, opts, data_dir, manual_dir, offline)
    context = 1 if opts["pairs"] == "skipgram" else 2 * opts["window"]
    return DatasetInfo(
        name=str(name),
        task="embedding",
        feature_shape=(context,),
        feature_dtype="int32",
        num_classes=len(tokens),
        class_names=tokens,
        target_shape=(1 + opts["negatives"],),
        splits={"train": 0, "validation": 0, "test": 0},
        source=WordPairsSource.kind,
        description=f"{opts['pairs']} examples of {opts['level']} tokens, window "
        f"{opts['window']}, {opts['negatives']} negatives",
    )


def load(name: str, split: str, batch_size: int | None = 32, *, shuffle: bool | None = None,
         seed: int = 0, drop_remainder: bool = False, data_dir=None, manual_dir=None,
         offline=None, **options):
    """`({"input_words", "candidates"}, labels)` batches of one split for `fit` (see module doc)."""
    import tensorflow as tf

    opts = check_options(options)
    where = dict(data_dir=data_dir, manual_dir=manual_dir, offline=offline)
    vocab_size = len(vocabulary(name, opts, **where))
    counts = unigram_counts(split_ids(name, "train", **where, **opts), vocab_size)
    ids = tf.constant(split_ids(name, split, **where, **opts))
    keep = tf.constant(keep_probabilities(counts, opts["subsample"]), tf.float32)
    with np.errstate(divide="ignore"):
        noise_logits = tf.constant(np.log(noise_distribution(counts)), tf.float32)  # (V,)
    if shuffle is None:
        shuffle = split.startswith("train")
    window, pairs, negatives = opts["window"], opts["pairs"], opts["negatives"]
    # Subsampling and windows are random, so epochs differ slightly in size; every
    # epoch is cut or cycled to the size of a first draw, so Keras knows the steps.
    count = int(tf.size(examples(ids, keep, window, pairs, tf.constant([seed, 0]))[1]))
    if count == 0:
        raise ValueError(
            f"Split {split!r} of {name!r} has {int(tf.size(ids))} tokens: too few for one "
            f"{pairs} example with window={window}."
        )
    batch = batch_size or 1
    steps = count // batch if drop_remainder else -(-count // batch)

    def epoch(epoch_seed):
        seed_pair = tf.stack([tf.cast(seed, tf.int64), epoch_seed])
        inputs, targets = examples(ids, keep, window, pairs, seed_pair)
        if shuffle:
            order = tf.argsort(tf.random.stateless_uniform(tf.shape(targets), seed=seed_pair + [0, 3]))
            inputs, targets = tf.gather(inputs, order), tf.gather(targets, order)
        cycles = count // tf.maximum(tf.size(targets, out_type=tf.int64), 1) + 1
        ds = tf.data.Dataset.from_tensor_slices((inputs, targets)).repeat(cycles).take(count)
        ds = ds.batch(batch, drop_remainder=drop_remainder).enumerate()
        ds = ds.map(lambda i, b: with_negatives(*b, noise_logits, negatives, seed_pair + [1, i]))
        return ds if batch_size else ds.unbatch()

    # One seed per pass: a fresh one each epoch for training splits.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=shuffle).take(1)
    ds = seeds.flat_map(epoch).apply(
        tf.data.experimental.assert_cardinality(steps if batch_size else count))
    return ds.prefetch(tf.data.AUTOTUNE)


class WordPairsSource(text.TextCorpusSource):
    """A text corpus read as word-vector training pairs: the `pairs` option is given."""

    kind = "word_pairs"

    def matches(self, name, data_dir, options: dict) -> bool:
        return "pairs" in options and super().matches(name, data_dir, options)

    make_info = staticmethod(info)
    make_dataset = staticmethod(load)
