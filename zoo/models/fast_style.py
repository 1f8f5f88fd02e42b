"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for
Real-Time Style Transfer and Super-Resolution).

One network per style: an image transformation network trained with the
perceptual losses of `zoo.tasks.style` (content features and Gram matrices of
a fixed VGG19, `zoo.models.style_transfer`) stylises an image in one forward pass.
Its training and export workflow is `zoo.runtime.style.train_style` (`zoo train-style`).

    "forward pass"   image (B, H, W, 3) RGB in [0, 255], H and W multiples of 4
                     -> stylized image (B, H, W, 3) in [0, 1]
    "training step"  one Adam step on the network's weights over a batch of
                     content images (`zoo.tasks.style.FastStyleTrainer.train_step`): content
                     loss against each input, style loss against one style
                     image, total variation; VGG19 frozen.

Differences from the paper: instance normalisation (Ulyanov et al. 2016, as
in Johnson's released code) instead of batch normalisation, and nearest-
neighbour upsampling + convolution instead of fractionally strided
convolutions (no checkerboard artefacts; Odena et al. 2016).
"""

from __future__ import annotations

import keras

from zoo._common import check_positive_int
from zoo.layers import NearestUpsampling2x
from zoo.registry import register_model

_PAPER = ("Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer "
          "and Super-Resolution, arXiv:1603.08155")


def apply_conv(x, filters, kernel_size, strides=1, activation="relu", name=""):
    """Conv -> instance norm (GroupNormalization with one group per channel) -> activation."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                            name=f"{name}_conv")(x)
    x = keras.layers.GroupNormalization(groups=-1, name=f"{name}_norm")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def apply_residual_block(x, filters, name=""):
    """Two 3x3 conv/norm layers and an identity shortcut (the paper's Figure 1 of its supplement)."""
    y = apply_conv(x, filters, 3, name=f"{name}_1")
    y = apply_conv(y, filters, 3, activation=None, name=f"{name}_2")
    return keras.layers.Add(name=f"{name}_add")([x, y])


@register_model(family="fast_style", task="stylization", reference=_PAPER, search_space=None,
                test_args={"filters": 8, "residual_blocks": 1})
def fast_style_network(input_shape=(None, None, 3), filters=32, residual_blocks=5,
                       name="fast_style_network"):
    """Johnson et al.'s image transformation network: stylises an image in one pass.

    9x9 conv, two stride-2 3x3 convs (x2, x4 filters), residual blocks,
    two x2 upsampling + 3x3 convs, 9x9 conv to RGB, sigmoid. Trained per
    style with `zoo.tasks.style.FastStyleTrainer` (`zoo train-style`); `search_space=None`:
    like `style_transfer` there is no dataset here to search over.

    Args:
        input_shape: (height, width, 3) RGB in [0, 255]; height and width
            multiples of 4 (None: any such size).
        filters: Filters of the first convolution (32 in the paper).
        residual_blocks: Number of residual blocks (5 in the paper).
        name: Model name.

    Returns:
        A `keras.Model`: image (B, H, W, 3) -> stylized image (B, H, W, 3) in [0, 1].

    Example:
        >>> model = fast_style_network(filters=8, residual_blocks=1)
        >>> tuple(model(keras.ops.zeros((1, 32, 48, 3))).shape)
        (1, 32, 48, 3)
    """
    check_positive_int("filters", filters)
    check_positive_int("residual_blocks", residual_blocks, minimum=0)
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 3 or any(d is not None and d % 4 for d in shape[:2]):
        raise ValueError(f"`input_shape` must be (height, width, 3) with height and width "
                         f"multiples of 4 or None. Received: input_shape={input_shape!r}")
    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(image)  # [0, 255] -> [0, 1]
    x = apply_conv(x, filters, 9, name="down1")  # (B, H, W, f)
    x = apply_conv(x, 2 * filters, 3, strides=2, name="down2")  # (B, H/2, W/2, 2f)
    x = apply_conv(x, 4 * filters, 3, strides=2, name="down3")  # (B, H/4, W/4, 4f)
    for i in range(1, residual_blocks + 1):
        x = apply_residual_block(x, 4 * filters, name=f"res{i}")
    for i, f in enumerate((2 * filters, filters), 1):
        x = NearestUpsampling2x(name=f"up{i}_upsample")(x)
        x = apply_conv(x, f, 3, name=f"up{i}")
    x = keras.layers.Conv2D(3, 9, padding="same", name="rgb_conv")(x)
    x = keras.layers.Activation("sigmoid", name="stylized")(x)  # (B, H, W, 3) in [0, 1]
    return keras.Model(image, x, name=name)
