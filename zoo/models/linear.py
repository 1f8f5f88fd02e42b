"""Linear models: linear, logistic and softmax regression, and the perceptron.

These are the one-layer models every course starts with. Each is a single
`Dense` layer; what differs is the output nonlinearity and the loss. Inputs of
any rank are flattened first (images included), as the MLP does.
"""

from __future__ import annotations

import keras

from zoo._common import (as_shape, check_choice, check_finite_number, check_positive_int,
                          no_architecture_choices)
from zoo.layers import HeavisideStep
from zoo.registry import register_model


def _flat_features(input_shape, name: str):
    """The `features` input and, for a rank above 1 (an image, a signal), its flattening:
    one weight per input value, as the vector model on the raveled input."""
    inputs = keras.Input(shape=as_shape("input_shape", input_shape), name="features")
    if len(inputs.shape) == 2:
        return inputs, inputs
    return inputs, keras.layers.Flatten(name=f"{name}_flatten")(inputs)


@register_model(
    family="linear",
    task="regression",
    reference="Least squares (Legendre 1805, Gauss 1809); Goodfellow et al. 2016, "
    "Deep Learning, section 5.1.4",
    search_space=no_architecture_choices,
    optimizer="sgd",
    learning_rate=0.05,
    dataset="linear_1d",
)
def linear_regression(input_shape=(1,), outputs=1, name="linear_regression"):
    """Linear regression y = Wx + b, trained on the mean squared error.

    Args:
        input_shape: Feature shape, without the batch dimension (flattened inside).
        outputs: Number of regression targets.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to (batch, outputs).

    Example:
        >>> model = zoo.build("linear_regression")
        >>> model.output_shape
        (None, 1)
    """
    check_positive_int("outputs", outputs)
    inputs, x = _flat_features(input_shape, name)
    outputs_ = keras.layers.Dense(outputs, name=f"{name}_dense")(x)
    return keras.Model(inputs, outputs_, name=name)


@register_model(
    family="linear",
    task="binary_classification",
    reference="Cox 1958, The regression analysis of binary sequences; "
    "Goodfellow et al. 2016, Deep Learning, section 5.7.1",
    search_space=no_architecture_choices,
    learning_rate=0.05,
    dataset="logistic_2d",
)
def logistic_regression(input_shape=(2,), initial_scale=None, name="logistic_regression"):
    """Logistic regression p(y=1|x) = sigmoid(Wx + b), trained on cross-entropy.

    Args:
        input_shape: Feature shape, without the batch dimension (flattened inside).
        initial_scale: None for Keras' Glorot-uniform start of W; a number s starts W
            from N(0, s^2) instead. A large s (e.g. 10) saturates the sigmoid from the
            first step, the start where a squared-error loss learns slowly and
            cross-entropy does not (`zoo.train(..., loss="mse")`).
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to probabilities (batch, 1).

    Example:
        >>> model = zoo.build("logistic_regression", initial_scale=10.0)
    """
    if initial_scale is not None:
        check_finite_number("initial_scale", initial_scale)
    inputs, x = _flat_features(input_shape, name)
    start = ("glorot_uniform" if initial_scale is None
             else keras.initializers.RandomNormal(stddev=float(initial_scale)))
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=start,
                                 name=f"{name}_dense")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model(
    family="linear",
    task="classification",
    reference="Multinomial logistic regression; Bishop 2006, Pattern Recognition "
    "and Machine Learning, section 4.3.4",
    search_space=no_architecture_choices,
    learning_rate=0.05,
    dataset="blobs_4d3c",
)
def softmax_regression(
    input_shape=(4,), classes=3, classifier_activation="softmax", name="softmax_regression"
):
    """Softmax regression: one linear layer followed by softmax over `classes`.

    Args:
        input_shape: Feature shape, without the batch dimension (flattened inside).
        classes: Number of classes.
        classifier_activation: "softmax" for probabilities, None for logits.
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to (batch, classes).
    """
    check_positive_int("classes", classes, minimum=2)
    check_choice("classifier_activation", classifier_activation, ("softmax", None))
    inputs, x = _flat_features(input_shape, name)
    outputs = keras.layers.Dense(
        classes, activation=classifier_activation, name=f"{name}_dense"
    )(x)
    return keras.Model(inputs, outputs, name=name)


@register_model(
    family="linear",
    task="binary_classification",
    reference="Rosenblatt 1958, The perceptron: a probabilistic model for information "
    "storage and organization in the brain; Minsky & Papert 1969, Perceptrons (XOR)",
    search_space=no_architecture_choices,
    optimizer="sgd",
    learning_rate=0.5,
    loss="mse",
    metrics=("binary_accuracy",),
    dataset="gates",
    dataset_options={"gate": "and"},
    output_name="prediction",
)
def perceptron(input_shape=(2,), name="perceptron"):
    """Rosenblatt's perceptron: one linear threshold unit, y = step(w.x + b).

    The weights start at zero, as in the original learning rule. Trained with
    SGD on the squared error, the straight-through gradient of `HeavisideStep`
    makes every update exactly the perceptron rule w += lr * (y - y_hat) * x.
    It converges on linearly separable data (AND, OR, NAND) and cannot fit
    XOR (Minsky & Papert 1969).

    Args:
        input_shape: Feature shape, without the batch dimension (flattened inside).
        name: Model name.

    Returns:
        A `keras.Model` mapping (batch, *input_shape) to {0.0, 1.0} of shape (batch, 1).
    """
    inputs, x = _flat_features(input_shape, name)
    x = keras.layers.Dense(
        1, kernel_initializer="zeros", bias_initializer="zeros", name=f"{name}_dense"
    )(x)
    outputs = HeavisideStep(name=f"{name}_step")(x)
    return keras.Model(inputs, outputs, name=name)
