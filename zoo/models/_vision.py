"""Pieces shared by the image classifiers: checks and the keras.applications head."""

from __future__ import annotations

import keras

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.models.weights import check_weights_arg


def check_classifier_args(
    arch: str, input_shape, classes, include_top, pooling, classifier_activation, weights,
    min_size: int, dropout_rate: float = 0.0,
) -> tuple[int, int, int]:
    """Validate the shared image-classifier signature; returns the input shape."""
    shape = as_shape("input_shape", input_shape, rank=3)
    if shape[0] < min_size or shape[1] < min_size:
        raise ValueError(
            f"{arch} needs inputs of at least {min_size}x{min_size} pixels. "
            f"Received: input_shape={shape}"
        )
    check_positive_int("classes", classes, minimum=2)
    check_choice("include_top", include_top, (True, False))
    check_choice("pooling", pooling, (None, "avg", "max"))
    check_choice("classifier_activation", classifier_activation, ("softmax", None))
    check_rate("dropout_rate", dropout_rate)
    check_weights_arg(arch, weights, include_top, classes)
    return shape


def apply_head(x, include_top, pooling, classes, classifier_activation, dropout_rate=0.0,
               prefix=""):
    """Global average pooling + dense classifier, or the headless pooling option."""
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name=f"{prefix}avg_pool")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{prefix}dropout")(x)
        return keras.layers.Dense(
            classes, activation=classifier_activation, name=f"{prefix}predictions"
        )(x)
    return apply_global_pooling(x, pooling, prefix)


def apply_global_pooling(x, pooling, prefix=""):
    """The headless keras.applications option: None, "avg" or "max" global pooling."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{prefix}avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{prefix}max_pool")(x)
    return x


def conv_bn(x, filters, kernel_size, strides=1, padding="valid", use_bias=True,
            activation="relu", name=""):
    """Conv2D -> BatchNormalization (eps 1.001e-5, as keras.applications) -> activation."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            use_bias=use_bias, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x
