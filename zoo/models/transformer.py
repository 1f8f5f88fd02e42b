"""Transformer (Vaswani et al. 2017, Attention Is All You Need).

`transformer_lm` is the decoder-only language model: token ids (B, T) ->
next-token probabilities (B, T, V), with a causal mask so position t attends
to positions <= t only (Radford et al. 2018 use the same stack).

Blocks use `keras.layers.MultiHeadAttention`. `norm_first=True` (default) is
the pre-norm arrangement, x + f(LayerNorm(x)), which trains stably without
learning-rate warm-up (Xiong et al. 2020); `norm_first=False` is the paper's
post-norm LayerNorm(x + f(x)). Positions are the paper's fixed sinusoids,
added to the embeddings scaled by sqrt(d_model).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from zoo._common import check_positive_int, check_rate
from zoo.models.language_models import TiedEmbedding
from zoo.registry import register_model


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Adds PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

    (B, T, d) -> (B, T, d), for any T: the table is computed from the
    positions, so no maximum length is fixed and nothing is trained.
    """

    def __init__(self, max_wavelength: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def encoding(self, length, depth):
        """The (length, depth) table."""
        positions = ops.cast(ops.arange(length), "float32")[:, None]  # (T, 1)
        pair = ops.cast(ops.arange(depth) // 2 * 2, "float32")  # 2i for both 2i and 2i+1
        angles = positions / ops.power(self.max_wavelength, pair / depth)  # (T, d)
        is_even = ops.equal(ops.arange(depth) % 2, 0)
        return ops.where(is_even, ops.sin(angles), ops.cos(angles))

    def call(self, inputs):
        table = self.encoding(ops.shape(inputs)[1], inputs.shape[-1])
        return inputs + ops.cast(table, inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


def apply_decoder_block(x, d_model, heads, ff_dim, dropout_rate, norm_first, name):
    """Causal self-attention and a position-wise feed-forward network, each residual."""
    return _apply_block(x, None, d_model, heads, ff_dim, dropout_rate, norm_first, name,
                        causal=True)


def _check_sizes(vocab_size, d_model, heads, layers, ff_dim, dropout_rate) -> int:
    """Check the shared Transformer sizes; returns ff_dim (default 4 * d_model)."""
    check_positive_int("vocab_size", vocab_size, minimum=2)
    check_positive_int("d_model", d_model)
    check_positive_int("heads", heads)
    check_positive_int("layers", layers)
    check_rate("dropout_rate", dropout_rate)
    if d_model % heads:
        raise ValueError(
            f"`heads` must divide `d_model`. Received: d_model={d_model}, heads={heads}"
        )
    ff_dim = 4 * d_model if ff_dim is None else ff_dim
    check_positive_int("ff_dim", ff_dim)
    return ff_dim


def _transformer_lm_space(hp) -> dict:
    return {
        "d_model": hp.Choice("d_model", [64, 128, 256], default=128),
        "layers": hp.Int("layers", 1, 4, default=2),
        "heads": hp.Choice("heads", [2, 4, 8], default=4),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.1, 0.2], default=0.1),
    }


def seq2seq_length(input_shape) -> tuple[int, int]:
    """(2L, L) of a sequence-to-sequence input: L source ids, then L decoder-input ids."""
    (steps,) = tuple(input_shape)
    if steps % 2:
        raise ValueError(
            f"`input_shape` must be (2 * L,): L source then L decoder-input ids. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return steps, steps // 2


@register_model(
    family="transformer",
    task="language_model",
    reference="Vaswani et al. 2017, Attention Is All You Need, arXiv:1706.03762; "
    "Radford et al. 2018, Improving Language Understanding by Generative Pre-Training",
    search_space=_transformer_lm_space,
    dataset="tiny_shakespeare",
    dataset_options={"level": "char", "seq_len": 128},
    test_args={"d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32},
    learning_rate=1e-3,
)
def transformer_lm(vocab_size=66, d_model=128, heads=4, layers=2, ff_dim=None,
                   dropout_rate=0.1, norm_first=True, tie_weights=True, name="transformer_lm"):
    """Decoder-only Transformer language model with causal self-attention.

    Args:
        vocab_size: Tokens in the vocabulary, [UNK] included (set from the data).
        d_model: Width of the embeddings and of every block.
        heads: Attention heads; must divide d_model.
        layers: Decoder blocks.
        ff_dim: Hidden width of the feed-forward networks (default 4 * d_model).
        dropout_rate: Dropout on embeddings, attention weights and residual branches.
        norm_first: Pre-norm (True) or the paper's post-norm (False); pre-norm
            adds a final LayerNorm.
        tie_weights: Score the output with the transposed embedding matrix,
            as the paper does (section 3.4).
        name: Model name.

    Returns:
        A `keras.Model` mapping int token ids (batch, time) to next-token
        probabilities (batch, time, vocab_size).

    Example:
        >>> model = zoo.build("transformer_lm", vocab_size=66, d_model=64, heads=4)
        >>> model(np.zeros((2, 10), "int32")).shape
        (2, 10, 66)
    """
    ff_dim = _check_sizes(vocab_size, d_model, heads, layers, ff_dim, dropout_rate)
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embed_class = TiedEmbedding if tie_weights else keras.layers.Embedding
    embedding = embed_class(vocab_size, d_model, name=f"{name}_embedding")
    x = keras.layers.Rescaling(math.sqrt(d_model), name=f"{name}_embedding_scale")(embedding(inputs))
    x = SinusoidalPositionalEncoding(name=f"{name}_positions")(x)  # (B, T, d)
    x = keras.layers.Dropout(dropout_rate, name=f"{name}_embedding_dropout")(x)
    for i in range(1, layers + 1):
        x = apply_decoder_block(x, d_model, heads, ff_dim, dropout_rate, norm_first,
                                name=f"{name}_block{i}")
    if norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_final_norm")(x)
    if tie_weights:
        logits = embedding(x, reverse=True)  # (B, T, V)
    else:
        logits = keras.layers.Dense(vocab_size, name=f"{name}_logits")(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=name)


# --- encoder-decoder ---------------------------------------------------------


@keras.saving.register_keras_serializable(package="zoo")
class SliceSteps(keras.layers.Layer):
    """(B, T, ...) -> (B, stop - start, ...): steps [start, stop) (stop None: to the end)."""

    def __init__(self, start: int = 0, stop: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, x):
        return x[:, self.start:self.stop]

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        if steps is not None:
            steps = len(range(steps)[self.start:self.stop])
        elif self.stop is not None and self.stop >= 0 and self.start >= 0:
            steps = self.stop - self.start
        return (input_shape[0], steps, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="zoo")
class ShiftRight(keras.layers.Layer):
    """Decoder inputs from output tokens (B, T): [start, tokens[:-1]]; zeros in: [start, 0, ...]."""

    def __init__(self, start_id: int = 1, zeros: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.start_id, self.zeros = start_id, zeros

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        if self.zeros:
            tokens = ops.zeros_like(tokens)
        start = ops.full_like(tokens[:, :1], self.start_id)
        return ops.concatenate([start, tokens[:, :-1]], axis=1)

    def compute_output_spec(self, tokens):
        return keras.KerasTensor(tokens.shape, dtype="int32")

    def get_config(self):
        return {**super().get_config(), "start_id": self.start_id, "zeros": self.zeros}


@keras.saving.register_keras_serializable(package="zoo")
class WriteArgmaxAt(keras.layers.Layer):
    """tokens (B, T), probabilities (B, T, V) -> tokens with step `step` set to the argmax there.

    The argmax is `top_k(k=1)` (ties go to the lower index, as argmax): Keras' TensorFlow
    `argmax` bit-casts floats to test for -0.0, ops ONNX and LiteRT do not convert.
    """

    def __init__(self, step: int, **kwargs):
        super().__init__(**kwargs)
        self.step = step

    def call(self, tokens, probabilities):
        tokens = ops.cast(tokens, "int32")
        _, best = ops.top_k(probabilities[:, self.step], k=1)  # (B, 1)
        best = ops.cast(best[:, 0], "int32")  # (B,)
        at_step = ops.equal(ops.arange(ops.shape(tokens)[1]), self.step)[None]  # (1, T)
        return ops.where(at_step, best[:, None], tokens)

    def compute_output_spec(self, tokens, probabilities):
        return keras.KerasTensor(tokens.shape, dtype="int32")

    def get_config(self):
        return {**super().get_config(), "step": self.step}


def apply_encoder_block(x, d_model, heads, ff_dim, dropout_rate, norm_first, name):
    """Bidirectional self-attention and a feed-forward network, each residual."""
    return _apply_block(x, None, d_model, heads, ff_dim, dropout_rate, norm_first, name,
                        causal=False)


def _apply_block(x, memory, d_model, heads, ff_dim, dropout_rate, norm_first, name, causal):
    """Self-attention (causal or not), cross-attention to `memory` when given, feed-forward."""

    def self_attention(h):
        return keras.layers.MultiHeadAttention(
            heads, d_model // heads, dropout=dropout_rate, name=f"{name}_attention"
        )(h, h, use_causal_mask=causal)

    def cross_attention(h):
        return keras.layers.MultiHeadAttention(
            heads, d_model // heads, dropout=dropout_rate, name=f"{name}_cross_attention"
        )(h, memory)

    def feed_forward(h):
        h = keras.layers.Dense(ff_dim, activation="relu", name=f"{name}_ff1")(h)
        return keras.layers.Dense(d_model, name=f"{name}_ff2")(h)

    parts = [("attention", self_attention)]
    if memory is not None:
        parts.append(("cross", cross_attention))
    parts.append(("ff", feed_forward))
    for part, f in parts:
        norm = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_{part}_norm")
        drop = keras.layers.Dropout(dropout_rate, name=f"{name}_{part}_dropout")
        add = keras.layers.Add(name=f"{name}_{part}_residual")
        if norm_first:
            x = add([x, drop(f(norm(x)))])  # x + f(LN(x))
        else:
            x = norm(add([x, drop(f(x))]))  # LN(x + f(x))
    return x


def _transformer_space(hp) -> dict:
    return {
        "d_model": hp.Choice("d_model", [32, 64, 128], default=64),
        "layers": hp.Int("layers", 1, 3, default=2),
        "heads": hp.Choice("heads", [2, 4], default=4),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.1], default=0.1),
    }


def greedy_decoder(model, source_length: int, start_id: int = 1):
    """Source ids (B, L) -> greedily decoded output ids (B, L), for serving.

    Runs `model` L times inside one graph (static shapes, so XLA compiles
    it): step t feeds [START, tokens so far] and keeps the argmax at t.
    """
    source = keras.Input(shape=(source_length,), dtype="int32", name="source")
    tokens = ShiftRight(start_id, zeros=True, name="empty")(source)  # placeholder ids
    for t in range(source_length):
        decoder_inputs = ShiftRight(start_id, name=f"decoder_inputs{t}")(tokens)
        features = keras.layers.Concatenate(axis=1, name=f"features{t}")([source, decoder_inputs])
        tokens = WriteArgmaxAt(t, name=f"tokens{t}")(tokens, model(features))
    tokens = keras.layers.Identity(name="tokens")(tokens)
    return keras.Model(source, tokens, name=f"{model.name}_greedy")


@register_model(
    family="transformer",
    task="sequence_to_sequence",
    reference="Vaswani et al. 2017, Attention Is All You Need, arXiv:1706.03762",
    search_space=_transformer_space,
    dataset="digit_reversal",
    test_args={"d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32},
)
def transformer(input_shape=(16,), vocab_size=12, d_model=64, heads=4, layers=2, ff_dim=None,
                dropout_rate=0.1, norm_first=True, name="transformer"):
    """Encoder-decoder Transformer for sequence-to-sequence tasks (teacher forcing).

    The input is one int tensor: the source ids followed by the decoder
    input ids ([START] and the target shifted right), each half of
    `input_shape[0]`, so it trains with plain `fit`. Source and target share
    one embedding (and vocabulary), as in the paper. Exports add a
    `translate` signature that decodes greedily from the source alone.
    Sequences are not padded, so no padding mask is applied.

    Args:
        input_shape: (2 * L,): L source ids then L decoder-input ids.
        vocab_size: Shared vocabulary size (set from the data).
        d_model, heads, layers, ff_dim, dropout_rate, norm_first: As
            `transformer_lm`; `layers` encoder and `layers` decoder blocks.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, 2L) ids to output-token
        probabilities (batch, L, vocab_size).
    """
    ff_dim = _check_sizes(vocab_size, d_model, heads, layers, ff_dim, dropout_rate)
    steps, length = seq2seq_length(input_shape)
    features = keras.Input(shape=(steps,), dtype="int32", name="features")
    embedding = keras.layers.Embedding(vocab_size, d_model, name=f"{name}_embedding")
    scale = keras.layers.Rescaling(math.sqrt(d_model), name=f"{name}_embedding_scale")
    positions = SinusoidalPositionalEncoding(name=f"{name}_positions")

    def embed(ids, part):
        x = positions(scale(embedding(ids)))  # (B, L, d)
        return keras.layers.Dropout(dropout_rate, name=f"{name}_{part}_dropout")(x)

    memory = embed(SliceSteps(0, length, name="source")(features), "source")
    for i in range(1, layers + 1):
        memory = apply_encoder_block(memory, d_model, heads, ff_dim, dropout_rate, norm_first,
                                     name=f"{name}_encoder{i}")
    if norm_first:
        memory = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_encoder_norm")(memory)
    x = embed(SliceSteps(length, None, name="decoder_inputs")(features), "target")
    for i in range(1, layers + 1):
        x = _apply_block(x, memory, d_model, heads, ff_dim, dropout_rate, norm_first,
                         name=f"{name}_decoder{i}", causal=True)
    if norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_decoder_norm")(x)
    logits = keras.layers.Dense(vocab_size, name=f"{name}_logits")(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(features, probabilities, name=name)
