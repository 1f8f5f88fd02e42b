"""Language-modelling pipelines: text corpora -> token ids -> BPTT windows.

A corpus is a TFDS dataset of text alone: a text feature and no labels
(`tiny_shakespeare`), or supervised keys naming the text as input and target
(`lm1b`: ('text', 'text')); a labelled one read for its text only with the
option `corpus=True` (`imdb_reviews`; language models get it automatically);
or local UTF-8 text: a folder holding `*train*.txt`, `*valid*.txt` and
`*test*.txt` (the Penn Treebank files `ptb.train.txt`, `ptb.valid.txt`,
`ptb.test.txt` as commonly distributed), or one text file, split by position
into 90/5/5% train/validation/test. A dataset string is read as a local path
when it names an existing file or folder, starts with `.` or `~`, ends with a
file suffix or holds a path separator (see `is_local_corpus`).

Tokens are characters (`level="char"`) or whitespace-separated words
(`level="word"`, with `<eos>` appended at every line end, the PTB
convention; `level="word_lower"` also lowercases and splits punctuation
off as tokens of its own, so "King," and "king" are one word). The
vocabulary comes from the training split only (most frequent first,
`max_tokens` at most, unknown tokens map to id 0, `[UNK]`) and is applied
with a Keras `StringLookup` inside tf.data. Windows are `seq_len` tokens
with the next token as target at every position:
`x = ids[i:i+T]`, `y = ids[i+1:i+T+1]`, consecutive windows `T` apart.
With `stateful=True` the stream is cut into `batch_size` contiguous rows and
batch `k` holds columns `[kT, (k+1)T)` of every row, so row `b` of batch
`k+1` continues row `b` of batch `k` (Zaremba et al. 2014); a stateful
RNN then carries its state across batches.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from pipelines import tfds_source
from pipelines.builtin import BUILTINS
from pipelines.info import DatasetInfo, merge_options
from pipelines.source import LoadRequest, TextSource
from pipelines.tokens import OOV_TOKEN, check_level, check_vocabulary, lookup_layer, tokenize

# Options of language-modelling corpora and their defaults.
TEXT_OPTIONS = {"level": "char", "seq_len": 100, "max_tokens": None, "stateful": False,
                "vocabulary": None, "corpus": False}
# Split fractions of a single local text file.
FILE_SPLITS = {"train": (0.0, 0.9), "validation": (0.9, 0.95), "test": (0.95, 1.0)}
# What a local corpus must be, said in every error about one.
LOCAL_CORPUS = ("A local text corpus is a UTF-8 text file (split by position into 90/5/5% "
                "train/validation/test) or a folder holding *train*.txt, *valid*.txt and "
                "*test*.txt files (e.g. ptb.train.txt, ptb.valid.txt, ptb.test.txt).")
# A file suffix (`.txt`, `.text`), not a TFDS version (`mnist:3.0.1`).
FILE_SUFFIX = re.compile(r"\.[A-Za-z]\w*$")


def is_local_corpus(name: str) -> bool:
    """Whether a dataset string names a local text corpus rather than a dataset.

    A path is a string naming an existing file or folder, or one that starts
    with `.` or `~`, ends with a file suffix (`corpus.txt`) or holds a path
    separator. Built-in names and TFDS names, with a config or version
    (`glue/cola`, `wiki40b/en:1.3.0`, `mnist:3.0.1`), are dataset names.
    """
    text = str(name)
    if text in BUILTINS:
        return False
    if Path(os.path.expanduser(text)).exists():
        return True
    if "/" in text and text.split("/")[0] in tfds_source.catalog_names():
        return False
    separators = {"/", os.sep, os.altsep} - {None}
    return (text.startswith((".", "~")) or FILE_SUFFIX.search(text) is not None
            or any(s in text for s in separators))


def check_options(options: dict) -> dict:
    """Text options merged over `TEXT_OPTIONS`, each checked."""
    opts = merge_options("Text corpora", options, TEXT_OPTIONS)
    check_level(opts["level"])
    for key in ("seq_len", "max_tokens"):
        value = opts[key]
        if value is None and key == "max_tokens":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < (3 if key == "max_tokens" else 1):
            raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value!r}")
    return opts


def _local_files(name: str) -> dict[str, Path]:
    """The file of each split of a local corpus, or a clear error saying what is wrong."""
    path = Path(os.path.expanduser(str(name)))
    if path.is_file():
        return {split: path for split in FILE_SPLITS}
    if not path.is_dir():
        problem = "is neither a file nor a folder" if path.exists() else "does not exist"
        raise tfds_source.DatasetUnavailableError(f"Text corpus {str(name)!r} {problem}. {LOCAL_CORPUS}")
    files, missing = {}, []
    for split, key in (("train", "train"), ("validation", "valid"), ("test", "test")):
        found = sorted(p for p in path.glob(f"*{key}*.txt") if p.is_file())
        if found:
            files[split] = found[0]
        else:
            missing.append(f"*{key}*.txt")
    if missing:
        raise tfds_source.DatasetUnavailableError(
            f"Text corpus folder {str(path)!r} has no {' or '.join(missing)} file. {LOCAL_CORPUS}")
    return files


def _read_text(path: Path) -> str:
    """A corpus file's text; a file that is not UTF-8 is named in the error."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Text corpus file {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
            f"at offset {exc.start}). {LOCAL_CORPUS}"
        ) from None


