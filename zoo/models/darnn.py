"""DA-RNN: the dual-stage attention-based recurrent network for forecasting.

Qin, Song, Chen, Cheng, Jiang & Cottrell 2017, "A Dual-Stage Attention-Based
Recurrent Neural Network for Time Series Prediction" (IJCAI).

Stage 1, the encoder, re-weights the n driving series at every step with an
input attention (a softmax over the series, conditioned on the encoder's
LSTM state and on each series' whole window). Stage 2, the decoder, reads
the target's own history and, at every step, a context vector: a temporal
attention (a softmax over the T encoder steps) of the encoder's hidden
states. The prediction is a linear function of the last decoder state and
context.

Both attentions are softmax weights, so they can be read: `darnn_attention`
returns them for a batch, to check which series and steps a trained model
uses. They are not outputs of the model itself, which has one output (the
forecast) like every regression model here.

Input layout (as `pipelines` windows it): (T, n + 1), the n driving series
then the target's history in the last column; the output is the target one
step after the window. The paper feeds y_1..y_{T-1} and predicts y_T; with
y_1..y_T in the window, the decoder runs T steps and the final context is
computed from the last decoder state.

One optional addition to the paper, off by default: `series_bias=True`
gives the input attention a learned bias per series (see `darnn`).
"""

from __future__ import annotations

import keras
from keras import ops

from zoo._common import as_shape, check_choice, check_positive_int
from zoo.registry import register_model


