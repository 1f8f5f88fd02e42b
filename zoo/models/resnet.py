"""ResNet (He, Zhang, Ren & Sun 2015, Deep Residual Learning for Image Recognition).

ImageNet variants: `resnet18`/`resnet34` (basic blocks) and `resnet50`/
`resnet101`/`resnet152` (bottleneck blocks). The bottleneck variants are
layer-for-layer the keras.applications ResNet v1 (stride in the first 1x1
convolution, biases in convolutions, BatchNormalization epsilon 1.001e-5), so
keras.applications weights, including "imagenet", load unchanged.

CIFAR variants (paper section 4.2): `resnet20/32/44/56/110`, depth 6n+2,
a 3x3 stem and three stages of n basic blocks with 16/32/64 filters.
`shortcut="A"` (default, as in the paper's CIFAR experiments) adds a
parameter-free shortcut that subsamples and zero-pads channels where the
shape changes; `shortcut="B"` uses 1x1 convolution projections there.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo._common import check_choice, load_weights
from zoo.models._vision import apply_head, check_classifier_args, conv_bn
from zoo.registry import register_model


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPadShortcut(keras.layers.Layer):
    """Option-A shortcut: spatial subsampling by `strides`, zero channels appended.

    (B, H, W, C) -> (B, ceil(H/s), ceil(W/s), channels), the new channels split
    evenly before and after the old ones. No parameters.
    """

    def __init__(self, channels: int, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.strides = strides

    def call(self, x):
        x = x[:, :: self.strides, :: self.strides, :]
        extra = self.channels - x.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else -(-h // s), None if w is None else -(-w // s),
                self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "strides": self.strides}


def apply_bottleneck_block(x, filters, stride=1, conv_shortcut=True, name=""):
    """1x1 (stride) -> 3x3 -> 1x1 (4*filters), keras.applications ResNet v1 order."""
    if conv_shortcut:
        shortcut = conv_bn(x, 4 * filters, 1, strides=stride, activation=None, name=f"{name}_0")
    else:
        shortcut = x
    x = conv_bn(x, filters, 1, strides=stride, name=f"{name}_1")
    x = conv_bn(x, filters, 3, padding="same", name=f"{name}_2")
    x = conv_bn(x, 4 * filters, 1, activation=None, name=f"{name}_3")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def apply_basic_block(x, filters, stride=1, shortcut="B", use_bias=True, name=""):
    """3x3 (stride) -> 3x3, with an identity, zero-pad (A) or projection (B) shortcut."""
    changes_shape = stride != 1 or x.shape[-1] != filters
    if not changes_shape:
        skip = x
    elif shortcut == "A":
        skip = ZeroPadShortcut(filters, stride, name=f"{name}_0_pad")(x)
    else:
        skip = conv_bn(x, filters, 1, strides=stride, use_bias=use_bias, activation=None,
                       name=f"{name}_0")
    x = conv_bn(x, filters, 3, strides=stride, padding="same", use_bias=use_bias, name=f"{name}_1")
    x = conv_bn(x, filters, 3, padding="same", use_bias=use_bias, activation=None, name=f"{name}_2")
    x = keras.layers.Add(name=f"{name}_add")([skip, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def imagenet_resnet(
    arch, block, stage_blocks, input_shape, classes, include_top, pooling,
    classifier_activation, weights, dropout_rate,
):
    """The ImageNet ResNet layout: 7x7/2 stem, 3x3/2 max pool, four stages, head."""
    shape = check_classifier_args(arch, input_shape, classes, include_top, pooling,
                                  classifier_activation, weights, 32, dropout_rate)
    inputs = keras.Input(shape=shape, name="image")
    # (B, 224, 224, 3) -> (B, 112, 112, 64) -> (B, 56, 56, 64)
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = conv_bn(x, 64, 7, strides=2, name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, blocks in enumerate(stage_blocks):
        filters = 64 * 2**stage
        for j in range(1, blocks + 1):
            stride = 2 if (j == 1 and stage > 0) else 1
            name = f"conv{stage + 2}_block{j}"
            if block == "bottleneck":
                x = apply_bottleneck_block(x, filters, stride, conv_shortcut=j == 1, name=name)
            else:
                x = apply_basic_block(x, filters, stride, shortcut="B", name=name)
    x = apply_head(x, include_top, pooling, classes, classifier_activation, dropout_rate)
    model = keras.Model(inputs, x, name=arch)
    return load_weights(model, weights, arch=arch, include_top=include_top)


def _imagenet_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.2], default=0.0)}


_IMAGENET = dict(
    family="resnet",
    task="image_classification",
    search_space=_imagenet_space,
    test_dataset="digits",  # ImageNet has no built-in stand-in: `zoo train` needs --data
    # The paper: SGD, momentum 0.9, lr 0.1 divided by 10 at plateaus, weight decay 1e-4.
    alternative_optimizers={"momentum": 0.1},
    test_args={"input_shape": (32, 32, 3)},
)
# resnet50/101/152 keep keras.applications' "caffe" input convention, so
# "imagenet" weights see the inputs they were trained on.
_PAPER = "He, Zhang, Ren & Sun 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385"


def _imagenet_builder(arch, block, stage_blocks, doc, **register):
    def builder(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
                classifier_activation="softmax", weights=None, dropout_rate=0.0, name=arch):
        return imagenet_resnet(name, block, stage_blocks, input_shape, classes, include_top,
                               pooling, classifier_activation, weights, dropout_rate)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = doc + _ARGS_DOC
    return register_model(reference=_PAPER, **{**_IMAGENET, **register})(builder)


_ARGS_DOC = """

    Args:
        input_shape: (height, width, channels), at least 32x32.
        classes: Number of classes (1000 for "imagenet" weights with the top).
        include_top: Global average pooling and the dense classifier.
        pooling: Without the top: None, "avg" or "max" global pooling.
        classifier_activation: "softmax" or None (logits).
        weights: None, "imagenet" (where published) or a local weights file.
        dropout_rate: Dropout before the classifier (0 in the paper).
        name: Model name.