def documents(name: str, split: str, data_dir=None, manual_dir=None, offline=None):
    """A `tf.data.Dataset` of strings (the split's documents, in order)."""
    import tensorflow as tf

    base = split.split("[")[0]
    if is_local_corpus(name):
        files = _local_files(name)
        if base not in files:
            raise ValueError(
                f"Text corpus {name!r} has no split {split!r}. Available: {', '.join(files)}."
            )
        text = _read_text(files[base])
        if Path(os.path.expanduser(str(name))).is_file():  # one file, split by position
            start, stop = FILE_SPLITS[base]
            text = text[int(start * len(text)):int(stop * len(text))]
        return tf.data.Dataset.from_tensors(tf.constant(text))

    b = tfds_source.ensure_prepared(name, data_dir, manual_dir, offline)
    if b.info.splits and base not in b.info.splits:
        raise ValueError(
            f"Dataset {name!r} has no split {split!r}. Available: {', '.join(b.info.splits)}."
        )
    key = tfds_source.text_feature(b.info)
    return b.as_dataset(split=split, shuffle_files=False).map(lambda ex: ex[key])


def _token_stream(name, split, level, data_dir, manual_dir, offline):
    """A flat `tf.data.Dataset` of string tokens of one split."""
    docs = documents(name, split, data_dir, manual_dir, offline)
    return docs.map(lambda text: tokenize(text, level)).unbatch()


def vocabulary_from_tokens(stream, max_tokens=None) -> tuple[str, ...]:
    """`[UNK]` then the tokens of a flat string `tf.data` stream, most frequent first.

    `max_tokens` counts the `[UNK]` entry, as in Keras' `StringLookup`.
    """
    import keras

    lookup = keras.layers.StringLookup(max_tokens=max_tokens, oov_token=OOV_TOKEN)
    lookup.adapt(stream.batch(1 << 16))
    return tuple(lookup.get_vocabulary())


@functools.lru_cache(maxsize=16)
def _vocabulary(name, level, max_tokens, data_dir, manual_dir, offline) -> tuple[str, ...]:
    stream = _token_stream(name, "train", level, data_dir, manual_dir, offline)
    return vocabulary_from_tokens(stream, max_tokens)


def vocabulary(name: str, level: str = "char", max_tokens: int | None = None, data_dir=None,
               manual_dir=None, offline=None, vocabulary=None) -> tuple[str, ...]:
    """The corpus vocabulary, `[UNK]` first, built from the training split only.

    `vocabulary` (a list of tokens, or the JSON file written next to a
    trained model) is used as given instead.
    """
    if vocabulary is not None:
        return read_vocabulary(vocabulary)
    return _vocabulary(str(name), level, max_tokens,
                       None if data_dir is None else str(data_dir),
                       None if manual_dir is None else str(manual_dir), offline)


def read_vocabulary(vocabulary) -> tuple[str, ...]:
    """A vocabulary from a token list or a JSON file of one (`write_vocabulary`), `[UNK]` first.

    For vocabularies a user names (a data option, a run folder's file); a
    saved layer's config goes through `layer_vocabulary`, which reads no file.
    """
    import json

    if isinstance(vocabulary, (str, os.PathLike)):
        try:
            tokens = json.loads(Path(vocabulary).read_text(encoding="utf-8"))
        except ValueError as exc:  # not UTF-8, not JSON
            raise ValueError(
                f"Vocabulary file {os.fspath(vocabulary)!r} is not a JSON list of tokens: {exc}"
            ) from None
        return check_vocabulary(tokens)
    return check_vocabulary(vocabulary)


def write_vocabulary(tokens, path) -> None:
    """A JSON list of the tokens (characters may be newlines or spaces)."""
    import json

    Path(path).write_text(json.dumps([str(t) for t in tokens], ensure_ascii=False),
                          encoding="utf-8")


