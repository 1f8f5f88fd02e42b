"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998).

Layout C1-S2-C3-S4-C5-F6-output on a 32x32x1 input with tanh units and
average pooling. Two documented simplifications, both standard in modern
reimplementations: C3 connects to all six S2 maps (the paper's sparse
connection table has 1,516 weights, full connection 2,416), the sub-sampling
layers are plain average pooling (the paper adds a trainable coefficient and
bias per map) and the output is a softmax dense layer (the paper uses
Euclidean RBF units). With `classes=10` the model has exactly 61,706
parameters.
"""

from __future__ import annotations

import keras

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.models._vision import load_weights
from zoo.registry import register_model

MIN_SIZE = 32  # C1(5) -> S2(/2) -> C3(5) -> S4(/2) -> C5(5) needs 32 pixels.


def _lenet5_space(hp) -> dict:
    return {
        "activation": hp.Choice("activation", ["tanh", "relu"], default="tanh"),
        "pooling": hp.Choice("pooling", ["average", "max"], default="average"),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.25], default=0.0),
    }


@register_model(
    family="lenet",
    task="image_classification",
    reference="LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied "
    "to document recognition, Proc. IEEE 86(11)",
    search_space=_lenet5_space,
    dataset="digits",
    dataset_options={"image_size": (32, 32)},
)
def lenet5(
    input_shape=(32, 32, 1),
    classes=10,
    include_top=True,
    classifier_activation="softmax",
    weights=None,
    activation="tanh",
    pooling="average",
    dropout_rate=0.0,
    name="lenet5",
):
    """LeNet-5 convolutional network.

    Args:
        input_shape: (height, width, channels); height and width >= 32.
        classes: Number of classes (used when `include_top`).
        include_top: Whether to keep F6 and the classifier; without them the
            model outputs the flattened C5 features (120 per position).
        classifier_activation: "softmax" or None (logits).
        weights: None or a local `.weights.h5`/`.keras` file to load.
        activation: Unit nonlinearity, "tanh" (paper) or "relu".
        pooling: Sub-sampling, "average" (paper) or "max".
        dropout_rate: Dropout before F6 and before the classifier (paper: 0).
        name: Model name.

    Returns:
        A `keras.Model`; with defaults it maps (batch, 32, 32, 1) to (batch, 10).

    Example:
        >>> zoo.build("lenet5").count_params()
        61706
    """
    input_shape = as_shape("input_shape", input_shape, rank=3)
    if input_shape[0] < MIN_SIZE or input_shape[1] < MIN_SIZE:
        raise ValueError(
            f"lenet5 needs inputs of at least {MIN_SIZE}x{MIN_SIZE} pixels. "
            f"Received: input_shape={input_shape}"
        )
    check_positive_int("classes", classes, minimum=2)
    check_choice("classifier_activation", classifier_activation, ("softmax", None))
    check_choice("activation", activation, ("tanh", "relu"))
    check_choice("pooling", pooling, ("average", "max"))
    check_rate("dropout_rate", dropout_rate)
    pool = keras.layers.AveragePooling2D if pooling == "average" else keras.layers.MaxPooling2D

    inputs = keras.Input(shape=input_shape, name="image")
    # (B, 32, 32, 1) -> (B, 28, 28, 6) -> (B, 14, 14, 6)
    x = keras.layers.Conv2D(6, 5, activation=activation, name=f"{name}_c1_conv")(inputs)
    x = pool(2, name=f"{name}_s2_pool")(x)
    # -> (B, 10, 10, 16) -> (B, 5, 5, 16)
    x = keras.layers.Conv2D(16, 5, activation=activation, name=f"{name}_c3_conv")(x)
    x = pool(2, name=f"{name}_s4_pool")(x)
    # -> (B, 1, 1, 120): C5 is a convolution, fully connected only at 32x32.
    x = keras.layers.Conv2D(120, 5, activation=activation, name=f"{name}_c5_conv")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    if include_top:
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_c5_dropout")(x)
        x = keras.layers.Dense(84, activation=activation, name=f"{name}_f6_dense")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_f6_dropout")(x)
        x = keras.layers.Dense(
            classes, activation=classifier_activation, name=f"{name}_predictions"
        )(x)
    model = keras.Model(inputs, x, name=name)
    return load_weights(model, weights)
