"""ResNet (He, Zhang, Ren & Sun 2015, Deep Residual Learning for Image Recognition).

ImageNet variants: `resnet18`/`resnet34` (basic blocks) and `resnet50`/
`resnet101`/`resnet152` (bottleneck blocks). The bottleneck variants are
layer-for-layer the keras.applications ResNet v1 (stride in the first 1x1
convolution, biases in convolutions, BatchNormalization epsilon 1.001e-5), so
keras.applications weights, including "imagenet", load unchanged.

CIFAR variants (paper section 4.2): `resnet20/32/44/56/110`, depth 6n+2,
a 3x3 stem and three stages of n basic blocks with 16/32/64 filters. They
also take 1-D signals, `input_shape=(length, channels)`, with Conv1D layers.
`shortcut="A"` (default, as in the paper's CIFAR experiments) adds a
parameter-free shortcut that subsamples and zero-pads channels where the
shape changes; `shortcut="B"` uses 1x1 convolution projections there.
`residual=False` builds the paper's "plain" counterpart of any depth: the same
layers without shortcuts (the baseline of its Fig. 6).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from zoo._common import check_choice, check_positive_int
from zoo.models._vision import ClassifierHead, conv_bn, load_weights
from zoo.registry import register_model


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPadShortcut(keras.layers.Layer):
    """Option-A shortcut: spatial subsampling by `strides`, zero channels appended.

    (B, H, W, C) -> (B, ceil(H/s), ceil(W/s), channels), the new channels split
    evenly before and after the old ones; (B, L, C) signals likewise along L.
    No parameters.
    """

    def __init__(self, channels: int, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.strides = strides

    def call(self, x):
        spatial = len(x.shape) - 2
        x = x[(slice(None), *[slice(None, None, self.strides)] * spatial, slice(None))]
        extra = self.channels - x.shape[-1]
        return ops.pad(x, [[0, 0]] * (spatial + 1) + [[extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        b, *sizes, _ = input_shape
        s = self.strides
        return (b, *(None if d is None else -(-d // s) for d in sizes), self.channels)

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


def apply_basic_block(x, filters, stride=1, shortcut="B", use_bias=True, residual=True, name=""):
    """3x3 (stride) -> 3x3, with an identity, zero-pad (A) or projection (B) shortcut.

    `residual=False` drops the shortcut and its addition: the paper's "plain"
    counterpart, the same stacked layers without the skip (He et al., section 4.1).
    """
    changes_shape = stride != 1 or x.shape[-1] != filters
    if not residual:
        x = conv_bn(x, filters, 3, strides=stride, padding="same", use_bias=use_bias,
                    name=f"{name}_1")
        x = conv_bn(x, filters, 3, padding="same", use_bias=use_bias, activation=None,
                    name=f"{name}_2")
        return keras.layers.Activation("relu", name=f"{name}_out")(x)
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


def imagenet_resnet(name: str, block: str, stage_blocks: tuple, head: ClassifierHead):
    """The ImageNet ResNet layout: 7x7/2 stem, 3x3/2 max pool, four stages, head."""
    shape = head.checked_shape(name, 32)
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
            block_name = f"conv{stage + 2}_block{j}"
            if block == "bottleneck":
                x = apply_bottleneck_block(x, filters, stride, conv_shortcut=j == 1,
                                           name=block_name)
            else:
                x = apply_basic_block(x, filters, stride, shortcut="B", name=block_name)
    model = keras.Model(inputs, head.apply(x), name=name)
    return load_weights(model, head.weights, arch=name, include_top=head.include_top)


def _imagenet_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.2], default=0.0)}


_PAPER = "He, Zhang, Ren & Sun 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385"
_IMAGENET = dict(
    family="resnet",
    task="image_classification",
    reference=_PAPER,
    search_space=_imagenet_space,
    test_dataset="digits",  # ImageNet has no built-in stand-in: `zoo train` needs --data
    # The paper: SGD, momentum 0.9, lr 0.1 divided by 10 at plateaus, weight decay 1e-4.
    alternative_optimizers={"momentum": 0.1},
    test_args={"input_shape": (32, 32, 3)},
)
# resnet50/101/152 keep keras.applications' "caffe" input convention, so
# "imagenet" weights see the inputs they were trained on.
_CAFFE = dict(large=True, input_normalization="caffe")


@register_model(**_IMAGENET)
def resnet18(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0, name="resnet18"):
    """ResNet-18: basic blocks (2, 2, 2, 2), projection shortcuts.

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
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return imagenet_resnet(name, "basic", (2, 2, 2, 2), head)


