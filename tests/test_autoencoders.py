"""Autoencoders beyond the registry harness: tied weights, the sparsity penalty,
corruption in training only, encode/decode/reconstruct signatures, the
hidden-unit tiles and the 2-D code plot."""

import re

import keras
import numpy as np
import pytest

import pipelines
import zoo
from zoo.models import autoencoders as ae
from zoo.runtime.artifacts import load_autoencoder
from zoo.tasks import autoencoding
from zoo.images import read_png


@pytest.fixture(scope="module")
def digits():
    """64 test digits scaled to [0, 1], as the pipeline feeds them."""
    x, _ = pipelines.load_arrays("digits", "test")
    return x[:64].astype("float32") / 255.0


def _variables_named(model, suffix):
    return [v for v in model.trainable_variables if v.path.endswith(suffix)]


def test_tied_autoencoder_has_one_kernel_used_transposed_by_the_decoder(digits, tmp_path):
    model = zoo.build("tied_autoencoder", code_size=12)
    # One kernel, its bias and the decoder's own bias: W' is W transposed, not a copy.
    assert [v.path.split("/")[-1] for v in model.trainable_variables] == [
        "kernel", "bias", "transpose_bias"]
    layer = model.get_layer("tied_autoencoder_encoder1")
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert kernel.shape == (64, 12)
    layer.transpose_bias.assign(np.linspace(-1, 1, 64).astype("float32"))
    codes = np.random.default_rng(0).uniform(size=(5, 12)).astype("float32")
    expected = 1 / (1 + np.exp(-(codes @ kernel.T + np.linspace(-1, 1, 64))))
    np.testing.assert_allclose(np.asarray(ae.decoder(model)(codes)).reshape(5, 64), expected,
                               rtol=1e-5, atol=1e-6)
    # The gradient reaches the shared kernel through both the encoder and the decoder.
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        model(digits)
        loss = model.losses[0]
        code = ae.encoder(model)(digits)
        decoder_only = tf.reduce_sum(ae.decoder(model)(tf.stop_gradient(code)))
        encoder_only = tf.reduce_sum(code)
    assert np.abs(tape.gradient(loss, layer.kernel).numpy()).sum() > 0
    assert np.abs(tape.gradient(decoder_only, layer.kernel).numpy()).sum() > 0
    assert np.abs(tape.gradient(encoder_only, layer.kernel).numpy()).sum() > 0
    # Still one kernel after a safe-mode .keras round trip.
    model.save(tmp_path / "tied.keras")
    reloaded = load_autoencoder(tmp_path / "tied.keras")
    assert len(_variables_named(reloaded, "kernel")) == 1
    np.testing.assert_array_equal(np.asarray(reloaded(digits)), np.asarray(model(digits)))


def test_sparsity_penalty_matches_its_formula():
    rng = np.random.default_rng(1)
    activations = rng.uniform(0.01, 0.99, size=(10, 6)).astype("float32")
    rho, beta = 0.05, 3.0
    rho_hat = activations.mean(axis=0)
    by_hand = beta * np.sum(rho * np.log(rho / rho_hat)
                            + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    penalty = float(ae.kl_sparsity_penalty(activations, rho, beta))
    np.testing.assert_allclose(penalty, by_hand, rtol=1e-5)
    # Zero when every unit's mean activation is the target.
    assert float(ae.kl_sparsity_penalty(np.full((4, 3), rho, "float32"), rho, beta)) == pytest.approx(0, abs=1e-6)
    layer = ae.KLSparsity(rho, beta)
    np.testing.assert_array_equal(np.asarray(layer(activations)), activations)
    np.testing.assert_allclose(float(layer.losses[0]), by_hand, rtol=1e-5)
    assert ae.KLSparsity.from_config(layer.get_config()).get_config() == layer.get_config()


def test_sparse_autoencoder_loss_is_reconstruction_plus_sparsity_plus_weight_decay(digits):
    model = zoo.build("sparse_autoencoder", code_size=9, rho=0.1, beta=2.0, weight_decay=1e-3)
    model.compile(optimizer="sgd", loss=None)
    loss = model.evaluate(digits, digits, batch_size=len(digits), verbose=0)
    x = digits.reshape(len(digits), -1)
    h = np.asarray(ae.encoder(model)(digits))
    x_hat = np.clip(np.asarray(model(digits)).reshape(len(x), -1), 1e-7, 1 - 1e-7)
    bce = -np.mean(np.sum(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat), axis=1))
    rho_hat = h.mean(axis=0)
    kl = 2.0 * np.sum(0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat)))
    decay = 1e-3 / 2 * sum(np.sum(np.asarray(v) ** 2) for v in _variables_named(model, "kernel"))
    np.testing.assert_allclose(loss, bce + kl + decay, rtol=1e-4)


