"""Serializable preprocessing layers used in tf.data and inside serving graphs."""

from __future__ import annotations

import keras
from keras import ops

from pipelines import tokens


@keras.saving.register_keras_serializable(package="zoo")
class AdaptChannels(keras.layers.Layer):
    """Convert images between 1 and 3 channels (grayscale <-> RGB).

    1 -> 3 repeats the gray channel; 3 -> 1 uses the ITU-R 601 luma weights
    (0.299, 0.587, 0.114), as `tf.image.rgb_to_grayscale` does.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
        self.channels = channels

    def call(self, images):
        in_channels = images.shape[-1]
        if in_channels == self.channels:
            return images
        if in_channels == 1 and self.channels == 3:
            return ops.repeat(images, 3, axis=-1)
        if in_channels == 3 and self.channels == 1:
            weights = ops.convert_to_tensor([0.299, 0.587, 0.114], dtype=images.dtype)
            return ops.sum(images * weights, axis=-1, keepdims=True)
        raise ValueError(
            f"Cannot adapt images with {in_channels} channels to {self.channels}."
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


# ImageNet channel means in BGR order (the "caffe" convention of keras.applications).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="zoo")
class CaffeNormalization(keras.layers.Layer):
    """keras.applications "caffe" preprocessing of [0, 255] RGB images.

    RGB -> BGR, then the ImageNet mean of each channel subtracted (no scaling),
    as `keras.applications.resnet.preprocess_input` does. Grayscale images get
    the mean of the three channel means subtracted.
    """

    def call(self, images):
        if images.shape[-1] == 3:
            bgr = ops.flip(images, axis=-1)
            return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=images.dtype)
        return images - sum(CAFFE_BGR_MEAN) / 3.0

    def compute_output_shape(self, input_shape):
        return input_shape


class VocabularyLayer(keras.layers.Layer):
    """Base of the layers that look tokens up in a fixed vocabulary (`TextToIds`,
    `zoo.models.word_vectors.WordLookup`), tokenized at `level` ("char", "word", "word_lower").

    `vocabulary` is a list of tokens, `[UNK]` first, and the config saves it
    as such. The layer never reads a file: a path in a saved config could
    name any file outside the archive (a crafted `.keras` read `/etc/passwd`,
    or hung on a FIFO), so `from_config` refuses it before the layer is built,
    as the ValueError of `pipelines.tokens.layer_vocabulary`, unopened.
    """

    def __init__(self, vocabulary, level, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(tokens.layer_vocabulary(vocabulary, type(self).__name__))
        tokens.check_level(level)
        self.level = level
        self.lookup = tokens.lookup_layer(self.vocabulary)

    @classmethod
    def from_config(cls, config):
        # Checked here, not only in __init__: Keras wraps constructor errors in a TypeError.
        tokens.layer_vocabulary(config.get("vocabulary"), cls.__name__)
        return super().from_config(config)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "level": self.level}


@keras.saving.register_keras_serializable(package="zoo")
class TextToIds(VocabularyLayer):
    """Raw strings (B,) -> token ids (B, L) int32, zero-padded, and lengths (B,) int32.

    The tokenization of `pipelines.tokens.tokenize` ("char" or "word") and a
    fixed vocabulary (`[UNK]` = 0), so a served language model takes text.
    With `length`, ids are (B, length): the last `length` tokens, padded
    with zeros in front (for classifiers), and lengths count the kept ones.
    String ops run on CPU and do not compile with XLA. `vocabulary` is a
    list of tokens, never a path (see `VocabularyLayer`).
    """

    def __init__(self, vocabulary, level="char", length=None, **kwargs):
        super().__init__(vocabulary, level, **kwargs)
        self.length = length

    def call(self, texts):
        import tensorflow as tf

        words = tokens.tokenize(texts, self.level)  # ragged (B, None)
        ids = tf.cast(tf.ragged.map_flat_values(self.lookup, words), tf.int32)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        if self.length is None:
            return ids.to_tensor(0), lengths
        # Fixed length: the last `length` ids, zeros in front of shorter texts.
        n = self.length
        kept = tf.minimum(lengths, n)  # (B,)
        tail = tf.pad(ids.to_tensor(0), [[0, 0], [0, 1]])  # (B, L + 1) post-padded, never empty
        start = lengths - kept  # first kept position of each row
        index = tf.range(n)[None] - (n - kept)[:, None] + start[:, None]  # (B, n)
        padded = tf.gather(tail, tf.maximum(index, 0), batch_dims=1)
        padded = tf.where(tf.range(n)[None] >= (n - kept)[:, None], padded, 0)
        return tf.reshape(padded, (-1, n)), kept

    def compute_output_spec(self, texts):
        batch = texts.shape[0]
        return (keras.KerasTensor((batch, self.length), dtype="int32"),
                keras.KerasTensor((batch,), dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "length": self.length}
