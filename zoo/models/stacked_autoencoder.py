"""Greedy layer-wise pre-training: a deep sigmoid MLP whose hidden layers start as autoencoders.

Each hidden layer is first trained, one at a time from the bottom up, as the
encoder of a one-layer autoencoder (optionally denoising) that reconstructs
the codes of the layer below; then the whole network is fine-tuned as a
classifier by back-propagation (Hinton & Salakhutdinov 2006; Bengio et al.
2007). Deep sigmoid networks trained from a random start suffer from
vanishing gradients in their lower layers; pre-training starts them in a
region where every layer already carries information about its input
(Erhan et al. 2010).

The pre-training is a training procedure, not part of the architecture: the
registered builder returns a plain Dense/sigmoid classifier, and its task's
`pretrain` hook (`zoo.tasks.pretrained`, calling `pretrain_layers`) trains its
hidden Dense layers in place before gradient training starts (`zoo.train`, searches).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.registry import register_model

ACTIVATIONS = ("sigmoid", "tanh")
# Adam's learning rate for the per-layer autoencoders (the fine-tuning uses
# the spec's optimizer and learning rate).
PRETRAIN_LEARNING_RATE = 1e-2


@dataclasses.dataclass(frozen=True)
class Pretraining:
    """How a built model is pre-trained; attached to it as `model.pretraining`.

    The hook reads these from the model, not from the data plan, so that a
    search trial that chooses `pretrain_epochs` gets the value it chose.
    """

    epochs: int
    corruption: float


def _stacked_autoencoder_space(hp) -> dict:
    return {
        "depth": hp.Int("depth", 2, 5, default=3),
        "width": hp.Choice("width", [64, 128, 256], default=128),
        "pretrain_epochs": hp.Choice("pretrain_epochs", [0, 5, 10], default=5),
        "corruption": hp.Choice("corruption", [0.0, 0.25], default=0.0),
    }


@register_model(
    family="autoencoder",
    task="layerwise_pretrained_classification",
    reference="Bengio, Lamblin, Popovici & Larochelle 2007, Greedy layer-wise training of "
    "deep networks; Hinton & Salakhutdinov 2006, Reducing the dimensionality of data with "
    "neural networks; Vincent et al. 2008 (denoising); Erhan et al. 2010, Why does "
    "unsupervised pre-training help deep learning?",
    search_space=_stacked_autoencoder_space,
    optimizer="momentum",
    learning_rate=0.05,
    alternative_optimizers={"adam": 1e-3},
    dataset="digits",
    test_args={"depth": 2, "width": 32, "pretrain_epochs": 1},
)
def stacked_autoencoder(
    input_shape=(8, 8, 1),
    classes=10,
    depth=3,
    width=128,
    activation="sigmoid",
    pretrain_epochs=5,
    corruption=0.0,
    name="stacked_autoencoder",
):
    """Deep sigmoid classifier whose hidden layers are pre-trained as stacked autoencoders.

    The network is Flatten -> `depth` x Dense(`width`, `activation`) ->
    Dense(`classes`, softmax). Before fine-tuning (`zoo.train`, `zoo tune`),
    its task's `pretrain` hook trains hidden layer k as the encoder of an
    autoencoder reconstructing the codes of layer k-1 (the input for k=1)
    for `pretrain_epochs` epochs, with a fresh decoder it then discards.
    A forward pass and a training step are those of a plain classifier.

    Args:
        input_shape: Input shape without the batch dimension (flattened inside).
        classes: Number of classes.
        depth: Number of hidden layers, each pre-trained as an autoencoder.
        width: Units per hidden layer.
        activation: Hidden activation, "sigmoid" (as in the papers) or "tanh".
        pretrain_epochs: Autoencoder epochs per hidden layer before fine-tuning
            (default 5: on `digits`, enough for every layer's reconstruction
            loss to level off); 0 skips pre-training (random initialisation).
        corruption: Fraction of each autoencoder's inputs set to zero in
            pre-training (masking noise of denoising autoencoders, Vincent
            et al. 2008); 0 trains plain autoencoders.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to (batch, classes), with
        its pre-training settings in `model.pretraining`.

    Example:
        >>> result = zoo.train("stacked_autoencoder", "digits", epochs=20)
        >>> result.history[-1]["val_accuracy"] > 0.9
        True
    """
    input_shape = as_shape("input_shape", input_shape)
    check_positive_int("classes", classes, minimum=2)
    check_positive_int("depth", depth)
    check_positive_int("width", width)
    check_choice("activation", activation, ACTIVATIONS)
    check_positive_int("pretrain_epochs", pretrain_epochs, minimum=0)
    check_rate("corruption", corruption)

    inputs = keras.Input(shape=input_shape, name="features")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs) if len(input_shape) > 1 else inputs
    for i in range(1, depth + 1):
        x = keras.layers.Dense(width, activation=activation, name=f"{name}_hidden{i}")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name=f"{name}_predictions")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.pretraining = Pretraining(epochs=pretrain_epochs, corruption=float(corruption))
    return model


def hidden_layers(model) -> list:
    """The Dense layers of `model` before its output layer, bottom up."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return dense[:-1]


