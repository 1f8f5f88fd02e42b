"""Behaviour of the first family: what each classic model can and cannot learn."""

import keras
import numpy as np
import pytest

import pipelines
import zoo
from zoo.tasks import compile_model


def _fit(name, x, y, epochs, **overrides):
    """Full-batch gradient descent, `epochs` steps: the model and each step's logs, as
    `model.fit(x, y, batch_size=len(x))`'s history (without its per-epoch overhead)."""
    keras.utils.set_random_seed(0)
    spec = zoo.get_spec(name)
    model = zoo.build(name, **overrides)
    compile_model(model, spec)
    history = {}
    for _ in range(epochs):
        for key, value in model.train_on_batch(x, y, return_dict=True).items():
            history.setdefault(key, []).append(float(value))
    return model, history


def test_lenet5_has_exactly_61706_parameters():
    assert zoo.build("lenet5", classes=10).count_params() == 61_706
    # C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850.
    counts = {l.name: l.count_params() for l in zoo.build("lenet5").layers}
    assert counts["lenet5_c1_conv"] == 156
    assert counts["lenet5_c3_conv"] == 2_416
    assert counts["lenet5_c5_conv"] == 48_120
    assert counts["lenet5_f6_dense"] == 10_164
    assert counts["lenet5_predictions"] == 850


def test_lenet5_layout_and_input_checks():
    model = zoo.build("lenet5")
    shapes = {l.name: l.output.shape[1:] for l in model.layers}
    assert shapes["lenet5_c1_conv"] == (28, 28, 6)
    assert shapes["lenet5_s2_pool"] == (14, 14, 6)
    assert shapes["lenet5_c3_conv"] == (10, 10, 16)
    assert shapes["lenet5_s4_pool"] == (5, 5, 16)
    assert shapes["lenet5_c5_conv"] == (1, 1, 120)
    assert isinstance(model.get_layer("lenet5_s2_pool"), keras.layers.AveragePooling2D)
    assert model.get_layer("lenet5_c1_conv").activation.__name__ == "tanh"
    with pytest.raises(ValueError, match=r"lenet5 needs inputs of at least 32x32 pixels\. Received: input_shape=\(28, 28, 1\)"):
        zoo.build("lenet5", input_shape=(28, 28, 1))
    headless = zoo.build("lenet5", include_top=False)
    assert headless.output_shape == (None, 120)
    assert zoo.build("lenet5", input_shape=(64, 64, 3)).output_shape == (None, 10)


def test_lenet5_loads_weights_from_a_file(tmp_path):
    source = zoo.build("lenet5")
    path = tmp_path / "lenet.weights.h5"
    source.save_weights(path)
    loaded = zoo.build("lenet5", weights=str(path))
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(source(x)), np.asarray(loaded(x)), atol=0)
    with pytest.raises(ValueError, match=r"`weights` must be None or the path to a `\.weights\.h5` or `\.keras` file\. Received: weights='imagenet'"):
        zoo.build("lenet5", weights="imagenet")


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_learns_linearly_separable_gates(gate):
    x, y = pipelines.load_arrays("gates", gate=gate)
    model, history = _fit("perceptron", x, y, epochs=20)
    assert history["loss"][-1] == 0.0
    np.testing.assert_array_equal(np.asarray(model(x)), y)


def test_perceptron_cannot_fit_xor():
    x, y = pipelines.load_arrays("gates", gate="xor")
    model, history = _fit("perceptron", x, y, epochs=200)
    # At best 3 of the 4 points are right, at every epoch (Minsky & Papert 1969).
    assert min(history["loss"]) >= 0.25
    assert max(history["binary_accuracy"]) <= 0.75


def test_perceptron_update_is_the_perceptron_rule():
    model = zoo.build("perceptron")
    compile_model(model, zoo.get_spec("perceptron"))
    x = np.array([[1.0, 1.0]], "float32")
    y = np.array([[1.0]], "float32")
    model.train_on_batch(x, y)  # output 0, target 1: w += lr * (1 - 0) * x
    kernel, bias = model.get_layer("perceptron_dense").get_weights()
    lr = zoo.get_spec("perceptron").learning_rate
    # Keras MSE is mean((y - y_hat)^2): its gradient carries a factor 2.
    np.testing.assert_allclose(kernel[:, 0], [2 * lr, 2 * lr])
    np.testing.assert_allclose(bias, [2 * lr])