def info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a language-modelling corpus (builds the vocabulary)."""
    opts = check_options(options)
    tokens = vocabulary(name, opts["level"], opts["max_tokens"], data_dir, manual_dir, offline,
                        opts["vocabulary"])
    seq_len = opts["seq_len"]
    return DatasetInfo(
        name=str(name),
        task="language_model",
        feature_shape=(seq_len,),
        feature_dtype="int32",
        num_classes=len(tokens),
        class_names=tokens,
        target_shape=(seq_len,),
        splits={"train": 0, "validation": 0, "test": 0},
        source=TextCorpusSource.kind,
        description=f"{opts['level']}-level language modelling windows of {seq_len} tokens",
    )


def load(name: str, split: str, batch_size: int | None = 32, *, shuffle: bool | None = None,
         seed: int = 0, drop_remainder: bool = False, data_dir=None, manual_dir=None,
         offline=None, **options):
    """`(ids, next_ids)` int32 windows of shape (batch, seq_len) for `fit`."""
    import tensorflow as tf

    opts = check_options(options)
    level, seq_len = opts["level"], opts["seq_len"]
    tokens = vocabulary(name, level, opts["max_tokens"], data_dir, manual_dir, offline,
                        opts["vocabulary"])
    lookup = lookup_layer(tokens)
    stream = _token_stream(name, split, level, data_dir, manual_dir, offline)
    # The whole split as one id vector (N,), assembled from chunks of 2^20 ids.
    chunks = stream.batch(1 << 20).map(lambda t: tf.cast(lookup(t), tf.int32))
    ids = tf.concat(list(chunks), axis=0)
    n = int(ids.shape[0])
    if opts["stateful"]:
        if batch_size is None:
            raise ValueError("stateful=True needs a batch_size: it sets the number of rows.")
        rows = ids[: (n // batch_size) * batch_size]
        rows = tf.reshape(rows, (batch_size, -1))  # (B, N / B) contiguous streams
        steps = (int(rows.shape[1]) - 1) // seq_len
        if steps < 1:
            raise ValueError(
                f"Split {split!r} of {name!r} has {n} tokens: too few for {batch_size} rows of "
                f"seq_len={seq_len} + 1."
            )
        starts = tf.range(steps) * seq_len
        return tf.data.Dataset.from_tensor_slices(starts).map(
            lambda s: (rows[:, s:s + seq_len], rows[:, s + 1:s + seq_len + 1])
        ).prefetch(tf.data.AUTOTUNE)
    windows = (n - 1) // seq_len
    if windows < 1:
        raise ValueError(
            f"Split {split!r} of {name!r} has {n} tokens: too few for one window of "
            f"seq_len={seq_len} + 1."
        )
    x = tf.reshape(ids[: windows * seq_len], (windows, seq_len))
    y = tf.reshape(ids[1: windows * seq_len + 1], (windows, seq_len))
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle is None:
        shuffle = split.startswith("train")
    if shuffle:
        ds = ds.shuffle(windows, seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def split_ids(name: str, split: str, level: str, tokens, data_dir=None, manual_dir=None,
              offline=None):
    """The token ids of a whole split as one int32 tensor (N,), looked up in `tokens`."""
    import tensorflow as tf

    lookup = lookup_layer(tokens)
    stream = _token_stream(name, split, level, data_dir, manual_dir, offline)
    chunks = stream.batch(1 << 20).map(lambda t: tf.cast(lookup(t), tf.int32))
    return tf.concat(list(chunks) or [tf.zeros((0,), tf.int32)], axis=0)


class TextCorpusSource(TextSource):
    """Language-modelling corpora: local text files, TFDS text, or labelled text with
    `corpus=True` (read for its text only)."""

    kind = "text"
    described_as = "a text corpus"
    # This module's `info` and `load` (the methods below are not defined yet here);
    # a subclass reading the corpus another way gives its own.
    make_info = staticmethod(info)
    make_dataset = staticmethod(load)

    def matches(self, name, data_dir, options: dict) -> bool:
        if is_local_corpus(name):
            return True
        kind = tfds_source.catalog_kind(name, data_dir)
        return kind == "text" or (bool(options.get("corpus")) and kind is not None)

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        return self.make_info(name, data_dir, manual_dir, offline, **options)

    def load(self, name, split: str, request: LoadRequest, options: dict):
        self.refuse_image_arguments(name, request)
        return self.make_dataset(
            name, split, request.batch_size, shuffle=request.shuffle, seed=request.seed,
            drop_remainder=request.drop_remainder, data_dir=request.data_dir,
            manual_dir=request.manual_dir, offline=request.offline, **options)
