"""VGG (Simonyan & Zisserman 2014, Very Deep Convolutional Networks for
Large-Scale Image Recognition), configurations D (`vgg16`) and E (`vgg19`).

Layer for layer the keras.applications VGG16/VGG19, so their weights,
including "imagenet", load unchanged. The convolutional blocks are also the
feature extractor neural style transfer uses (`include_top=False`).
"""

from __future__ import annotations

import keras

from zoo.models._vision import ClassifierHead, load_weights
from zoo.registry import register_model

_PAPER = ("Simonyan & Zisserman 2014, Very Deep Convolutional Networks for Large-Scale "
          "Image Recognition, arXiv:1409.1556")


def vgg(name: str, convs_per_block: tuple, head: ClassifierHead):
    """Five blocks of 3x3 convolutions (64..512 filters) and 2x2 max pooling, then
    fc1/fc2 of 4096 units and the classifier."""
    shape = head.checked_shape(name, 32)
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for b, (convs, filters) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), 1):
        for c in range(1, convs + 1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    name=f"block{b}_conv{c}")(x)
        # (B, H, W, C) -> (B, H/2, W/2, C)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    x = head.apply_fully_connected(x, prefix="", hidden=("fc1", "fc2"))
    model = keras.Model(inputs, x, name=name)
    return load_weights(model, head.weights, arch=name, include_top=head.include_top)


def _vgg_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.5], default=0.0)}


_VGG = dict(
    family="vgg", task="image_classification", reference=_PAPER, search_space=_vgg_space,
    # ImageNet has no built-in stand-in: `zoo train` needs --data.
    test_dataset="digits", test_args={"input_shape": (32, 32, 3)}, large=True,
    input_normalization="caffe",
    # The paper: SGD, momentum 0.9, lr 0.01, weight decay 5e-4.
    alternative_optimizers={"momentum": 0.01},
)


@register_model(**_VGG)
def vgg16(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
          classifier_activation="softmax", weights=None, dropout_rate=0.0, name="vgg16"):
    """VGG-16 (configuration D); = keras.applications.VGG16.

    Args:
        input_shape: (height, width, channels), at least 32x32. With the top,
            the flattened size (and so fc1) depends on it.
        classes: Number of classes (1000 for "imagenet" weights with the top).
        include_top: Flatten, fc1, fc2 and the classifier.
        pooling: Without the top: None, "avg" or "max" global pooling.
        classifier_activation: "softmax" or None (logits).
        weights: None, "imagenet" or a local weights file.
        dropout_rate: Dropout after fc1 and fc2 (the paper trains with 0.5;
            keras.applications has none, hence the default 0).
        name: Model name.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return vgg(name, (2, 2, 3, 3, 3), head)


@register_model(**_VGG)
def vgg19(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
          classifier_activation="softmax", weights=None, dropout_rate=0.0, name="vgg19"):
    """VGG-19 (configuration E); = keras.applications.VGG19.

    Args: as `vgg16`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    return vgg(name, (2, 2, 4, 4, 4), head)
