"""LSTM encoder-decoder (Sutskever, Vinyals & Le 2014, Sequence to Sequence Learning).

`lstm_seq2seq` is the recurrent counterpart of the encoder-decoder
`transformer`, with the same data contract: one int input holding the L
source ids followed by the L decoder-input ids ([START] and the target
shifted right), output-token probabilities (B, L, V). So it trains with
plain `fit` on `digit_reversal` and its export gets the same greedy
`translate` signature (`zoo.tasks.seq2seq`). The encoder's final LSTM states
start the decoder, layer by layer; there is no attention (Bahdanau et al.
2015 add it), so the whole source must pass through the fixed-size state.
"""

from __future__ import annotations

import keras

from zoo._common import check_positive_int, check_rate
from zoo.models.transformer import SliceSteps, seq2seq_length
from zoo.registry import register_model


def _lstm_seq2seq_space(hp) -> dict:
    return {
        "units": hp.Choice("units", [32, 64, 128], default=64),
        "layers": hp.Int("layers", 1, 2, default=1),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.1], default=0.0),
    }


@register_model(
    family="lstm_seq2seq",
    task="sequence_to_sequence",
    reference="Sutskever, Vinyals & Le 2014, Sequence to Sequence Learning with Neural "
    "Networks, arXiv:1409.3215",
    search_space=_lstm_seq2seq_space,
    dataset="digit_reversal",
    test_args={"embedding_dim": 8, "units": 16},
)
def lstm_seq2seq(input_shape=(16,), vocab_size=12, embedding_dim=32, units=64, layers=1,
                 dropout_rate=0.0, name="lstm_seq2seq"):
    """LSTM encoder-decoder for sequence-to-sequence tasks (teacher forcing).

    Args:
        input_shape: (2 * L,): L source ids then L decoder-input ids.
        vocab_size: Shared vocabulary size (set from the data).
        embedding_dim: Size of the token embedding, shared by source and target.
        units: Hidden units of every LSTM layer.
        layers: Stacked LSTM layers in the encoder and in the decoder; decoder
            layer i starts from encoder layer i's final state.
        dropout_rate: Dropout on the embeddings and between layers.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, 2L) ids to output-token probabilities
        (batch, L, vocab_size).

    Example:
        >>> model = zoo.build("lstm_seq2seq", input_shape=(10,), units=32)
        >>> model(np.ones((2, 10), "int32")).shape
        (2, 5, 12)
    """
    check_positive_int("vocab_size", vocab_size, minimum=2)
    check_positive_int("embedding_dim", embedding_dim)
    check_positive_int("units", units)
    check_positive_int("layers", layers)
    check_rate("dropout_rate", dropout_rate)
    steps, length = seq2seq_length(input_shape)
    features = keras.Input(shape=(steps,), dtype="int32", name="features")
    embedding = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_embedding")

    def embed(ids, part):
        x = embedding(ids)  # (B, L, E)
        return keras.layers.Dropout(dropout_rate, name=f"{name}_{part}_dropout")(x)

    x = embed(SliceSteps(0, length, name="source")(features), "source")
    states = []
    for i in range(1, layers + 1):
        x, h, c = keras.layers.LSTM(units, return_sequences=True, return_state=True,
                                    name=f"{name}_encoder{i}")(x)  # (B, L, H), (B, H) x 2
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_encoder{i}_out_dropout")(x)
        states.append([h, c])
    x = embed(SliceSteps(length, None, name="decoder_inputs")(features), "target")
    for i in range(1, layers + 1):
        x = keras.layers.LSTM(units, return_sequences=True, name=f"{name}_decoder{i}")(
            x, initial_state=states[i - 1])  # (B, L, H)
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_decoder{i}_out_dropout")(x)
    logits = keras.layers.Dense(vocab_size, name=f"{name}_logits")(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(features, probabilities, name=name)
