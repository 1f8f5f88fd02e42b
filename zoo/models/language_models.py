"""Recurrent language models: token ids (B, T) -> next-token probabilities (B, T, V).

`rnn_lm` (Elman's simple RNN, trained with truncated backpropagation through
time), `lstm_lm` (stacked LSTM with dropout between layers, Zaremba et al.
2014, and optional weight tying, Press & Wolf 2016 / Inan et al. 2016),
`gru_lm` (Cho et al. 2014) and `char_rnn` (Karpathy's many-to-many
character model: the next character at every step). Word or character level
is a property of the data's vocabulary, not of the model.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from zoo._common import check_choice, check_positive_int, check_rate
from zoo.registry import register_model

CELLS = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@keras.saving.register_keras_serializable(package="zoo")
class TiedEmbedding(keras.layers.Embedding):
    """An embedding that also projects back onto the vocabulary with its own matrix.

    `layer(ids)` looks tokens up: (B, T) -> (B, T, D). `layer(h, reverse=True)`
    scores every token: (B, T, D) -> (B, T, V) logits = h @ E^T + b. One
    matrix E serves input and output, so tying saves V * D parameters and the
    output gradient reaches the rows of tokens never seen as inputs.
    """

    def build(self, input_shape=None):
        super().build(input_shape)
        self.output_bias = self.add_weight(
            shape=(self.input_dim,), initializer="zeros", name="output_bias"
        )

    # keras.layers.Embedding saves the embeddings only; the output bias too.
    def save_own_variables(self, store):
        store["0"] = self.embeddings
        store["1"] = self.output_bias

    def load_own_variables(self, store):
        self.embeddings.assign(store["0"])
        self.output_bias.assign(store["1"])

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.output_bias
        return super().call(inputs)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            return keras.KerasTensor((*inputs.shape[:-1], self.input_dim), dtype=self.compute_dtype)
        return super().compute_output_spec(inputs)

    def compute_mask(self, inputs, mask=None, reverse=False):
        return None


@dataclasses.dataclass(frozen=True)
class RecurrentLMConfig:
    """What a recurrent language model is made of (the builders' arguments but its name)."""

    cell: str
    vocab_size: int
    embedding_dim: int
    units: int
    layers: int
    dropout_rate: float
    tie_weights: bool
    stateful_batch_size: int | None = None

    def check(self, arch: str) -> None:
        """Refuse an invalid argument, naming it as the builder does."""
        check_choice("cell", self.cell, tuple(CELLS))
        check_positive_int("vocab_size", self.vocab_size, minimum=2)
        check_positive_int("embedding_dim", self.embedding_dim)
        check_positive_int("units", self.units)
        check_positive_int("layers", self.layers)
        check_rate("dropout_rate", self.dropout_rate)
        if self.tie_weights and self.embedding_dim != self.units:
            raise ValueError(
                f"{arch}: tie_weights=True reuses the embedding matrix as the output layer, "
                f"so embedding_dim must equal the last layer's units. Received: "
                f"embedding_dim={self.embedding_dim}, units={self.units}"
            )
        if self.stateful_batch_size is not None:
            check_positive_int("stateful_batch_size", self.stateful_batch_size)


def recurrent_lm(arch: str, name: str, config: RecurrentLMConfig):
    """Embedding -> dropout -> [RNN -> dropout] x layers -> softmax over the vocabulary.

    With `stateful_batch_size` the recurrent layers keep their final state
    as the next batch's initial state (batch row b continues row b), which
    needs the batch size fixed in the graph; `StatefulReset` clears it.
    """
    config.check(arch)
    stateful = config.stateful_batch_size is not None
    inputs = keras.Input(shape=(None,), batch_size=config.stateful_batch_size, dtype="int32",
                         name="token_ids")
    embed_class = TiedEmbedding if config.tie_weights else keras.layers.Embedding
    embedding = embed_class(config.vocab_size, config.embedding_dim, name=f"{name}_embedding")
    x = embedding(inputs)  # (B, T, D)
    x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_embedding_dropout")(x)
    for i in range(1, config.layers + 1):
        x = CELLS[config.cell](config.units, return_sequences=True, stateful=stateful,
                               name=f"{name}_{config.cell}{i}")(x)  # (B, T, H)
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout{i}")(x)
    if config.tie_weights:
        logits = embedding(x, reverse=True)  # (B, T, V)
    else:
        logits = keras.layers.Dense(config.vocab_size, name=f"{name}_logits")(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=name)


def _lm_space(hp) -> dict:
    units = hp.Choice("units", [128, 256, 512], default=256)
    return {
        "units": units,
        "embedding_dim": units,  # equal sizes, so tying always applies
        "layers": hp.Int("layers", 1, 3, default=2),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.2, 0.5], default=0.2),
    }


def _tied_space(hp) -> dict:
    return {**_lm_space(hp), "tie_weights": hp.Boolean("tie_weights", default=False)}


