"""A configurable simple ConvNet: [conv -> ReLU -> pool] x blocks -> dense -> classifier.

The textbook convolutional network (e.g. CS231n's INPUT-[CONV-RELU-POOL]*N-FC
pattern; LeCun et al. 1998 for the idea), with every classic switch exposed.
Images take 2-D layers; 1-D signals, `input_shape=(length, channels)` (sensor
windows, audio frames), take the same network with 1-D layers.
"""

from __future__ import annotations

import dataclasses

import keras

from zoo._common import check_choice, check_positive_int, check_rate
from zoo.models._vision import (
    apply_global_pooling,
    image_or_signal_shape,
    load_weights,
    min_size_error,
    spatial_layers,
)
from zoo.registry import register_model


@dataclasses.dataclass(frozen=True)
class ConvStack:
    """The layers of `convnet` below its classifier, grouped: `zoo.build("convnet", ...)`
    takes each field as an argument of its own (`filters=16`).

    Attributes:
        blocks: Number of conv -> ReLU -> pool blocks.
        filters: Channels of the first block, doubled in each next block.
        kernel_size: Convolution kernel size (square on images).
        padding: "same" or "valid" convolutions.
        block_pooling: 2x2 (2 on signals) "max" or "average" pooling after each
            convolution.
        dense_units: Width of the hidden dense layer (with the top).
    """

    blocks: int = 2
    filters: int = 32
    kernel_size: int = 3
    padding: str = "same"
    block_pooling: str = "max"
    dense_units: int = 128

    def check(self) -> None:
        """Refuse an invalid field, naming it as the builder's argument."""
        check_positive_int("blocks", self.blocks)
        check_positive_int("filters", self.filters)
        check_positive_int("kernel_size", self.kernel_size)
        check_choice("padding", self.padding, ("same", "valid"))
        check_choice("block_pooling", self.block_pooling, ("max", "average"))
        check_positive_int("dense_units", self.dense_units)

    def min_size(self) -> int:
        """Smallest input side (or signal length) that leaves at least one pixel (step)
        after every block."""
        size = 1
        for _ in range(self.blocks):
            size = size * 2  # undo the 2x2 pooling
            if self.padding == "valid":
                size += self.kernel_size - 1  # undo the shrinking convolution
        return size

    def apply(self, x, name: str):
        """[conv -> ReLU -> 2x2 pool] x blocks, block i with `filters * 2**(i-1)` channels;
        1-D convolutions and pooling by 2 on (B, L, C) signals."""
        layers = spatial_layers(x)
        pool = layers.max_pool if self.block_pooling == "max" else layers.average_pool
        for i in range(1, self.blocks + 1):
            # (B, H, W, C) -> (B, H/2, W/2, filters * 2**(i-1)); (B, L, C) -> (B, L/2, ...)
            x = layers.conv(
                self.filters * 2 ** (i - 1), self.kernel_size, padding=self.padding,
                activation="relu", name=f"{name}_block{i}_conv",
            )(x)
            x = pool(2, name=f"{name}_block{i}_pool")(x)
        return x


def _convnet_space(hp) -> dict:
    return {
        "blocks": hp.Int("blocks", 1, 3, default=2),
        "filters": hp.Choice("filters", [16, 32, 64], default=32),
        "kernel_size": hp.Choice("kernel_size", [3, 5], default=3),
        "dense_units": hp.Choice("dense_units", [64, 128, 256], default=128),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.5, step=0.25, default=0.0),
    }


@register_model(
    family="convnet",
    task="image_classification",
    reference="LeCun et al. 1998, Gradient-based learning applied to document "
    "recognition; Stanford CS231n notes, Convolutional Neural Networks (layer patterns)",
    search_space=_convnet_space,
    dataset="digits",
)
def convnet(
    input_shape=(28, 28, 1),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    weights=None,
    dropout_rate=0.0,
    stack=ConvStack(),
    name="convnet",
):
    """Simple ConvNet; block i has `filters * 2**i` channels.

    Args:
        input_shape: (height, width, channels), or (length, channels) for a 1-D
            signal (Conv1D and 1-D pooling).
        classes: Number of classes (used when `include_top`).
        include_top: Keep the dense layer and the classifier.
        pooling: Without the top: None (the feature map), "avg" or "max"
            (global pooling to a vector), as in keras.applications.
        classifier_activation: "softmax" or None (logits).
        weights: None or a local `.weights.h5`/`.keras` file to load.
        dropout_rate: Dropout before the dense layer and the classifier.
        stack: The convolutional blocks and the dense layer (`ConvStack`: blocks,
            filters, kernel_size, padding, block_pooling, dense_units), each also an
            argument of `zoo.build("convnet", ...)`.
        name: Model name.

    Returns:
        A `keras.Model`; with defaults it maps (batch, 28, 28, 1) to (batch, 10).

    Example:
        >>> zoo.build("convnet", blocks=3, filters=16).output_shape
        (None, 10)
    """
    input_shape = image_or_signal_shape(input_shape)
    check_positive_int("classes", classes, minimum=2)
    check_choice("pooling", pooling, (None, "avg", "max"))
    check_choice("classifier_activation", classifier_activation, ("softmax", None))
    check_rate("dropout_rate", dropout_rate)
    stack.check()
    minimum = stack.min_size()
    if min(input_shape[:-1]) < minimum:
        arch = (f"convnet with blocks={stack.blocks}, kernel_size={stack.kernel_size}, "
                f"padding={stack.padding!r}")
        raise min_size_error(arch, minimum, input_shape)
    inputs = keras.Input(shape=input_shape, name="image")
    x = stack.apply(inputs, name)
    if include_top:
        x = keras.layers.Flatten(name=f"{name}_flatten")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_flatten_dropout")(x)
        x = keras.layers.Dense(stack.dense_units, activation="relu", name=f"{name}_dense")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_dense_dropout")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)
    else:
        x = apply_global_pooling(x, pooling, prefix=f"{name}_")
    model = keras.Model(inputs, x, name=name)
    return load_weights(model, weights)