@pytest.mark.parametrize("corruption", ["mask", "gaussian"])
def test_denoising_corruption_acts_in_training_only(digits, corruption):
    model = zoo.build("denoising_autoencoder", corruption=corruption, noise_level=0.3)
    inference = np.asarray(model(digits))
    np.testing.assert_array_equal(np.asarray(model(digits, training=False)), inference)
    np.testing.assert_array_equal(np.asarray(ae.decoder(model)(ae.encoder(model)(digits))),
                                  inference)
    assert not np.allclose(np.asarray(model(digits, training=True)), inference)
    corrupted = np.asarray(model.get_layer("denoising_autoencoder_corruption")(digits, training=True))
    if corruption == "mask":  # values are kept or zeroed, about 30% of them zeroed
        kept = corrupted == digits
        assert np.all(kept | (corrupted == 0))
        assert 0.25 < np.mean(~kept[digits > 0]) < 0.35


def test_export_encode_then_decode_equals_reconstruct(tmp_path):
    import tensorflow as tf

    from zoo.runtime.exporter import export_trained
    from zoo.runtime.plan import plan_data

    spec = zoo.get_spec("conv_autoencoder")
    plan = plan_data(spec, overrides=spec.test_args)
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=tmp_path)
    assert set(result.manifest["verification"]["signatures"]) == {
        "serving_default", "encode", "decode", "reconstruct"}
    assert result.manifest["signatures"]["encode"]["outputs"] == {"code": {"shape": [None, 2, 2, 4]}}
    loaded = tf.saved_model.load(str(result.path))
    images = tf.constant(pipelines.load_arrays("digits", "test")[0][:10])  # raw uint8
    code = loaded.signatures["encode"](image=images)["code"]
    decoded = loaded.signatures["decode"](code=code)["reconstruction"].numpy()
    reconstructed = loaded.signatures["reconstruct"](image=images)["reconstruction"].numpy()
    served = loaded.signatures["serving_default"](image=images)["reconstruction"].numpy()
    np.testing.assert_allclose(decoded, reconstructed, atol=1e-6)
    np.testing.assert_array_equal(reconstructed, served)
    assert reconstructed.shape == (10, 8, 8, 1)


def test_hidden_unit_tiles_png_has_one_tile_per_unit(tmp_path):
    model = zoo.build("sparse_autoencoder", code_size=10)
    path, grid = autoencoding.save_hidden_units(model, tmp_path / "units.png", columns=4, scale=3)
    assert grid == (3, 4)
    image = read_png(path)
    assert image.shape == (3 * 3 * 9 - 3, 3 * 4 * 9 - 3)  # (rows*(8+1)-1, cols*(8+1)-1) * scale
    assert image.dtype == np.uint8 and image.max() == 255  # each tile scaled to its own range
    tiles = autoencoding.hidden_unit_images(model)
    kernel = np.asarray(model.get_layer("sparse_autoencoder_encoder1").kernel)
    np.testing.assert_array_equal(tiles[3, :, :, 0], kernel[:, 3].reshape(8, 8))
    # MNIST-sized inputs give 28x28 tiles; a convolutional autoencoder shows its kernels.
    mnist_sized = zoo.build("sparse_autoencoder", input_shape=(28, 28, 1), code_size=4)
    assert autoencoding.hidden_unit_images(mnist_sized).shape == (4, 28, 28, 1)
    assert autoencoding.hidden_unit_images(zoo.build("conv_autoencoder")).shape == (16, 3, 3, 1)
    with pytest.raises(ValueError, match=re.escape("Cannot show 6 input values as a square image")):
        autoencoding.hidden_unit_images(zoo.build("autoencoder", input_shape=(6,)))


