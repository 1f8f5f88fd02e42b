"""Many-to-one recurrent networks: a sequence in, one class or value out.

One body serves both tasks: stacked recurrent layers (vanilla RNN, LSTM or
GRU, optionally bidirectional), where the last layer returns only its final
state, then a dense head. The adding and temporal-order problems of
Hochreiter & Schmidhuber 1997 show the difference between the cells: a
vanilla RNN cannot carry information across many steps, an LSTM can.
"""

from __future__ import annotations

import dataclasses

import keras

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.registry import register_model

CELLS = {
    "simple": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


@dataclasses.dataclass(frozen=True)
class RecurrentStack:
    """Stacked recurrent layers reading a sequence into one vector, grouped: the
    builders take each field as an argument of its own (`zoo.build("rnn_classifier",
    cell="gru")`).

    Attributes:
        cell: "simple" (Elman's vanilla RNN), "lstm" or "gru".
        units: Units per recurrent layer (per direction).
        layers: Number of stacked recurrent layers.
        bidirectional: Read the sequence both ways and concatenate.
        dropout_rate: Dropout after each recurrent layer, in [0, 1).
    """

    cell: str = "lstm"
    units: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout_rate: float = 0.0

    def apply(self, x, name: str = "rnn"):
        """(batch, T, features) -> the final state of the last layer: (batch, units), or
        (batch, 2 * units) when bidirectional. `name` prefixes the layer names."""
        check_choice("cell", self.cell, CELLS)
        check_positive_int("units", self.units)
        check_positive_int("layers", self.layers)
        check_choice("bidirectional", self.bidirectional, (False, True))
        check_rate("dropout_rate", self.dropout_rate)
        cell = self.cell
        for i in range(1, self.layers + 1):
            # Every layer but the last hands the whole sequence (batch, T, units) on.
            layer = CELLS[cell](self.units, return_sequences=i < self.layers,
                                name=f"{name}_{cell}{i}")
            if self.bidirectional:
                layer = keras.layers.Bidirectional(layer, name=f"{name}_{cell}{i}_bidirectional")
            x = layer(x)
            if self.dropout_rate:
                x = keras.layers.Dropout(self.dropout_rate, name=f"{name}_{cell}{i}_dropout")(x)
        return x


def _recurrent_space(hp) -> dict:
    return {
        "cell": hp.Choice("cell", list(CELLS), default="lstm"),
        "units": hp.Choice("units", [32, 64, 128], default=64),
        "layers": hp.Int("layers", 1, 2, default=1),
        "bidirectional": hp.Boolean("bidirectional", default=False),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.3, step=0.1, default=0.0),
    }


_REFERENCE = (
    "Elman 1990, Finding structure in time; Hochreiter & Schmidhuber 1997, Long short-term "
    "memory; Cho et al. 2014, Learning phrase representations using RNN encoder-decoder "
    "(GRU); Schuster & Paliwal 1997, Bidirectional recurrent neural networks"
)


@register_model(
    family="rnn",
    task="classification",
    reference=_REFERENCE,
    search_space=_recurrent_space,
    dataset="temporal_order",
    test_args={"units": 8},
)
def rnn_classifier(
    input_shape=(50, 8),
    classes=4,
    recurrent=RecurrentStack(),
    vocab_size=None,
    embedding_dim=64,
    name="rnn_classifier",
):
    """Recurrent sequence classifier: the final state read by a softmax layer.

    Args:
        input_shape: (T, features); T may be None for sequences of any length.
        classes: Number of classes.
        recurrent: The recurrent layers (`RecurrentStack`: cell, units, layers,
            bidirectional, dropout_rate), each also an argument of `zoo.build`.
        vocab_size: For text: the inputs are token ids of shape (T,) read
            through an embedding of this many tokens (set from the data, e.g.
            `imdb_reviews`). None: float features of shape (T, features).
        embedding_dim: Size of the token embedding (text only).
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, T, features), or token ids
        (batch, T), to probabilities (batch, classes).

    Example:
        >>> model = zoo.build("rnn_classifier", cell="gru", input_shape=(100, 8))
        >>> model.output_shape
        (None, 4)
    """
    check_positive_int("classes", classes, minimum=2)
    if vocab_size is None:
        inputs = keras.Input(shape=_sequence_shape(input_shape), name="features")
        x = inputs
    else:
        check_positive_int("vocab_size", vocab_size, minimum=2)
        check_positive_int("embedding_dim", embedding_dim)
        steps = tuple(input_shape)[:1]  # (T,): token ids
        inputs = keras.Input(shape=steps, dtype="int32", name="features")
        x = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_embedding")(inputs)
    x = recurrent.apply(x, name)
    outputs = keras.layers.Dense(classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model(
    family="rnn",
    task="regression",
    reference=_REFERENCE,
    search_space=_recurrent_space,
    dataset="adding_problem",
    test_args={"units": 8},
)
def rnn_regressor(
    input_shape=(50, 2),
    recurrent=RecurrentStack(),
    name="rnn_regressor",
):
    """Recurrent sequence regressor: the final state read by one linear unit.

    Args:
        input_shape: (T, features); T may be None for sequences of any length.
        recurrent: The recurrent layers (`RecurrentStack`: cell, units, layers,
            bidirectional, dropout_rate), each also an argument of `zoo.build`.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, T, features) to (batch, 1).

    Example:
        >>> model = zoo.build("rnn_regressor", cell="simple", input_shape=(100, 2))
        >>> model.output_shape
        (None, 1)
    """
    inputs = keras.Input(shape=_sequence_shape(input_shape), name="features")
    x = recurrent.apply(inputs, name)
    outputs = keras.layers.Dense(1, name=f"{name}_prediction")(x)
    return keras.Model(inputs, outputs, name=name)


def _sequence_shape(input_shape) -> tuple:
    """A (T, features) shape; T may be None (any length)."""
    if (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 2
        and input_shape[0] is None
    ):
        return (None, as_shape("input_shape", input_shape[1:])[0])
    return as_shape("input_shape", input_shape, rank=2)
