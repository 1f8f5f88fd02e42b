"""Pieces shared by the image classifiers: checks, the keras.applications head, weights.

Some classifiers (`convnet`, the CIFAR ResNets) also take 1-D signals, (length,
channels) such as sensor windows or audio frames: `spatial_layers` gives the
1-D or 2-D form of each layer for a tensor's rank, under the same layer names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from zoo._common import as_shape, check_choice, check_positive_int, check_rate
from zoo.models.weights import check_weights_arg, imagenet_path


# The accepted `input_shape` ranks, in words.
IMAGE_SHAPE = "(height, width, channels)"
IMAGE_OR_SIGNAL_SHAPE = "(height, width, channels) or (length, channels)"


@dataclasses.dataclass(frozen=True)
class SpatialLayers:
    """The Keras layer classes of one spatial rank: 1 (signals) or 2 (images)."""

    conv: type
    max_pool: type
    average_pool: type
    global_average_pool: type
    global_max_pool: type


_SPATIAL = {
    1: SpatialLayers(keras.layers.Conv1D, keras.layers.MaxPooling1D,
                     keras.layers.AveragePooling1D, keras.layers.GlobalAveragePooling1D,
                     keras.layers.GlobalMaxPooling1D),
    2: SpatialLayers(keras.layers.Conv2D, keras.layers.MaxPooling2D,
                     keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling2D,
                     keras.layers.GlobalMaxPooling2D),
}


def spatial_layers(x) -> SpatialLayers:
    """The layers for `x`: (B, L, C) signals take the 1-D ones, (B, H, W, C) images the 2-D."""
    return _SPATIAL[len(x.shape) - 2]


def image_or_signal_shape(value, signals: bool = True) -> tuple[int, ...]:
    """Validate an `input_shape` that is an image's (height, width, channels) or, where
    the architecture takes `signals`, a 1-D signal's (length, channels)."""
    shape = as_shape("input_shape", value)
    ranks, words = ((2, 3), IMAGE_OR_SIGNAL_SHAPE) if signals else ((3,), IMAGE_SHAPE)
    if len(shape) not in ranks:
        raise ValueError(f"`input_shape` must be {words}. Received: input_shape={value!r}")
    return shape


def min_size_error(arch: str, min_size: int, shape: tuple) -> ValueError:
    """The error for an input smaller than `min_size` pixels (images) or steps (signals)."""
    at_least = f"{min_size}x{min_size} pixels" if len(shape) == 3 else f"{min_size} steps"
    return ValueError(f"{arch} needs inputs of at least {at_least}. Received: input_shape={shape}")


@dataclasses.dataclass(frozen=True)
class ClassifierHead:
    """The keras.applications classifier arguments every image classifier takes.

    One value instead of seven parameters for the family helpers; each
    registered builder still takes them as keywords.
    """

    input_shape: tuple
    classes: int = 1000
    include_top: bool = True
    pooling: str | None = None
    classifier_activation: str | None = "softmax"
    weights: str | None = None
    dropout_rate: float = 0.0

    def checked_shape(self, arch: str, min_size: int, signals: bool = False) -> tuple[int, ...]:
        """Validate every argument; returns the input shape: (height, width, channels),
        or also (length, channels) for an architecture that takes `signals`."""
        shape = image_or_signal_shape(self.input_shape, signals)
        if min(shape[:-1]) < min_size:
            raise min_size_error(arch, min_size, shape)
        check_positive_int("classes", self.classes, minimum=2)
        check_choice("include_top", self.include_top, (True, False))
        check_choice("pooling", self.pooling, (None, "avg", "max"))
        check_choice("classifier_activation", self.classifier_activation, ("softmax", None))
        check_rate("dropout_rate", self.dropout_rate)
        check_weights_arg(arch, self.weights, self.include_top, self.classes)
        return shape

    def apply(self, x, prefix: str = ""):
        """Global average pooling + dense classifier, or the headless pooling option."""
        if not self.include_top:
            return apply_global_pooling(x, self.pooling, prefix)
        x = spatial_layers(x).global_average_pool(name=f"{prefix}avg_pool")(x)
        if self.dropout_rate:
            x = keras.layers.Dropout(self.dropout_rate, name=f"{prefix}dropout")(x)
        return self.classifier(x, prefix)

    def apply_fully_connected(self, x, prefix: str, hidden: tuple[str, str]):
        """Flatten, two 4096-unit layers named `hidden` (dropout after each), classifier;
        or the headless pooling option (AlexNet's and VGG's head)."""
        if not self.include_top:
            return apply_global_pooling(x, self.pooling, prefix)
        x = keras.layers.Flatten(name=f"{prefix}flatten")(x)
        for layer in hidden:
            x = keras.layers.Dense(4096, activation="relu", name=f"{prefix}{layer}")(x)
            if self.dropout_rate:
                x = keras.layers.Dropout(self.dropout_rate, name=f"{prefix}{layer}_dropout")(x)
        return self.classifier(x, prefix)

    def classifier(self, x, prefix: str = ""):
        """The last dense layer: `classes` units, `classifier_activation`."""
        return keras.layers.Dense(self.classes, activation=self.classifier_activation,
                                  name=f"{prefix}predictions")(x)


def apply_global_pooling(x, pooling, prefix=""):
    """The headless keras.applications option: None, "avg" or "max" global pooling
    (1-D for (B, L, C) signals, 2-D for images)."""
    if pooling == "avg":
        return spatial_layers(x).global_average_pool(name=f"{prefix}avg_pool")(x)
    if pooling == "max":
        return spatial_layers(x).global_max_pool(name=f"{prefix}max_pool")(x)
    return x


def conv_bn(x, filters, kernel_size, strides=1, padding="valid", use_bias=True,
            activation="relu", name=""):
    """Conv -> BatchNormalization (eps 1.001e-5, as keras.applications) -> activation;
    Conv2D on images, Conv1D on (B, L, C) signals."""
    x = spatial_layers(x).conv(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=use_bias, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def load_weights(
    model: keras.Model, weights: Any, arch: str | None = None, include_top: bool = True
) -> keras.Model:
    """Load `weights` into `model`: None, a local file, or "imagenet".

    Accepted files: the keras.applications `.h5` files, a `.weights.h5` written
    by `model.save_weights`, or a `.keras` model of the same architecture
    (loaded with `safe_mode=True`). "imagenet" resolves through `zoo.models.weights`
    for the architectures `arch` that have published weights.
    """
    if weights is None:
        return model
    path = str(weights)
    if path == "imagenet" and arch is not None:
        model.load_weights(imagenet_path(arch, include_top))
    elif path.endswith(".h5"):
        model.load_weights(path)
    elif path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False, safe_mode=True)
        model.set_weights(source.get_weights())
    else:
        raise ValueError(
            "`weights` must be None or the path to a `.weights.h5` or `.keras` file. "
            f"Received: weights={weights!r}"
        )
    return model
