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

from pipelines.info import DatasetInfo, merge_options

LEVELS = ("char", "word", "word_lower")
OOV_TOKEN = "[UNK]"
EOS_TOKEN = "<eos>"
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
    from pipelines.builtin import BUILTINS

    text = str(name)
    if text in BUILTINS:
        return False
    if Path(os.path.expanduser(text)).exists():
        return True
    if "/" in text and text.split("/")[0] in _tfds_names():
        return False
    separators = {"/", os.sep, os.altsep} - {None}
    return (text.startswith((".", "~")) or FILE_SUFFIX.search(text) is not None
            or any(s in text for s in separators))


@functools.lru_cache(maxsize=1)
def _tfds_names() -> frozenset[str]:
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


def is_text_corpus(name: str, data_dir=None) -> bool:
    """Local text, or a TFDS dataset of text alone: no labels, or supervised keys
    naming one text feature as both input and target (lm1b: ('text', 'text'))."""
    if is_local_corpus(name):
        return True
    from pipelines.builtin import BUILTINS

    if name in BUILTINS:
        return False
    from pipelines import tfds_source

    info = tfds_source.builder(name, data_dir).info
    keys = info.supervised_keys
    unlabelled = not keys or (isinstance(keys[0], str) and keys[0] == keys[1])
    return unlabelled and _text_feature(info) is not None


def _text_feature(info) -> str | None:
    """The feature holding a TFDS dataset's text: the one its supervised keys name
    as input and target alike, else its only text feature (None if not one)."""
    import tensorflow_datasets as tfds

    keys = info.supervised_keys
    same = keys and isinstance(keys[0], str) and keys[0] == keys[1]
    candidates = [keys[0]] if same else list(info.features)
    names = [k for k in candidates if isinstance(info.features[k], tfds.features.Text)]
    return names[0] if len(names) == 1 else None


def check_options(options: dict) -> dict:
    """Text options merged over `TEXT_OPTIONS`, each checked."""
    opts = merge_options("Text corpora", options, TEXT_OPTIONS)
    if opts["level"] not in LEVELS:
        raise ValueError(
            f"`level` must be one of {', '.join(map(repr, LEVELS))}. Received: level={opts['level']!r}"
        )
    for key in ("seq_len", "max_tokens"):
        value = opts[key]
        if value is None and key == "max_tokens":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < (3 if key == "max_tokens" else 1):
            raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value!r}")
    return opts


