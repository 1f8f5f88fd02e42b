"""GoogLeNet / Inception v1 (Szegedy et al. 2014, Going Deeper with Convolutions).

Inception modules with the 1x1 reductions of the paper's table 1, local
response normalization after the stem's pool1 and conv2 (as in the paper's
figure 3), 7x7 average pooling, dropout 0.4 and a linear classifier. With
`aux_logits=True` the two auxiliary classifiers on 4a and 4d (5x5/3 average
pool, 1x1 conv 128, fc 1024, dropout 0.7, classifier) are extra outputs for
training; `zoo.train` weights their losses 0.3, and exports serve the main
output only.

Parameters with 1000 classes: 6,998,552 without the auxiliary heads
(6,990,272 weights and 8,280 biases). The paper's "about 6.8M" is the sum of
its table 1's rounded per-layer figures (6,797.7K), which undercount some
rows: the exact weights of inception 3a are 163,328 where the table lists
159K, and of conv1 9,408 where it lists 2.7K.
"""

from __future__ import annotations

import keras

from zoo.models._vision import ClassifierHead, load_weights
from zoo.models.alexnet import LocalResponseNormalization
from zoo.registry import register_model

# name: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), paper table 1
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
MIN_SIZE = 32  # five stride-2 stages: the 7x7 average pool adapts to what is left


def _conv(x, filters, size, name, strides=1):
    return keras.layers.Conv2D(filters, size, strides=strides, padding="same",
                               activation="relu", name=name)(x)


def apply_inception(x, spec, name):
    """Four parallel branches concatenated on channels: (B, H, W, sum of outputs)."""
    n1, r3, n3, r5, n5, proj = spec
    b1 = _conv(x, n1, 1, f"{name}_1x1")
    b3 = _conv(_conv(x, r3, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3")
    b5 = _conv(_conv(x, r5, 1, f"{name}_5x5_reduce"), n5, 5, f"{name}_5x5")
    bp = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(bp, proj, 1, f"{name}_pool_proj")
    return keras.layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])


def apply_aux_head(x, classes, classifier_activation, name):
    """Auxiliary classifier of the paper's section 5 (on 4a and 4d)."""
    x = keras.layers.AveragePooling2D(5, strides=3, padding="same", name=f"{name}_pool")(x)
    x = _conv(x, 128, 1, f"{name}_conv")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def _googlenet_space(hp) -> dict:
    return {"dropout_rate": hp.Choice("dropout_rate", [0.0, 0.4], default=0.4)}


@register_model(
    family="googlenet",
    task="image_classification",
    reference="Szegedy et al. 2014, Going Deeper with Convolutions, arXiv:1409.4842",
    search_space=_googlenet_space,
    test_dataset="digits",  # ImageNet has no built-in stand-in: `zoo train` needs --data
    # The paper: asynchronous SGD, momentum 0.9, lr decreased 4% every 8 epochs.
    alternative_optimizers={"momentum": 0.01},
    test_args={"input_shape": (32, 32, 3)},
    large=True,
)
def googlenet(
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    weights=None,
    dropout_rate=0.4,
    aux_logits=False,
    name="googlenet",
):
    """GoogLeNet (Inception v1).

    Args:
        input_shape: (height, width, channels), at least 32x32.
        classes: Number of classes.
        include_top: Global average pooling, dropout and the classifier.
        pooling: Without the top: None, "avg" or "max" global pooling.
        classifier_activation: "softmax" or None (logits).
        weights: None or a local weights file.
        dropout_rate: Dropout before the classifier (0.4 in the paper).
        aux_logits: Add the two auxiliary classifiers as extra outputs
            (main, aux1, aux2); needs `include_top`.
        name: Model name.

    Returns:
        A `keras.Model`: (batch, 224, 224, 3) -> (batch, classes), or three
        such outputs with `aux_logits`.
    """
    head = ClassifierHead(input_shape, classes, include_top, pooling, classifier_activation,
                          weights, dropout_rate)
    shape = head.checked_shape("googlenet", MIN_SIZE)
    if aux_logits not in (True, False):
        raise ValueError(f"`aux_logits` must be True or False. Received: aux_logits={aux_logits!r}")
    if aux_logits and not include_top:
        raise ValueError("`aux_logits=True` needs `include_top=True`.")
    inputs = keras.Input(shape=shape, name="image")
    # (B, 224, 224, 3) -> (B, 112, 112, 64) -> (B, 56, 56, 64)
    x = _conv(inputs, 64, 7, f"{name}_conv1", strides=2)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool1")(x)
    x = LocalResponseNormalization(name=f"{name}_lrn1")(x)
    # -> (B, 56, 56, 192) -> (B, 28, 28, 192)
    x = _conv(x, 64, 1, f"{name}_conv2_reduce")
    x = _conv(x, 192, 3, f"{name}_conv2")
    x = LocalResponseNormalization(name=f"{name}_lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool2")(x)
    aux = []
    for module in INCEPTION:
        if module in ("4a", "5a"):  # (B, 28, 28, 480) -> 14x14; (B, 14, 14, 832) -> 7x7
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same",
                                          name=f"{name}_pool{module[0]}")(x)
        x = apply_inception(x, INCEPTION[module], f"{name}_inception{module}")
        if aux_logits and module in ("4a", "4d"):
            aux.append(apply_aux_head(x, classes, classifier_activation,
                                      f"{name}_aux{len(aux) + 1}"))
    x = head.apply(x, prefix=f"{name}_")
    outputs = [x, *aux] if aux else x
    return load_weights(keras.Model(inputs, outputs, name=name), weights)