def test_zoo_tiles_command_writes_the_grid(zoo_main, tmp_path):
    zoo.build("tied_autoencoder", code_size=6).save(tmp_path / "tied.keras")
    proc = zoo_main("tiles", "tied.keras", "--out", "units.png", "--columns", "3", "--scale", "2")
    assert "2 x 3 tiles" in proc.stdout
    assert read_png(tmp_path / "units.png").shape == (2 * 17, 2 * 26)


def test_load_autoencoder_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(
            "best.keras does not exist (has the run finished an epoch?)")):
        load_autoencoder(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(
            "x.keras does not exist; expected a run folder written by `zoo train`")):
        load_autoencoder(tmp_path / "x.keras")


def test_two_unit_codes_against_pca(tmp_path):
    result = zoo.train("autoencoder", "digits", epochs=1, overrides={"code_size": 2},
                       run_dir=tmp_path / "run", verbose=0)
    figures = autoencoding.compare_codes_with_pca(result.model, result.plan, tmp_path / "codes.png")
    assert figures["split"] == "test" and figures["examples"] == 359
    for method in ("autoencoder", "pca"):
        assert 0 < figures[method]["reconstruction_mse"] < 0.2
        assert 0.1 <= figures[method]["knn_accuracy"] <= 1
    # The run folder gives back its plan (image runs save their normalization too).
    from zoo.runtime.run import Run

    assert Run(tmp_path / "run").plan()[1].data_options == result.plan.data_options
    image = read_png(tmp_path / "codes.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    with pytest.raises(ValueError, match=re.escape("needs a 2-unit code. Received: code shape (16,)")):
        autoencoding.compare_codes_with_pca(zoo.build("autoencoder"), result.plan)


@pytest.mark.slow
def test_zoo_codes_command(zoo_main, tmp_path):
    zoo_main("train", "autoencoder", "--set", "code_size=2", "--epochs", "1")
    proc = zoo_main("codes", "runs/autoencoder-digits", "--out", "codes.png")
    assert "pca" in proc.stdout and "5-NN accuracy" in proc.stdout
    assert read_png(tmp_path / "codes.png").ndim == 3


@pytest.mark.parametrize("name, args, message", [
    ("sparse_autoencoder", {"rho": 1.5}, "`rho` (target mean activation) must be in (0, 1). Received: rho=1.5"),
    ("sparse_autoencoder", {"beta": -1}, "`beta` (sparsity weight) must be a number >= 0. Received: beta=-1"),
    ("denoising_autoencoder", {"corruption": "salt"}, "`corruption` must be one of 'mask', 'gaussian'. Received: corruption='salt'"),
    ("denoising_autoencoder", {"noise_level": 1.0}, "`noise_level` must be a float in [0, 1). Received: noise_level=1.0"),
    ("autoencoder", {"output_activation": "softmax"}, "`output_activation` must be one of 'sigmoid', 'linear'. Received: output_activation='softmax'"),
    ("autoencoder", {"units": 32}, "`units` must be a tuple of positive ints. Received: units=32"),
    ("conv_autoencoder", {"input_shape": (28, 30, 1), "filters": (8, 8, 8)}, "height and width must be divisible by 2 ** len(filters) = 8"),
])
def test_bad_arguments_name_the_value_received(name, args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        zoo.build(name, **args)


def test_helpers_refuse_models_that_are_not_autoencoders():
    with pytest.raises(ValueError, match="has no layer 'code'"):
        ae.encoder(zoo.build("lenet5"))