@keras.saving.register_keras_serializable(package="zoo")
class FeatureSlice(keras.layers.Layer):
    """Features `start:stop` of the last axis: (..., F) -> (..., stop - start)."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, inputs):
        return inputs[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="zoo")
class InputAttentionEncoder(keras.layers.Layer):
    """DA-RNN stage 1: an LSTM over the driving series, re-weighted at each step.

    At step t, with LSTM state (h, s) of the previous step:
        e_t^k = v_e . tanh(W_e [h; s] + U_e x^k)     x^k: series k over the window (T,)
        alpha_t = softmax_k(e_t + b)                 (n,)
        h_t = LSTM(alpha_t * x_t, (h, s))
    (Qin et al. 2017, equations 8-11.) The paper's score shares its weights
    across the series, so it tells series apart only by their values in the
    window; `series_bias=True` adds a learned bias b_k per series (not in the
    paper) so the attention can also prefer a series for what it is.

    Args:
        units: LSTM units, m.
        series_bias: Add a learned per-series bias b to the scores.

    Call returns:
        hidden states (batch, T, units) and input attention (batch, T, n).
    """

    def __init__(self, units, series_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.series_bias = bool(series_bias)
        # The same dtype policy as this layer, also when a .keras file is loaded
        # under another global policy (mixed precision).
        self.cell = keras.layers.LSTMCell(self.units, name="lstm_cell", dtype=self.dtype_policy)

    def build(self, input_shape):
        _, steps, series = input_shape
        if steps is None:
            raise ValueError(
                "InputAttentionEncoder needs a fixed number of steps T (its attention "
                f"reads each series' whole window). Received: input_shape={input_shape}"
            )
        self.w_state = self.add_weight(shape=(2 * self.units, steps), name="w_state")
        self.bias = self.add_weight(shape=(steps,), initializer="zeros", name="bias")
        self.u_series = self.add_weight(shape=(steps, steps), name="u_series")
        self.v = self.add_weight(shape=(steps,), name="v")
        if self.series_bias:
            self.b_series = self.add_weight(shape=(series,), initializer="zeros", name="b_series")
        self.cell.build((None, series))

    def call(self, inputs, training=None):
        steps = inputs.shape[1]
        # The series' term does not depend on t: (B, n, T) @ (T, T) -> (B, n, T).
        series_term = ops.matmul(ops.transpose(inputs, (0, 2, 1)), self.u_series)
        h = s = ops.zeros_like(inputs[:, 0, :1]) * ops.zeros((1, self.units), inputs.dtype)  # (B, m)
        hidden, attention = [], []
        for t in range(steps):
            state_term = ops.matmul(ops.concatenate([h, s], axis=-1), self.w_state) + self.bias
            scores = ops.matmul(ops.tanh(series_term + state_term[:, None, :]), self.v)  # (B, n)
            if self.series_bias:
                scores = scores + self.b_series
            alpha = ops.softmax(scores, axis=-1)  # over the n series
            h, (h, s) = self.cell(alpha * inputs[:, t, :], (h, s), training=training)
            hidden.append(h)
            attention.append(alpha)
        return ops.stack(hidden, axis=1), ops.stack(attention, axis=1)

    def compute_output_shape(self, input_shape):
        batch, steps, series = input_shape
        return (batch, steps, self.units), (batch, steps, series)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "series_bias": self.series_bias}


@keras.saving.register_keras_serializable(package="zoo")
class TemporalAttentionDecoder(keras.layers.Layer):
    """DA-RNN stage 2: an LSTM over the target's history with temporal attention.

    At step t, with decoder state (d, s') of the previous step:
        l_t^i = v_d . tanh(W_d [d; s'] + U_d h_i)     h_i: encoder state i
        beta_t = softmax_i(l_t)                        (T,)
        c_t = sum_i beta_t^i h_i
        d_t = LSTM(w~ . [y_t; c_t] + b~, (d, s'))
    then once more from d_T for the final context (Qin et al. 2017, eqs. 12-21).

    Args:
        units: Decoder LSTM units, p.

    Call takes:
        [encoder states (batch, T, m), target history (batch, T, 1)].

    Call returns:
        last decoder state (batch, p), final context (batch, m), and the
        final temporal attention (batch, T).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        # The same dtype policy as this layer, also when a .keras file is loaded
        # under another global policy (mixed precision).
        self.cell = keras.layers.LSTMCell(self.units, name="lstm_cell", dtype=self.dtype_policy)

    def build(self, input_shape):
        encoded_shape, _ = input_shape
        encoder_units = encoded_shape[-1]
        self.w_state = self.add_weight(shape=(2 * self.units, encoder_units), name="w_state")
        self.bias = self.add_weight(shape=(encoder_units,), initializer="zeros", name="bias")
        self.u_encoded = self.add_weight(shape=(encoder_units, encoder_units), name="u_encoded")
        self.v = self.add_weight(shape=(encoder_units,), name="v")
        self.w_input = self.add_weight(shape=(1 + encoder_units, 1), name="w_input")
        self.b_input = self.add_weight(shape=(1,), initializer="zeros", name="b_input")
        self.cell.build((None, 1))

    def _attend(self, encoded, encoded_term, d, s):
        state_term = ops.matmul(ops.concatenate([d, s], axis=-1), self.w_state) + self.bias
        scores = ops.matmul(ops.tanh(encoded_term + state_term[:, None, :]), self.v)  # (B, T)
        beta = ops.softmax(scores, axis=-1)  # over the T encoder steps
        context = ops.sum(beta[:, :, None] * encoded, axis=1)  # (B, m)
        return context, beta

    def call(self, inputs, training=None):
        encoded, history = inputs  # (B, T, m), (B, T, 1)
        steps = encoded.shape[1]
        encoded_term = ops.matmul(encoded, self.u_encoded)  # (B, T, m), same for every t
        d = s = ops.zeros_like(history[:, 0, :]) * ops.zeros((1, self.units), history.dtype)  # (B, p)
        for t in range(steps):
            context, _ = self._attend(encoded, encoded_term, d, s)
            y_tilde = ops.matmul(ops.concatenate([history[:, t, :], context], axis=-1),
                                 self.w_input) + self.b_input  # (B, 1)
            d, (d, s) = self.cell(y_tilde, (d, s), training=training)
        context, beta = self._attend(encoded, encoded_term, d, s)
        return d, context, beta

    def compute_output_shape(self, input_shape):
        encoded_shape, _ = input_shape
        batch, steps, encoder_units = encoded_shape
        return (batch, self.units), (batch, encoder_units), (batch, steps)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _darnn_space(hp) -> dict:
    # The paper's grid over m = p: {16, 32, 64, 128, 256}; 64 and 128 did best.
    return {
        "encoder_units": hp.Choice("encoder_units", [16, 32, 64, 128], default=64),
        "decoder_units": hp.Choice("decoder_units", [16, 32, 64, 128], default=64),
        "series_bias": hp.Boolean("series_bias", default=False),
    }


@register_model(
    family="darnn",
    task="sequence_forecasting",
    reference="Qin, Song, Chen, Cheng, Jiang & Cottrell 2017, A Dual-Stage Attention-Based "
    "Recurrent Neural Network for Time Series Prediction (IJCAI)",
    search_space=_darnn_space,
    dataset="synthetic_series",
    test_args={"encoder_units": 8, "decoder_units": 8},
)
def darnn(input_shape=(10, 9), encoder_units=64, decoder_units=64, series_bias=False,
          name="darnn"):
    """Dual-stage attention RNN forecasting the next value of a target series.

    Args:
        input_shape: (T, n + 1): T steps of n driving series, then the target's
            history in the last column. T must be fixed.
        encoder_units: Encoder LSTM units, m.
        decoder_units: Decoder LSTM units, p.
        series_bias: Add a learned bias per driving series to the input-attention
            scores (not in the paper). The paper's scores share their weights
            across series, so they can tell series apart only by their values;
            on `synthetic_series`, whose series all look alike, its input
            attention stays near uniform, while with the bias it concentrates
            on the true drivers (see `zoo reproduce darnn_attention`).
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, T, n + 1) to the next target value
        (batch, 1). `darnn_attention(model, x)` returns its attention weights.

    Example:
        >>> model = zoo.build("darnn", input_shape=(10, 9))
        >>> input_attention, temporal_attention = darnn_attention(model, x)  # (B, 10, 8), (B, 10)
    """
    input_shape = as_shape("input_shape", input_shape, rank=2)
    steps, columns = input_shape
    if columns < 2:
        raise ValueError(
            "`input_shape` must be (T, n + 1) with at least one driving series before the "
            f"target's history. Received: input_shape={input_shape}"
        )
    check_positive_int("encoder_units", encoder_units)
    check_positive_int("decoder_units", decoder_units)
    check_choice("series_bias", series_bias, (False, True))
    inputs = keras.Input(shape=input_shape, name="features")
    driving = FeatureSlice(0, columns - 1, name=f"{name}_driving_series")(inputs)  # (B, T, n)
    history = FeatureSlice(columns - 1, columns, name=f"{name}_target_history")(inputs)  # (B, T, 1)
    encoded, _ = InputAttentionEncoder(encoder_units, series_bias, name=f"{name}_encoder")(
        driving
    )
    state, context, _ = TemporalAttentionDecoder(decoder_units, name=f"{name}_decoder")(
        [encoded, history]
    )
    # y = v_y . (W_y [d_T; c_T] + b_w) + b_v: two linear maps, as in the paper (eq. 22).
    x = keras.layers.Concatenate(name=f"{name}_state_context")([state, context])
    x = keras.layers.Dense(decoder_units, name=f"{name}_output_hidden")(x)
    outputs = keras.layers.Dense(1, name=f"{name}_prediction")(x)
    return keras.Model(inputs, outputs, name=name)


def attention_model(model) -> keras.Model:
    """A second model sharing `model`'s layers that outputs its attention weights.

    Args:
        model: A DA-RNN built by `darnn` (trained or not, or loaded from `.keras`).

    Returns:
        A `keras.Model` mapping (batch, T, n + 1) to [input attention
        (batch, T, n): weights over the driving series at each encoder step,
        temporal attention (batch, T): weights over the encoder steps in the
        final context].
    """
    encoder = decoder = None
    for layer in model.layers:
        if isinstance(layer, InputAttentionEncoder):
            encoder = layer
        elif isinstance(layer, TemporalAttentionDecoder):
            decoder = layer
    if encoder is None or decoder is None:
        raise ValueError(
            f"`model` must be a DA-RNN built by zoo.models.darnn.darnn. Received: model {model.name!r} "
            f"with layers {[layer.name for layer in model.layers]}"
        )
    return keras.Model(model.inputs, [encoder.output[1], decoder.output[2]],
                       name=f"{model.name}_attention")


def darnn_attention(model, x, batch_size: int = 256):
    """The attention weights of a DA-RNN on inputs `x`, as NumPy arrays.

    Args:
        model: A DA-RNN (see `attention_model`).
        x: Inputs (batch, T, n + 1), preprocessed as for the model (for the
            built-in datasets: `pipelines.preprocessor(name)(x)`).
        batch_size: Examples per forward pass.

    Returns:
        (input_attention (batch, T, n), temporal_attention (batch, T)); each
        row sums to 1 over the series, respectively over the steps.
    """
    alpha, beta = attention_model(model).predict(x, batch_size=batch_size, verbose=0)
    return alpha, beta
