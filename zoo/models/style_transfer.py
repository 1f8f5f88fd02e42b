"""Neural style transfer (Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style):
the feature extractor.

The registered model `style_transfer` is VGG19's convolutional stack
(`zoo.models.vgg.vgg19`, keras.applications layer names) mapping an image to
the features of one content layer and the Gram matrices of the style layers:

    image (B, H, W, 3), keras.applications "caffe" convention (BGR, ImageNet means
    subtracted: `input_normalization="caffe"`, as VGG19 itself)
        -> {"content": (B, h, w, C), "gram_<layer>": (B, C_l, C_l) for each style layer}

Stylizing does not train the model: it optimises the pixels of an image so that
its content features match those of the content image and its Gram matrices
those of the style image. That workflow, its losses and its export live with the
task, in `zoo.tasks.style` (which puts the caffe normalisation in front of the
model) and `zoo.runtime.style` (`stylize`, `train_style`).
"""

from __future__ import annotations

import keras
from keras import ops

from zoo._common import check_choice
from zoo.registry import register_model

_PAPER = ("Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style, "
          "arXiv:1508.06576")

# keras.applications VGG19 layer names, input to output.
VGG19_CONV_LAYERS = tuple(
    f"block{b}_conv{c}" for b, convs in enumerate((2, 2, 4, 4, 4), 1) for c in range(1, convs + 1)
)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYER = "block5_conv2"
VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Adam's step size on [0, 1] pixels in the TensorFlow style-transfer tutorial
# (see `zoo.tasks.style`).
LEARNING_RATE = 0.02


@keras.saving.register_keras_serializable(package="zoo")
class GramMatrix(keras.layers.Layer):
    """Features (B, H, W, C) -> Gram matrices (B, C, C) = F^T F / (H W)."""

    def call(self, features):
        return gram_matrix(features)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1], input_shape[-1])


def gram_matrix(features):
    """Channel correlations of (B, H, W, C) features, averaged over the H W positions."""
    shape = ops.shape(features)
    positions = ops.cast(shape[1] * shape[2], features.dtype)
    return ops.einsum("bijc,bijd->bcd", features, features) / positions


def _check_layers(content_layer, style_layers) -> tuple[str, ...]:
    if isinstance(style_layers, str):
        style_layers = (style_layers,)
    style_layers = tuple(style_layers)
    bad = [n for n in (content_layer, *style_layers) if n not in VGG19_CONV_LAYERS]
    if bad:
        raise ValueError(
            f"Unknown VGG19 layer(s) {', '.join(map(repr, bad))}. Valid layers: "
            f"{', '.join(VGG19_CONV_LAYERS)}. Received: content_layer={content_layer!r}, "
            f"style_layers={style_layers!r}"
        )
    if not style_layers or len(set(style_layers)) != len(style_layers):
        raise ValueError(f"`style_layers` must name distinct layers, at least one. "
                         f"Received: style_layers={style_layers!r}")
    return style_layers


# VGG19's channels per block (Simonyan & Zisserman 2014, configuration E).
VGG19_BLOCK_CHANNELS = (64, 128, 256, 512, 512)


def feature_shape(layer: str, height, width) -> tuple:
    """(h, w, C) of a VGG19 conv layer's features for a height x width image: each
    earlier block's 2x2 pooling halves the size (rounding down); None stays None."""
    block = int(layer[len("block")])
    shrink = 2 ** (block - 1)
    h, w = (None if d is None else d // shrink for d in (height, width))
    return (h, w, VGG19_BLOCK_CHANNELS[block - 1])


def min_image_size(content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS) -> int:
    """The smallest height/width keeping one position at the deepest layer used."""
    deepest = max(int(n[len("block")]) for n in (content_layer, *style_layers))
    return 2 ** (deepest - 1)


@register_model(family="style_transfer", task="style_transfer", reference=_PAPER,
                search_space=None, learning_rate=LEARNING_RATE, input_normalization="caffe")
def style_transfer(input_shape=(None, None, 3), content_layer=CONTENT_LAYER,
                   style_layers=STYLE_LAYERS, pooling="max", weights=None,
                   name="style_transfer"):
    """VGG19 features for neural style transfer: content features and style Gram matrices.

    Stylizing optimises an image's pixels against these outputs
    (`zoo.tasks.style.StyleTransfer`); the network itself is never trained, so `zoo train`
    and `zoo tune` do not apply: there is no dataset, and nothing sensible to
    search (the loss weights define the objective; lower weights only mean a
    lower loss), hence `search_space=None`.

    Args:
        input_shape: (height, width, 3) in the "caffe" convention (BGR, ImageNet
            means subtracted, as `pipelines.layers.CaffeNormalization` makes it from
            RGB in [0, 255]); None for any size (the default: content and style
            images differ in size).
        content_layer: The VGG19 conv layer whose features carry content.
        style_layers: VGG19 conv layers whose Gram matrices carry style.
        pooling: "max" (VGG19 as trained) or "avg" (the paper's choice:
            "slightly more appealing results").
        weights: None (random), "imagenet" (the keras.applications notop
            file, local or in the Keras cache) or a local weights file.
        name: Model name.

    Returns:
        A `keras.Model`: image -> {"content": (B, h, w, C), "gram_<layer>":
        (B, C_l, C_l)}.

    Example:
        >>> model = style_transfer()
        >>> features = model(keras.ops.zeros((1, 64, 64, 3)))
        >>> tuple(features["gram_block1_conv1"].shape), tuple(features["content"].shape)
        ((1, 64, 64), (1, 4, 4, 512))
    """
    from zoo.models.vgg import vgg19

    style_layers = _check_layers(content_layer, style_layers)
    check_choice("pooling", pooling, ("max", "avg"))
    shape = tuple(input_shape) if input_shape is not None else ()
    if len(shape) != 3 or shape[2] != 3 or any(
            d is not None and (not isinstance(d, int) or d < 1) for d in shape[:2]):
        raise ValueError(f"`input_shape` must be (height, width, 3), height and width ints or "
                         f"None. Received: input_shape={input_shape!r}")
    smallest = min_image_size(content_layer, style_layers)
    if any(d is not None and d < smallest for d in shape[:2]):
        raise ValueError(f"These layers need images of at least {smallest}x{smallest} pixels. "
                         f"Received: input_shape={shape}")
    # VGG19 at a fixed size only holds the weights: its convolutions apply to any size.
    vgg = vgg19(input_shape=(32, 32, 3), include_top=False, weights=weights)

    image = keras.Input(shape=shape, name="image")  # BGR, ImageNet means subtracted
    x = image
    wanted = {content_layer, *style_layers}
    outputs = {}
    for layer in vgg.layers[1:]:
        if not wanted:
            break  # nothing deeper is used
        if layer.name.endswith("_pool") and pooling == "avg":
            x = keras.layers.AveragePooling2D(2, strides=2, name=layer.name)(x)
        else:
            x = layer(x)
        if layer.name == content_layer:
            outputs["content"] = x  # (B, h, w, C)
        if layer.name in style_layers:
            outputs[f"gram_{layer.name}"] = GramMatrix(name=f"gram_{layer.name}")(x)  # (B, C, C)
        wanted.discard(layer.name)
    # Style layers in the caller's order, then the content features.
    ordered = {f"gram_{n}": outputs[f"gram_{n}"] for n in style_layers}
    ordered["content"] = outputs["content"]
    return keras.Model(image, ordered, name=name)
