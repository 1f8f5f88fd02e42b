"""Tokens: text split into characters or words, and fixed vocabularies looked up in-graph.

Shared by the text pipelines (`pipelines.text`) and the serving layers
(`pipelines.layers`); TensorFlow and Keras are imported where they are used.
"""

from __future__ import annotations

import os

LEVELS = ("char", "word", "word_lower")
OOV_TOKEN = "[UNK]"
EOS_TOKEN = "<eos>"


def check_level(level) -> None:
    """Refuse a tokenization level other than `LEVELS`."""
    if level not in LEVELS:
        raise ValueError(
            f"`level` must be one of {', '.join(map(repr, LEVELS))}. Received: level={level!r}"
        )


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


def lookup_layer(tokens, invert: bool = False):
    """A `StringLookup` of a fixed vocabulary (`[UNK]` = id 0)."""
    import keras

    return keras.layers.StringLookup(
        vocabulary=list(tokens[1:]), oov_token=OOV_TOKEN, invert=invert,
        name="id_lookup" if invert else "token_lookup",
    )