def _local_files(name: str) -> dict[str, Path]:
    """The file of each split of a local corpus, or a clear error saying what is wrong."""
    from pipelines.tfds_source import DatasetUnavailableError

    path = Path(os.path.expanduser(str(name)))
    if path.is_file():
        return {split: path for split in FILE_SPLITS}
    if not path.is_dir():
        problem = "is neither a file nor a folder" if path.exists() else "does not exist"
        raise DatasetUnavailableError(f"Text corpus {str(name)!r} {problem}. {LOCAL_CORPUS}")
    files, missing = {}, []
    for split, key in (("train", "train"), ("validation", "valid"), ("test", "test")):
        found = sorted(p for p in path.glob(f"*{key}*.txt") if p.is_file())
        if found:
            files[split] = found[0]
        else:
            missing.append(f"*{key}*.txt")
    if missing:
        raise DatasetUnavailableError(
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

    from pipelines import tfds_source

    b = tfds_source.ensure_prepared(name, data_dir, manual_dir, offline)
    if b.info.splits and base not in b.info.splits:
        raise ValueError(
            f"Dataset {name!r} has no split {split!r}. Available: {', '.join(b.info.splits)}."
        )
    key = _text_feature(b.info)
    return b.as_dataset(split=split, shuffle_files=False).map(lambda ex: ex[key])


def tokenize(texts, level: str):
    """Strings of any shape -> ragged string tokens along a new last axis.

    "char": Unicode characters. "word": whitespace-separated words with
    `<eos>` where a line ends, so "a b\\nc" gives a, b, <eos>, c. "word_lower":
    lowercased words with punctuation split off, so "King, go!" gives king, ",", go, "!".
    """
    import tensorflow as tf

    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8")
    if level == "word_lower":
        # Apostrophes stay inside words (o'er); <eos>/<unk> markers stay whole.
        texts = tf.strings.regex_replace(
            tf.strings.lower(texts, encoding="utf-8"), r"([^\w\s'<>])", r" \1 ")
    return tf.strings.split(tf.strings.regex_replace(texts, "\n", f" {EOS_TOKEN} "))


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


def check_vocabulary(tokens) -> tuple[str, ...]:
    """The tokens as a tuple of strings, refused unless a list of unique strings, `[UNK]` first."""
    import numpy as np

    if not isinstance(tokens, (list, tuple, np.ndarray)) or np.asarray(tokens, object).ndim != 1:
        raise ValueError(f"A vocabulary must be a list of strings. Received: vocabulary={tokens!r}")
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise ValueError(f"A vocabulary must be a list of strings. Received: token {token!r} "
                             f"({type(token).__name__}) at position {i}")
    tokens = tuple(str(t) for t in tokens)
    if not tokens or tokens[0] != OOV_TOKEN:
        raise ValueError(
            f"A vocabulary must start with the out-of-vocabulary token {OOV_TOKEN!r}. "
            f"Received first token: {tokens[0] if tokens else None!r}"
        )
    if len(set(tokens)) != len(tokens):
        repeated = sorted({t for t in tokens if tokens.count(t) > 1})
        raise ValueError(f"A vocabulary must not repeat tokens. Repeated: {repeated[:10]}")
    return tokens


def layer_vocabulary(vocabulary, layer: str) -> tuple[str, ...]:
    """The tokens a vocabulary layer (`TextToIds`, `WordLookup`) is built from.

    A saved layer's config holds its token list; a path there could name any
    file (a crafted `.keras` read `/etc/passwd`, or hung on a FIFO), so a
    path is refused, in safe mode or not, and never opened: the wording is
    Keras' own for a `StringLookup` vocabulary file in safe mode.
    """
    if isinstance(vocabulary, (str, bytes, os.PathLike)):
        raise ValueError(
            "Requested the loading of a vocabulary file outside of the model archive. This "
            "carries a potential risk of loading arbitrary and sensitive files and thus it is "
            f"disallowed: a saved {layer} carries its vocabulary as a list of tokens, and never "
            "reads a file, even with safe_mode=False. To use a vocabulary file, read it with "
            "`pipelines.text.read_vocabulary(path)` and pass the tokens. "
            f"Received: vocabulary={os.fsdecode(vocabulary)!r}"
        )
    return check_vocabulary(vocabulary)


def write_vocabulary(tokens, path) -> None:
    """A JSON list of the tokens (characters may be newlines or spaces)."""
    import json

    Path(path).write_text(json.dumps([str(t) for t in tokens], ensure_ascii=False),
                          encoding="utf-8")


def lookup_layer(tokens, invert: bool = False):
    """A `StringLookup` of a fixed vocabulary (`[UNK]` = id 0)."""
    import keras

    return keras.layers.StringLookup(
        vocabulary=list(tokens[1:]), oov_token=OOV_TOKEN, invert=invert,
        name="id_lookup" if invert else "token_lookup",
    )


def info(name: str, data_dir=None, manual_dir=None, offline=None, **options) -> DatasetInfo:
    """The `DatasetInfo` of a language-modelling corpus (builds the vocabulary)."""
    if "pairs" in options:  # word-vector training pairs (pipelines.word_pairs)
        from pipelines import word_pairs

        return word_pairs.info(name, data_dir, manual_dir, offline, **options)
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
        source="text",
        description=f"{opts['level']}-level language modelling windows of {seq_len} tokens",
    )


def load(name: str, split: str, batch_size: int | None = 32, *, shuffle: bool | None = None,
         seed: int = 0, drop_remainder: bool = False, data_dir=None, manual_dir=None,
         offline=None, **options):
    """`(ids, next_ids)` int32 windows of shape (batch, seq_len) for `fit`."""
    import tensorflow as tf

    if "pairs" in options:  # word-vector training pairs (pipelines.word_pairs)
        from pipelines import word_pairs

        return word_pairs.load(name, split, batch_size, shuffle=shuffle, seed=seed,
                               drop_remainder=drop_remainder, data_dir=data_dir,
                               manual_dir=manual_dir, offline=offline, **options)
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