@register_model(**_IMAGENET, large=True)
def resnet34(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0, name="resnet34"):
    """ResNet-34: basic blocks (3, 4, 6, 3), projection shortcuts.

    Args: as `resnet18`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return imagenet_resnet(name, "basic", (3, 4, 6, 3), head)


@register_model(**_IMAGENET, **_CAFFE)
def resnet50(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0, name="resnet50"):
    """ResNet-50: bottleneck blocks (3, 4, 6, 3); = keras.applications.ResNet50.

    Args: as `resnet18`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return imagenet_resnet(name, "bottleneck", (3, 4, 6, 3), head)


@register_model(**_IMAGENET, **_CAFFE)
def resnet101(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, dropout_rate=0.0, name="resnet101"):
    """ResNet-101: bottleneck blocks (3, 4, 23, 3); = keras.applications.ResNet101.

    Args: as `resnet18`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return imagenet_resnet(name, "bottleneck", (3, 4, 23, 3), head)


@register_model(**_IMAGENET, **_CAFFE)
def resnet152(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, dropout_rate=0.0, name="resnet152"):
    """ResNet-152: bottleneck blocks (3, 8, 36, 3); = keras.applications.ResNet152.

    Args: as `resnet18`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return imagenet_resnet(name, "bottleneck", (3, 8, 36, 3), head)


@dataclasses.dataclass(frozen=True)
class CifarStages:
    """The three stages of a CIFAR ResNet, grouped: the builders take each field as an
    argument of its own (`zoo.build("resnet20", shortcut="B")`).

    Attributes:
        shortcut: "A" zero-padding identity (paper) or "B" 1x1 projections.
        width: Stage filters multiplier (1 in the paper; >1 is a wide ResNet,
            Zagoruyko & Komodakis 2016).
        residual: True (a ResNet); False is the paper's "plain" network of the same
            depth and layers, without shortcuts (its Fig. 6 baseline; `shortcut`
            then has no effect).
    """

    shortcut: str = "A"
    width: int = 1
    residual: bool = True


@dataclasses.dataclass(frozen=True)
class CifarDepthStages(CifarStages):
    """`CifarStages` with the depth, 6n + 2 (what `resnet_cifar` lets a search choose)."""

    depth: int = 20


def cifar_resnet(name: str, depth: int, head: ClassifierHead, stages: CifarStages):
    """The CIFAR ResNet layout of the paper's section 4.2 (depth = 6n + 2).

    `stages.width` multiplies the stage filters (16/32/64), as in wide residual
    networks (Zagoruyko & Komodakis 2016); the paper's networks have width 1.
    `stages.residual=False` builds the plain network of the same depth (no shortcuts).
    """
    shortcut, width, residual = stages.shortcut, stages.width, stages.residual
    shape = head.checked_shape(name, 1, signals=True)
    check_choice("shortcut", shortcut, ("A", "B"))
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"`depth` must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...). "
            f"Received: depth={depth!r}"
        )
    check_positive_int("width", width)
    if not isinstance(residual, bool):
        raise ValueError(f"`residual` must be True or False. Received: residual={residual!r}")
    n = (depth - 2) // 6
    inputs = keras.Input(shape=shape, name="image")
    # (B, 32, 32, 3) -> (B, 32, 32, 16) -> stages at 32, 16, 8 pixels;
    # a (B, L, C) signal takes the same layers in 1-D: stages at L, L/2, L/4 steps.
    x = conv_bn(inputs, 16, 3, padding="same", use_bias=False, name="stem")
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for j in range(1, n + 1):
            stride = 2 if (j == 1 and stage > 0) else 1
            x = apply_basic_block(x, filters, stride, shortcut=shortcut, use_bias=False,
                                  residual=residual, name=f"stage{stage + 1}_block{j}")
    model = keras.Model(inputs, head.apply(x), name=name)
    return load_weights(model, head.weights)