def test_xor_mlp_fits_xor():
    x, y = pipelines.load_arrays("gates", gate="xor")
    model, history = _fit("xor_mlp", x, y, epochs=300)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.1


def test_linear_regression_recovers_slope_and_intercept():
    x, y = pipelines.load_arrays("linear_1d")
    model, _ = _fit("linear_regression", x, y, epochs=300)
    kernel, bias = model.get_layer("linear_regression_dense").get_weights()
    assert abs(kernel[0, 0] - 1.0) < 0.1
    assert abs(bias[0] + 1.0) < 0.25


def test_logistic_and_softmax_regression_classify_their_data():
    x, y = pipelines.load_arrays("logistic_2d")
    _, history = _fit("logistic_regression", x, y, epochs=300)
    assert history["accuracy"][-1] > 0.85
    ds = pipelines.load("blobs_4d3c", batch_size=None, shuffle=False)
    x = np.stack([a.numpy() for a, _ in ds]); y = np.stack([b.numpy() for _, b in ds])
    _, history = _fit("softmax_regression", x, y, epochs=100)
    assert history["accuracy"][-1] > 0.95


def test_logistic_regression_initial_scale_saturates_the_start():
    keras.utils.set_random_seed(0)
    kernel = zoo.build("logistic_regression", input_shape=(500,), initial_scale=10.0) \
        .get_layer("logistic_regression_dense").get_weights()[0]
    assert abs(kernel.std() - 10.0) < 1.0  # N(0, 10^2), not Glorot's +-0.11
    keras.utils.set_random_seed(0)
    default = zoo.build("logistic_regression", input_shape=(500,))
    assert np.abs(default.get_layer("logistic_regression_dense").get_weights()[0]).max() < 0.2
    with pytest.raises(ValueError, match=r"`initial_scale` must be a finite number > 0. "
                                         r"Received: initial_scale=-1.0"):
        zoo.build("logistic_regression", initial_scale=-1.0)


def test_mlp_switches_shape_the_network():
    model = zoo.build("mlp", depth=3, width=16, batch_norm=True, dropout_rate=0.2, l2=1e-3)
    names = [l.name for l in model.layers]
    assert [n for n in names if n.endswith("_dense")] == [
        "mlp_hidden1_dense", "mlp_hidden2_dense", "mlp_hidden3_dense"]
    assert sum(n.endswith("_bn") for n in names) == 3
    assert sum(n.endswith("_dropout") for n in names) == 3
    assert model.get_layer("mlp_hidden1_dense").kernel_regularizer is not None
    x = np.ones((2, 8, 8, 1), "float32")
    model(x)
    assert len(model.losses) == 3  # one L2 penalty per hidden kernel
    for act in ("sigmoid", "tanh", "relu"):
        layer = zoo.build("mlp", activation=act).get_layer(f"mlp_hidden1_{act}")
        assert layer.activation.__name__ == act


def test_mlp_initializers_and_the_symmetry_of_zeros():
    for init, cls in [("xavier", keras.initializers.GlorotUniform),
                      ("he", keras.initializers.HeNormal),
                      ("random_normal", keras.initializers.RandomNormal)]:
        layer = zoo.build("mlp", initializer=init).get_layer("mlp_hidden1_dense")
        assert isinstance(layer.kernel_initializer, cls)
    model = zoo.build("mlp", initializer="zeros", width=8)
    kernel = model.get_layer("mlp_hidden1_dense").get_weights()[0]
    assert np.all(kernel == 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "gelu"}, "`activation` must be one of 'sigmoid', 'tanh', 'relu'. Received: activation='gelu'"),
    ({"depth": 0}, "`depth` must be an integer >= 1. Received: depth=0"),
    ({"dropout_rate": 1.5}, "`dropout_rate` must be a float in [0, 1). Received: dropout_rate=1.5"),
    ({"initializer": "glorot"}, "`initializer` must be one of 'zeros', 'random_normal', 'glorot_uniform', 'glorot_normal', 'xavier', 'he_normal', 'he_uniform', 'he'. Received: initializer='glorot'"),
    ({"l2": -1}, "`l2` must be a float >= 0. Received: l2=-1"),
])
def test_mlp_rejects_bad_values_showing_them(kwargs, message):
    with pytest.raises(ValueError) as info:
        zoo.build("mlp", **kwargs)
    assert str(info.value) == message
