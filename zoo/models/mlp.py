"""Feed-forward networks: the XOR network and a configurable deep MLP."""

from __future__ import annotations

import dataclasses

import keras

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.registry import register_model

ACTIVATIONS = ("sigmoid", "tanh", "relu")
# Keras identifiers, plus the names the literature uses for them.
INITIALIZERS = {
    "zeros": "zeros",
    "random_normal": "random_normal",
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": "glorot_normal",
    "xavier": "glorot_uniform",
    "he_normal": "he_normal",
    "he_uniform": "he_uniform",
    "he": "he_normal",
}


def _xor_mlp_space(hp) -> dict:
    return {
        "units": hp.Choice("units", [2, 4, 8], default=4),
        "activation": hp.Choice("activation", list(ACTIVATIONS), default="tanh"),
    }


@register_model(
    family="mlp",
    task="binary_classification",
    reference="Rumelhart, Hinton & Williams 1986, Learning representations by "
    "back-propagating errors; Goodfellow et al. 2016, Deep Learning, section 6.1",
    search_space=_xor_mlp_space,
    learning_rate=0.05,
    dataset="gates",
    dataset_options={"gate": "xor"},
)
def xor_mlp(input_shape=(2,), units=4, activation="tanh", name="xor_mlp"):
    """Two-layer network that fits XOR, which no single linear unit can.

    Two hidden units suffice in principle (Rumelhart et al. 1986) but gradient
    descent from a random start gets stuck for some seeds; four hidden units
    train reliably, so that is the default.

    Args:
        input_shape: Feature shape, without the batch dimension.
        units: Hidden units.
        activation: Hidden activation, one of "sigmoid", "tanh", "relu".
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, 2) to p(y=1) of shape (batch, 1).
    """
    input_shape = as_shape("input_shape", input_shape, rank=1)
    check_positive_int("units", units)
    check_choice("activation", activation, ACTIVATIONS)
    inputs = keras.Input(shape=input_shape, name="features")
    x = keras.layers.Dense(units, activation=activation, name=f"{name}_hidden")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)


@dataclasses.dataclass(frozen=True)
class HiddenLayers:
    """The hidden layers of `mlp`, grouped: `zoo.build("mlp", ...)` takes each field as an
    argument of its own (`depth=4`).

    Attributes:
        depth: Number of hidden layers.
        width: Units per hidden layer.
        activation: "sigmoid", "tanh" or "relu".
        initializer: Kernel initializer: "zeros", "random_normal", "glorot_uniform"
            (alias "xavier"), "glorot_normal", "he_normal" (alias "he") or
            "he_uniform". "zeros" shows the symmetry problem: every hidden unit
            stays identical.
    """

    depth: int = 2
    width: int = 128
    activation: str = "relu"
    initializer: str = "glorot_uniform"

    def check(self) -> None:
        """Refuse an invalid field, naming it as the builder's argument."""
        check_positive_int("depth", self.depth)
        check_positive_int("width", self.width)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("initializer", self.initializer, INITIALIZERS)


def _mlp_space(hp) -> dict:
    return {
        "depth": hp.Int("depth", 1, 4, default=2),
        "width": hp.Choice("width", [64, 128, 256], default=128),
        "activation": hp.Choice("activation", list(ACTIVATIONS), default="relu"),
        "initializer": hp.Choice(
            "initializer", ["glorot_uniform", "he_normal", "random_normal"], default="glorot_uniform"
        ),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.5, step=0.1, default=0.0),
        "l2": hp.Choice("l2", [0.0, 1e-4, 1e-3], default=0.0),
        "batch_norm": hp.Boolean("batch_norm", default=False),
    }


@register_model(
    family="mlp",
    task="classification",
    reference="Rumelhart, Hinton & Williams 1986; initializers: Glorot & Bengio 2010, "
    "He et al. 2015; dropout: Srivastava et al. 2014; batch norm: Ioffe & Szegedy 2015",
    search_space=_mlp_space,
    dataset="digits",
)
def mlp(
    input_shape=(8, 8, 1),
    classes=10,
    hidden=HiddenLayers(),
    dropout_rate=0.0,
    l2=0.0,
    batch_norm=False,
    classifier_activation="softmax",
    name="mlp",
):
    """Deep feed-forward classifier with the classic training switches.

    Each hidden block is Dense -> [BatchNormalization] -> activation ->
    [Dropout]. Inputs of any rank are flattened first, so images work as is.

    Args:
        input_shape: Input shape without the batch dimension (flattened inside).
        classes: Number of classes.
        hidden: The hidden layers (`HiddenLayers`: depth, width, activation,
            initializer), each also an argument of `zoo.build("mlp", ...)`.
        dropout_rate: Dropout after each hidden layer, in [0, 1).
        l2: L2 weight-decay factor on every kernel.
        batch_norm: Batch normalization before each hidden activation.
        classifier_activation: "softmax" or None (logits).
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to (batch, classes).
    """
    input_shape = as_shape("input_shape", input_shape)
    check_positive_int("classes", classes, minimum=2)
    hidden.check()
    check_rate("dropout_rate", dropout_rate)
    if not isinstance(l2, (int, float)) or l2 < 0:
        raise ValueError(f"`l2` must be a float >= 0. Received: l2={l2!r}")
    check_choice("classifier_activation", classifier_activation, ("softmax", None))

    def dense(units, layer_name, use_bias=True):
        return keras.layers.Dense(
            units,
            use_bias=use_bias,
            kernel_initializer=INITIALIZERS[hidden.initializer],
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            name=layer_name,
        )

    inputs = keras.Input(shape=input_shape, name="features")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs) if len(input_shape) > 1 else inputs
    activation = hidden.activation
    for i in range(1, hidden.depth + 1):
        # The batch-norm shift makes the dense bias redundant.
        x = dense(hidden.width, f"{name}_hidden{i}_dense", use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_hidden{i}_bn")(x)
        x = keras.layers.Activation(activation, name=f"{name}_hidden{i}_{activation}")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_hidden{i}_dropout")(x)
    outputs = keras.layers.Dense(
        classes,
        activation=classifier_activation,
        kernel_initializer=INITIALIZERS[hidden.initializer],
        name=f"{name}_predictions",
    )(x)
    return keras.Model(inputs, outputs, name=name)
