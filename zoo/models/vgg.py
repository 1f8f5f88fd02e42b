"""VGG (Simonyan & Zisserman 2014, Very Deep Convolutional Networks for
Large-Scale Image Recognition), configurations D (`vgg16`) and E (`vgg19`).

Layer for layer the keras.applications VGG16/VGG19, so their weights,
including "imagenet", load unchanged. The convolutional blocks are also the
feature extractor neural style transfer uses (`include_top=False`).
"""

from __future__ import annotations

import keras

from zoo._common import load_weights
from zoo.models._vision import apply_global_pooling, check_classifier_args
from zoo.registry import register_model

_PAPER = ("Simonyan & Zisserman 2014, Very Deep Convolutional Networks for Large-Scale "
          "Image Recognition, arXiv:1409.1556")


def vgg(arch, convs_per_block, input_shape, classes, include_top, pooling,
        classifier_activation, weights, dropout_rate):
    """Five blocks of 3x3 convolutions (64..512 filters) and 2x2 max pooling, then
    fc1/fc2 of 4096 units and the classifier."""
    shape = check_classifier_args(arch, input_shape, classes, include_top, pooling,
                                  classifier_activation, weights, 32, dropout_rate)
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for b, (convs, filters) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), 1):
        for c in range(1, convs + 1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    name=f"block{b}_conv{c}")(x)
        # (B, H, W, C) -> (B, H/2, W/2, C)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name="fc1_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name="fc2_dropout")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = apply_global_pooling(x, pooling, prefix="")
    model = keras.Model(inputs, x, name=arch)
    return load_weights(model, weights, arch=arch, include_top=include_top)


def _vgg_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.5], default=0.0)}


_ARGS = """

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


def _variant(arch, convs, doc):
    def builder(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
                classifier_activation="softmax", weights=None, dropout_rate=0.0, name=arch):
        return vgg(name, convs, input_shape, classes, include_top, pooling,
                   classifier_activation, weights, dropout_rate)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = doc + _ARGS
    return register_model(
        family="vgg", task="image_classification", reference=_PAPER, search_space=_vgg_space,
        # ImageNet has no built-in stand-in: `zoo train` needs --data.
        test_dataset="digits", test_args={"input_shape": (32, 32, 3)}, large=True,
        input_normalization="caffe",
        # The paper: SGD, momentum 0.9, lr 0.01, weight decay 5e-4.
        alternative_optimizers={"momentum": 0.01},
    )(builder)


vgg16 = _variant("vgg16", (2, 2, 3, 3, 3), "VGG-16 (configuration D); = keras.applications.VGG16.")
vgg19 = _variant("vgg19", (2, 2, 4, 4, 4), "VGG-19 (configuration E); = keras.applications.VGG19.")