def _char_rnn_space(hp) -> dict:
    return {**_lm_space(hp), "cell": hp.Choice("cell", list(CELLS), default="lstm")}


_LM = dict(
    family="recurrent_lm",
    task="language_model",
    dataset="tiny_shakespeare",
    dataset_options={"level": "char", "seq_len": 100},
    test_args={"embedding_dim": 16, "units": 16, "layers": 1},
)
_ZAREMBA = "Zaremba, Sutskever & Vinyals 2014, Recurrent Neural Network Regularization, arXiv:1409.2329"


@register_model(
    reference="Elman 1990, Finding Structure in Time; Mikolov et al. 2010, Recurrent neural "
    "network based language model, Interspeech",
    search_space=_lm_space,
    **_LM,
)
def rnn_lm(vocab_size=66, embedding_dim=256, units=256, layers=2, dropout_rate=0.2,
           tie_weights=False, stateful_batch_size=None, name="rnn_lm"):
    """Vanilla RNN language model (Elman 1990; Mikolov et al. 2010), trained with truncated BPTT.

    Args:
        vocab_size: Tokens in the vocabulary, out-of-vocabulary id 0 included
            (set from the data by `zoo train`).
        embedding_dim: Size of the token embedding.
        units: Hidden units of each recurrent layer.
        layers: Stacked recurrent layers.
        dropout_rate: Dropout on the embedding and after every recurrent
            layer (between layers, never on the recurrent connections).
        tie_weights: Use the embedding matrix, transposed, as the output
            layer (needs embedding_dim == units).
        stateful_batch_size: Carry the recurrent state across batches of this
            fixed size (Zaremba et al.: contiguous batches, data option
            `stateful=True`); `zoo train` sets it from the batch size.
        name: Model name.

    Returns:
        A `keras.Model` mapping int token ids (batch, time) to next-token
        probabilities (batch, time, vocab_size).
    """
    return recurrent_lm("rnn_lm", name, RecurrentLMConfig(
        "simple", vocab_size, embedding_dim, units, layers, dropout_rate, tie_weights,
        stateful_batch_size))


@register_model(
    reference=f"Hochreiter & Schmidhuber 1997; {_ZAREMBA}; Press & Wolf 2016, Using the Output "
    "Embedding to Improve Language Models, arXiv:1608.05859",
    search_space=_tied_space,
    **_LM,
)
def lstm_lm(vocab_size=66, embedding_dim=256, units=256, layers=2, dropout_rate=0.2,
            tie_weights=False, stateful_batch_size=None, name="lstm_lm"):
    """Stacked LSTM language model with dropout between layers and optional weight tying.

    Args and returns: as `rnn_lm`.
    """
    return recurrent_lm("lstm_lm", name, RecurrentLMConfig(
        "lstm", vocab_size, embedding_dim, units, layers, dropout_rate, tie_weights,
        stateful_batch_size))


@register_model(
    reference="Cho et al. 2014, Learning Phrase Representations using RNN Encoder-Decoder, "
    "arXiv:1406.1078",
    search_space=_lm_space,
    **_LM,
)
def gru_lm(vocab_size=66, embedding_dim=256, units=256, layers=2, dropout_rate=0.2,
           tie_weights=False, stateful_batch_size=None, name="gru_lm"):
    """Stacked GRU language model.

    Args and returns: as `rnn_lm`.
    """
    return recurrent_lm("gru_lm", name, RecurrentLMConfig(
        "gru", vocab_size, embedding_dim, units, layers, dropout_rate, tie_weights,
        stateful_batch_size))


@register_model(
    reference="Karpathy 2015, The Unreasonable Effectiveness of Recurrent Neural Networks; "
    "Graves 2013, Generating Sequences With Recurrent Neural Networks, arXiv:1308.0850",
    search_space=_char_rnn_space,
    **_LM,
)
def char_rnn(vocab_size=66, embedding_dim=128, units=256, layers=2, dropout_rate=0.2,
             tie_weights=False, cell="lstm", stateful_batch_size=None, name="char_rnn"):
    """Character-level RNN, many-to-many: the next character at every step.

    The same network as the language models above with the cell as an
    argument, sized for characters (Karpathy's char-rnn: 2 layers).

    Args:
        cell: "simple", "lstm" or "gru"; the other arguments as `rnn_lm`.
    """
    return recurrent_lm("char_rnn", name, RecurrentLMConfig(
        cell, vocab_size, embedding_dim, units, layers, dropout_rate, tie_weights,
        stateful_batch_size))


class StatefulReset(keras.callbacks.Callback):
    """Clears the recurrent state of a stateful model where a pass over the data starts.

    At the start of every training epoch and of every evaluation, so each
    pass reads its contiguous batches from a zero state and validation does
    not continue the training stream.
    """

    def _reset(self):
        for layer in self.model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def on_test_begin(self, logs=None):
        self._reset()