def _cifar_space(hp) -> dict:
    return {
        "shortcut": hp.Choice("shortcut", ["A", "B"], default="A"),
        "width": hp.Choice("width", [1, 2], default=1),
        "dropout_rate": hp.Choice("dropout_rate", [0.0, 0.2], default=0.0),
    }


def _cifar_depth_space(hp) -> dict:
    return {"depth": hp.Choice("depth", [20, 32, 44, 56], default=20), **_cifar_space(hp)}


_CIFAR = dict(
    family="resnet_cifar", task="image_classification", reference=_PAPER + ", section 4.2",
    dataset="digits",
    # The paper trains with SGD (momentum 0.9, lr 0.1, weight decay 1e-4, a
    # 0.01 warm-up for ResNet-110); plain Adam is the robust default for short
    # runs, and searches may pick either.
    optimizer="adam", learning_rate=1e-3, alternative_optimizers={"momentum": 0.1},
    search_space=_cifar_space,
)


@register_model(**_CIFAR)
def resnet20(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0,
             stages=CifarStages(), name="resnet20"):
    """CIFAR ResNet-20: 3 stages of 3 basic blocks (16/32/64 filters).

    Args:
        input_shape: (height, width, channels), any size, or (length, channels)
            for a 1-D signal (the same network with 1-D convolutions).
        classes: Number of classes.
        include_top: Global average pooling and the dense classifier.
        pooling: Without the top: None, "avg" or "max" global pooling.
        classifier_activation: "softmax" or None (logits).
        weights: None or a local weights file.
        dropout_rate: Dropout before the classifier (0 in the paper).
        stages: The residual stages (`CifarStages`: shortcut, width, residual), each
            also an argument of `zoo.build`: shortcut "A" zero-padding identity (paper)
            or "B" 1x1 projections; width multiplies the stage filters (1 in the paper;
            >1 is a wide ResNet); residual=False removes the shortcuts (the paper's
            plain network, e.g. `zoo.build("resnet56", residual=False)`).
        name: Model name.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, 20, head, stages)


@register_model(**_CIFAR, large=True)
def resnet32(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0,
             stages=CifarStages(), name="resnet32"):
    """CIFAR ResNet-32: 3 stages of 5 basic blocks (16/32/64 filters).

    Args: as `resnet20`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, 32, head, stages)


# The deeper CIFAR variants repeat resnet20's blocks; the harness trains and
# exports them in the slow suite only.
@register_model(**_CIFAR, large=True)
def resnet44(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0,
             stages=CifarStages(), name="resnet44"):
    """CIFAR ResNet-44: 3 stages of 7 basic blocks (16/32/64 filters).

    Args: as `resnet20`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, 44, head, stages)


@register_model(**_CIFAR, large=True)
def resnet56(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
             classifier_activation="softmax", weights=None, dropout_rate=0.0,
             stages=CifarStages(), name="resnet56"):
    """CIFAR ResNet-56: 3 stages of 9 basic blocks (16/32/64 filters).

    Args: as `resnet20`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, 56, head, stages)


@register_model(**_CIFAR, large=True)
def resnet110(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, dropout_rate=0.0,
              stages=CifarStages(), name="resnet110"):
    """CIFAR ResNet-110: 3 stages of 18 basic blocks (16/32/64 filters).

    Args: as `resnet20`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, 110, head, stages)


@register_model(**{**_CIFAR, "search_space": _cifar_depth_space}, test_args={"depth": 8})
def resnet_cifar(input_shape=(32, 32, 3), classes=10, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, dropout_rate=0.0,
                 stages=CifarDepthStages(), name="resnet_cifar"):
    """CIFAR ResNet of any depth 6n + 2 (resnet20 ... resnet110 are its named depths).

    Registered so that a search can choose the depth; `depth` (in `stages`,
    a `CifarDepthStages`) is the one argument added to those of resnet20.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return cifar_resnet(name, stages.depth, head, stages)
