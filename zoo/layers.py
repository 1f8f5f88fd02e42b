"""Serializable layers shared by the zoo's models.

Every custom layer is registered with `keras.saving.register_keras_serializable`
so `.keras` files load with `safe_mode=True` and no `Lambda` layer is needed.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class HeavisideStep(keras.layers.Layer):
    """Threshold unit: outputs 1.0 where the input is > 0, else 0.0.

    The forward pass is the hard step of Rosenblatt's perceptron. The backward
    pass is the straight-through estimator (gradient 1), so gradient descent on
    the squared error of the step output, (y_hat - y)**2 / 2, updates the
    weights by (y - y_hat) * x: exactly the perceptron learning rule.
    """

    def call(self, inputs):
        step = ops.cast(ops.greater(inputs, 0.0), inputs.dtype)
        # Forward value is `step`; gradient flows as if this were identity.
        return inputs + ops.stop_gradient(step - inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="zoo")
class LastStep(keras.layers.Layer):
    """(B, T, ...) -> (B, ...): the last step, or step `lengths - 1` of each row.

    With right-padded sequences and a causal model, the output at the last
    real token is the prediction for the next one; padding after it cannot
    have changed it.
    """

    def call(self, sequences, lengths=None):
        if lengths is None:
            return sequences[:, -1]
        index = ops.maximum(ops.cast(lengths, "int32"), 1) - 1  # an empty text reads step 0
        index = ops.reshape(index, (-1, 1, *([1] * (len(sequences.shape) - 2))))
        return ops.squeeze(ops.take_along_axis(sequences, index, axis=1), axis=1)

    def compute_output_shape(self, sequences_shape, lengths_shape=None):
        return (sequences_shape[0], *sequences_shape[2:])


@keras.saving.register_keras_serializable(package="zoo")
class AtLeastOneStep(keras.layers.Layer):
    """Token ids (B, T) -> (B, max(T, 1)): one zero id appended when T is 0.

    A batch of empty texts tokenizes to (B, 0), which a recurrent model cannot
    run. With one zero ([UNK]) step it reads as an empty text beside others
    does (`LastStep` reads its step 0), and as `zoo generate` starts an empty
    prompt: from [UNK].
    """

    def call(self, ids):
        missing = ops.maximum(1 - ops.shape(ids)[1], 0)
        return ops.concatenate([ids, ops.zeros((ops.shape(ids)[0], missing), ids.dtype)], axis=1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else max(steps, 1))


@keras.saving.register_keras_serializable(package="zoo")
class NearestUpsampling2x(keras.layers.Layer):
    """(B, H, W, C) -> (B, 2H, 2W, C), each pixel repeated 2x2 (nearest neighbour).

    Equal to `UpSampling2D(2)`, written as concatenations and reshapes that keep C
    static: after `UpSampling2D` the LiteRT converter loses the channel count and leaves
    the next convolution as a TensorFlow op, so the network would not run on plain
    LiteRT (the fast style network, the convolutional autoencoder).
    """

    def call(self, x):
        batch, height, width = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        channels = x.shape[-1]
        x = ops.reshape(ops.concatenate([x, x], axis=-1), (batch, height, 2 * width, channels))
        return ops.reshape(ops.concatenate([x, x], axis=2),  # each row twice
                           (batch, 2 * height, 2 * width, channels))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)
