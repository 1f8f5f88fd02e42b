"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with
Deep Convolutional Neural Networks).

Single-tower layout: the paper splits conv2, conv4 and conv5 across two GPUs
(grouped convolutions, 60,965,224 parameters with 1000 classes); here every
convolution sees all channels of the previous layer, which gives exactly
62,378,344 parameters. Local response normalization (k=2, n=5, alpha=1e-4,
beta=0.75) follows conv1 and conv2, as in the paper.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.models._vision import ClassifierHead, load_weights
from zoo.registry import register_model

MIN_SIZE = 67  # three 3x3/2 max pools after an 11x11/4 convolution need 67 pixels


@keras.saving.register_keras_serializable(package="zoo")
class LocalResponseNormalization(keras.layers.Layer):
    """b = a / (k + alpha * sum of a^2 over `depth` neighbouring channels)^beta.

    The paper's section 3.3 formula (the sum is not divided by `depth`).
    """

    def __init__(self, depth: int = 5, k: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth, self.k, self.alpha, self.beta = depth, k, alpha, beta

    def call(self, x):
        half = self.depth // 2
        channels = x.shape[-1]
        squared = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
        # Sum of `depth` shifted channel windows: (B, H, W, C)
        window = sum(squared[..., i:i + channels] for i in range(self.depth))
        return x / ops.power(self.k + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "k": self.k,
                "alpha": self.alpha, "beta": self.beta}


def _alexnet_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.5], default=0.5)}


@register_model(
    family="alexnet",
    task="image_classification",
    reference="Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep "
    "Convolutional Neural Networks, NeurIPS",
    search_space=_alexnet_space,
    test_dataset="digits",  # ImageNet has no built-in stand-in: `zoo train` needs --data
    # The paper: SGD, momentum 0.9, lr 0.01, weight decay 5e-4.
    alternative_optimizers={"momentum": 0.01},
    test_args={"input_shape": (67, 67, 3)},
    large=True,
)
def alexnet(
    input_shape=(227, 227, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    weights=None,
    dropout_rate=0.5,
    name="alexnet",
):
    """AlexNet, single tower: conv 96-256-384-384-256, dense 4096-4096-classes.

    Args:
        input_shape: (height, width, channels), at least 67x67 (227 in the paper).
        classes: Number of classes.
        include_top: Flatten, fc6, fc7 and the classifier.
        pooling: Without the top: None, "avg" or "max" global pooling.
        classifier_activation: "softmax" or None (logits).
        weights: None or a local weights file.
        dropout_rate: Dropout after fc6 and fc7 (0.5 in the paper).
        name: Model name.

    Returns:
        A `keras.Model`; with defaults (batch, 227, 227, 3) -> (batch, 1000).
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    shape = head.checked_shape("alexnet", MIN_SIZE)
    inputs = keras.Input(shape=shape, name="image")
    # (B, 227, 227, 3) -> (B, 55, 55, 96) -> (B, 27, 27, 96)
    x = keras.layers.Conv2D(96, 11, strides=4, activation="relu", name=f"{name}_conv1")(inputs)
    x = LocalResponseNormalization(name=f"{name}_lrn1")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool1")(x)
    # -> (B, 27, 27, 256) -> (B, 13, 13, 256)
    x = keras.layers.Conv2D(256, 5, padding="same", activation="relu", name=f"{name}_conv2")(x)
    x = LocalResponseNormalization(name=f"{name}_lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool2")(x)
    # -> (B, 13, 13, 384) x2 -> (B, 13, 13, 256) -> (B, 6, 6, 256)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name=f"{name}_conv3")(x)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name=f"{name}_conv4")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name=f"{name}_conv5")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool5")(x)
    x = head.apply_fully_connected(x, prefix=f"{name}_", hidden=("fc6", "fc7"))
    return load_weights(keras.Model(inputs, x, name=name), weights)
