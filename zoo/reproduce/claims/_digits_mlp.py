"""What the deep-MLP claims share: the `mlp` on the digits, trained through `zoo.train`, and
the measurements they read from it (accuracy on a split, gradient norms per layer, the
steps to reach an accuracy).

The digits (1,797 8x8 images, 1,258 for training) are small enough that a deep MLP
trains in seconds on a CPU. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import math

import numpy as np

from zoo.reproduce.measure import history_values, train

DIGITS = "digits"
TRAIN_SIZE = 1258  # the digits' training split (pipelines.get_info("digits").splits)


def train_mlp(work, seed: int, *, epochs: int, optimizer: str = "sgd", learning_rate=0.1,
              batch_size: int = 32, lr_schedule: str = "constant", data=DIGITS,
              callbacks=None, **builder_args):
    """`zoo.train("mlp", data, ...)`: `builder_args` are the mlp's own (depth, width,
    activation, initializer, dropout_rate, batch_norm)."""
    return train("mlp", data, work, seed, epochs=epochs, batch_size=batch_size,
                 optimizer=optimizer, learning_rate=learning_rate, lr_schedule=lr_schedule,
                 overrides=builder_args, callbacks=callbacks)


def accuracy_curve(result) -> list[float]:
    """Validation accuracy after each epoch (a diverged model scores NaN: counted as chance)."""
    return [v if math.isfinite(v) else 0.0 for v in history_values(result, "val_accuracy")]


def digits_arrays(split: str):
    """(x, y) of a digits split, preprocessed as the zoo feeds the model ([0, 1] floats)."""
    import pipelines

    x, y = pipelines.load_arrays(DIGITS, split)
    return np.asarray(pipelines.preprocessor(DIGITS)(x)), np.asarray(y).ravel()


def probabilities(model, x) -> np.ndarray:
    """The model's class probabilities for `x`, in inference mode (dropout off)."""
    return np.asarray(model.predict(x, batch_size=512, verbose=0))


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    """The fraction of `y` that `probs` ranks first (NaN predictions count as wrong)."""
    return float(np.mean(np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1) == y))


def kernel_gradient_norms(model, x, y) -> list[float]:
    """The L2 norm of the loss gradient w.r.t. each Dense kernel, input side first
    (hidden1 ... hiddenN, then the output layer), on the batch (x, y)."""
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def initial_gradients_callback(x, y, into: list):
    """A Keras callback that appends `kernel_gradient_norms` of the model, as `zoo.train`
    built it (its initial weights), to `into` when training begins."""
    import keras

    class InitialGradients(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            into.append(kernel_gradient_norms(self.model, x, y))

    return InitialGradients()


def steps_to(curve: list[float], target: float, steps_per_epoch: int) -> float:
    """Training steps until the validation accuracy first reaches `target` (measured after
    each epoch), or inf when it never does within the curve."""
    for epoch, value in enumerate(curve, start=1):
        if value >= target:
            return float(epoch * steps_per_epoch)
    return math.inf


def steps_per_epoch(batch_size: int, size: int = TRAIN_SIZE) -> int:
    return math.ceil(size / batch_size)


def accuracy_every_callback(x, y, every: int, into: list):
    """A Keras callback that appends (step, accuracy on (x, y)) to `into` every `every`
    training steps, the model in inference mode (for steps to a target accuracy at a finer
    grain than epochs)."""
    import keras

    class AccuracyEvery(keras.callbacks.Callback):
        step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every == 0:
                into.append((self.step, accuracy(np.asarray(self.model(x, training=False)), y)))

    return AccuracyEvery()


def predict(result, raw_x) -> np.ndarray:
    """Class probabilities of a trained `zoo.train` result for raw inputs (as its data gave
    them): the plan's preprocessing first, then the model in inference mode."""
    preprocess = result.plan.preprocessor()
    x = raw_x if preprocess is None else np.asarray(preprocess(raw_x))
    return probabilities(result.model, x)