"""

resnet18 = _imagenet_builder("resnet18", "basic", (2, 2, 2, 2),
                             "ResNet-18: basic blocks (2, 2, 2, 2), projection shortcuts.")
resnet34 = _imagenet_builder("resnet34", "basic", (3, 4, 6, 3),
                             "ResNet-34: basic blocks (3, 4, 6, 3), projection shortcuts.",
                             large=True)
resnet50 = _imagenet_builder("resnet50", "bottleneck", (3, 4, 6, 3),
                             "ResNet-50: bottleneck blocks (3, 4, 6, 3); = keras.applications.ResNet50.",
                             large=True, input_normalization="caffe")
resnet101 = _imagenet_builder("resnet101", "bottleneck", (3, 4, 23, 3),
                              "ResNet-101: bottleneck blocks (3, 4, 23, 3); = keras.applications.ResNet101.",
                              large=True, input_normalization="caffe")
resnet152 = _imagenet_builder("resnet152", "bottleneck", (3, 8, 36, 3),
                              "ResNet-152: bottleneck blocks (3, 8, 36, 3); = keras.applications.ResNet152.",
                              large=True, input_normalization="caffe")


def cifar_resnet(arch, depth, input_shape, classes, include_top, pooling,
                 classifier_activation, weights, dropout_rate, shortcut, width=1):
    """The CIFAR ResNet layout of the paper's section 4.2 (depth = 6n + 2).

    `width` multiplies the stage filters (16/32/64), as in wide residual
    networks (Zagoruyko & Komodakis 2016); the paper's networks have width 1.
    """
    shape = check_classifier_args(arch, input_shape, classes, include_top, pooling,
                                  classifier_activation, weights, 1, dropout_rate)
    check_choice("shortcut", shortcut, ("A", "B"))
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"`depth` must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...). "
            f"Received: depth={depth!r}"
        )
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be an integer >= 1. Received: width={width!r}")
    n = (depth - 2) // 6
    inputs = keras.Input(shape=shape, name="image")
    # (B, 32, 32, 3) -> (B, 32, 32, 16) -> stages at 32, 16, 8 pixels
    x = conv_bn(inputs, 16, 3, padding="same", use_bias=False, name="stem")
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for j in range(1, n + 1):
            stride = 2 if (j == 1 and stage > 0) else 1
            x = apply_basic_block(x, filters, stride, shortcut=shortcut, use_bias=False,
                                  name=f"stage{stage + 1}_block{j}")
    x = apply_head(x, include_top, pooling, classes, classifier_activation, dropout_rate)
    model = keras.Model(inputs, x, name=arch)
    return load_weights(model, weights)


def _cifar_space(hp) -> dict:
    return {
        "shortcut": hp.Choice("shortcut", ["A", "B"], default="A"),
        "width": hp.Choice("width", [1, 2], default=1),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.2], default=0.0),
    }


def _cifar_depth_space(hp) -> dict:
    return {"depth": hp.Choice("depth", [20, 32, 44, 56], default=20), **_cifar_space(hp)}


_CIFAR_ARGS_DOC = _ARGS_DOC.replace("at least 32x32", "any size").replace(
    "        name: Model name.",
    '        shortcut: "A" zero-padding identity (paper) or "B" 1x1 projections.\n'
    "        width: Stage filters multiplier (1 in the paper; >1 is a wide ResNet).\n"
    "        name: Model name.",
)
_CIFAR = dict(
    family="resnet_cifar", task="image_classification", reference=_PAPER + ", section 4.2",
    dataset="digits",
    # The paper trains with SGD (momentum 0.9, lr 0.1, weight decay 1e-4, a
    # 0.01 warm-up for ResNet-110); plain Adam is the robust default for short
    # runs, and searches may pick either.
    optimizer="adam", learning_rate=1e-3, alternative_optimizers={"momentum": 0.1},
)


def _cifar_builder(depth, large=False):
    arch = f"resnet{depth}"

    def builder(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
                classifier_activation="softmax", weights=None, dropout_rate=0.0,
                shortcut="A", width=1, name=arch):
        return cifar_resnet(name, depth, input_shape, classes, include_top, pooling,
                            classifier_activation, weights, dropout_rate, shortcut, width)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = (
        f"CIFAR ResNet-{depth}: 3 stages of {(depth - 2) // 6} basic blocks (16/32/64 filters)."
        + _CIFAR_ARGS_DOC
    )
    return register_model(search_space=_cifar_space, large=large, **_CIFAR)(builder)


resnet20 = _cifar_builder(20)
resnet32 = _cifar_builder(32, large=True)
# The deeper CIFAR variants repeat resnet20's blocks; the harness trains and
# exports them in the slow suite only.
resnet44 = _cifar_builder(44, large=True)
resnet56 = _cifar_builder(56, large=True)
resnet110 = _cifar_builder(110, large=True)


@register_model(search_space=_cifar_depth_space, test_args={"depth": 8}, **_CIFAR)
def resnet_cifar(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, dropout_rate=0.0,
                 shortcut="A", width=1, depth=20, name="resnet_cifar"):
    """CIFAR ResNet of any depth 6n + 2 (resnet20 ... resnet110 are its named depths).

    Registered so that a search can choose the depth; `depth` is the one
    argument added to those of resnet20.
    """
    return cifar_resnet(name, depth, input_shape, classes, include_top, pooling,
                        classifier_activation, weights, dropout_rate, shortcut, width)