def pretrain_layers(
    model,
    x,
    *,
    epochs: int = 5,
    corruption: float = 0.0,
    batch_size: int = 32,
    learning_rate: float = PRETRAIN_LEARNING_RATE,
    seed: int = 0,
) -> dict:
    """Train each hidden Dense layer of `model`, bottom up, as an autoencoder encoder.

    Layer k encodes the codes c_{k-1} of the layers below (c_0 = the
    flattened inputs `x`); a fresh decoder maps its code back, and both are
    trained with Adam on the reconstruction loss: binary cross-entropy with a
    sigmoid decoder when c_{k-1} lies in [0, 1] (pixels, sigmoid codes),
    mean squared error with a linear decoder otherwise. With `corruption`
    > 0 the encoder sees c_{k-1} with that fraction of entries zeroed and
    must reconstruct the clean c_{k-1}. The layer's trained weights stay in
    `model`; the decoder is discarded.

    Args:
        model: A Dense classifier (e.g. `zoo.build("stacked_autoencoder")`).
        x: Training inputs, (n, *input_shape), preprocessed as the model sees them.
        epochs: Epochs per layer; 0 leaves the model unchanged.
        corruption: Masking-noise fraction in [0, 1).
        batch_size, learning_rate, seed: Autoencoder training settings.

    Returns:
        `{layer name: {"loss": name, "initial": loss before, "final": loss after}}`,
        the reconstruction loss of each layer's autoencoder on clean codes.
    """
    import tensorflow as tf

    check_positive_int("epochs", epochs, minimum=0)
    check_rate("corruption", corruption)
    layers = hidden_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} has no hidden Dense layers to pre-train.")
    rng = np.random.default_rng(seed)
    codes = np.asarray(x, dtype="float32").reshape(len(x), -1)  # (n, d_0): what Flatten does
    report = {}
    if epochs == 0:
        return report
    for k, layer in enumerate(layers, start=1):
        binary = codes.min() >= 0.0 and codes.max() <= 1.0
        decoder = _decoder(layer, codes.shape[1], binary, seed + k)
        loss_fn = keras.losses.BinaryCrossentropy() if binary else keras.losses.MeanSquaredError()
        variables = layer.trainable_variables + decoder.trainable_variables
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(variables)

        @tf.function
        def step(clean, corrupted):
            with tf.GradientTape() as tape:
                loss = loss_fn(clean, decoder(layer(corrupted)))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        def reconstruction_loss():
            return float(loss_fn(codes, decoder(layer(codes))))

        initial = reconstruction_loss()
        for _ in range(epochs):
            order = rng.permutation(len(codes))
            for start in range(0, len(codes), batch_size):
                clean = codes[order[start:start + batch_size]]
                corrupted = clean * (rng.random(clean.shape) >= corruption) if corruption else clean
                step(tf.constant(clean), tf.constant(corrupted, dtype="float32"))
        report[layer.name] = {
            "loss": "binary_crossentropy" if binary else "mse",
            "initial": round(initial, 4),
            "final": round(reconstruction_loss(), 4),
        }
        codes = np.asarray(layer(codes))  # (n, units): the next layer's input
    return report


def _decoder(layer, width: int, binary: bool, seed: int):
    """A fresh Dense decoder of `layer`'s code back to `width` values (sigmoid for
    values in [0, 1], linear otherwise)."""
    decoder = keras.layers.Dense(width, activation="sigmoid" if binary else None,
                                 kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                                 name=f"{layer.name}_decoder")
    decoder.build((None, layer.units))
    return decoder


def layer_gradient_norms(model, x, y, loss=None) -> dict:
    """L2 norm of the loss gradient with respect to each Dense layer's kernel.

    Computed with `tf.GradientTape` on one fixed batch `(x, y)` and the
    model's compiled loss (or `loss`, a Keras loss); in a deep sigmoid network
    from a random start the norms shrink from the output layer down
    (vanishing gradients).

    Returns:
        `{layer name: norm}` for every Dense layer, bottom up.
    """
    import tensorflow as tf

    loss_fn = keras.losses.get(loss or model.loss or "sparse_categorical_crossentropy")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    kernels = [layer.kernel for layer in dense]
    with tf.GradientTape() as tape:
        value = keras.ops.mean(loss_fn(y, model(x, training=False)))
    grads = tape.gradient(value, kernels)
    return {layer.name: float(tf.norm(g)) for layer, g in zip(dense, grads)}
