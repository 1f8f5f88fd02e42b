"""Neural style transfer (zoo.models.style_transfer, zoo.models.fast_style, zoo.tasks.style,
zoo.runtime.style): losses, optimisation, `zoo stylize`, `zoo train-style`.

All on random VGG19 weights (`weights=None`) and small images: ImageNet
weights are not on this machine, and the tests never use the network.
"""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import cli
from zoo.images import read_png, save_png
from zoo.models.style_transfer import VGG19_CONV_LAYERS, GramMatrix, gram_matrix
from zoo.tasks.style import StyleTransfer
from zoo.tasks.style import (
    VGGFeatures,
    resolve_weights,
    sample_images,
    style_loss,
    total_variation_loss,
)
from zoo.models.weights import WeightsUnavailableError


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return zoo.build("style_transfer")


def test_gram_matrix_matches_a_hand_computation():
    features = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype("float32")
    # G[b, c, d] = sum over positions of F[b, i, j, c] F[b, i, j, d], over H W = 35 positions.
    expected = np.einsum("bijc,bijd->bcd", features, features) / 35.0
    np.testing.assert_allclose(np.asarray(gram_matrix(features)), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(GramMatrix()(features)), expected, rtol=1e-5)
    # One entry written out: channels 0 and 2 of the second image.
    f = features[1].reshape(35, 3)
    assert np.isclose(expected[1, 0, 2], sum(f[k, 0] * f[k, 2] for k in range(35)) / 35.0)


def test_total_variation_matches_a_hand_computation():
    images = np.random.default_rng(1).uniform(size=(2, 4, 5, 3)).astype("float32")
    expected = 0.0  # |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]| summed, written out
    for b in range(2):
        for i in range(4):
            for j in range(5):
                for c in range(3):
                    if i + 1 < 4:
                        expected += abs(images[b, i + 1, j, c] - images[b, i, j, c])
                    if j + 1 < 5:
                        expected += abs(images[b, i, j + 1, c] - images[b, i, j, c])
    assert np.isclose(float(total_variation_loss(images)), expected, rtol=1e-5)
    assert np.isclose(float(total_variation_loss(images)),
                      float(tf.reduce_sum(tf.image.total_variation(tf.constant(images)))), rtol=1e-5)


def test_style_loss_of_an_image_with_itself_is_zero(model):
    content, style = sample_images(32)
    features = VGGFeatures(model)  # RGB [0, 255] -> the model's "caffe" input convention
    grams = features(content[None].astype("float32"))
    other = features(style[None].astype("float32"))
    targets = {k: v for k, v in grams.items() if k.startswith("gram_")}
    assert float(style_loss(grams, targets)) == 0.0
    assert float(style_loss(other, targets)) > 0.0
    # Per-layer weights: only the named layers count.
    only_first = float(style_loss(other, targets, {"block1_conv1": 1.0}))
    first = np.mean(np.square(np.asarray(other["gram_block1_conv1"] - grams["gram_block1_conv1"])))
    assert np.isclose(only_first, first, rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_content_loss_falls_during_a_short_optimisation(model, optimizer):
    content, style = sample_images(48)
    # From white noise, the content term alone (the paper's content reconstruction).
    transfer = StyleTransfer(model, content, style, style_weight=0.0, tv_weight=0.0,
                             init="noise", seed=0)
    before = float(transfer.losses()["content"])
    history = transfer.run(10, optimizer)
    after = float(transfer.losses()["content"])
    assert len(history) == 10
    assert after < 0.7 * before, f"{optimizer}: content loss {before:.3g} -> {after:.3g}"
    image = transfer.result()
    assert image.dtype == np.uint8 and image.shape == content.shape


def test_bad_layer_names_list_the_valid_ones():
    with pytest.raises(ValueError) as info:
        zoo.build("style_transfer", style_layers=("block1_conv1", "block6_conv1"))
    assert str(info.value) == (
        f"Unknown VGG19 layer(s) 'block6_conv1'. Valid layers: {', '.join(VGG19_CONV_LAYERS)}. "
        "Received: content_layer='block5_conv2', style_layers=('block1_conv1', 'block6_conv1')"
    )
    with pytest.raises(ValueError, match=r"Unknown VGG19 layer\(s\) 'conv5_2'\. Valid layers: "
                                         r"block1_conv1, block1_conv2, block2_conv1"):
        zoo.build("style_transfer", content_layer="conv5_2")


def _imagenet_message(keras_home) -> str:
    return (
        "ImageNet weights for vgg19 are not cached and storage.googleapis.com cannot be "
        "reached. Put the file vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 in "
        f"{keras_home / 'models'} (md5 253f8cb515780f3b799900260a226db6); it is published at "
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )


def test_missing_imagenet_weights_offline_fail_at_once_naming_file_and_folder(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # ZOO_OFFLINE=1 (conftest)
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_weights("imagenet")
    assert str(info.value) == _imagenet_message(tmp_path / "keras")

    content, style = sample_images(32)
    save_png(content, tmp_path / "content.png")
    save_png(style, tmp_path / "style.png")
    start = time.perf_counter()
    assert cli.main(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"),
                     "--out", str(tmp_path / "out.png")]) == 2
    assert time.perf_counter() - start < 2.0  # before any image is read or model built
    assert capsys.readouterr().err.strip() == (
        "zoo: error: " + _imagenet_message(tmp_path / "keras"))
    assert not (tmp_path / "out.png").exists()


def test_stylize_writes_a_png_of_the_content_size_and_intermediate_images(tmp_path, capsys):
    content, style = sample_images(48)  # 32x48 and 32x48
    save_png(content[:30, :44], tmp_path / "content.png")  # 30x44, under --size
    save_png(style, tmp_path / "style.jpg")  # any Pillow format
    out = tmp_path / "result.png"
    assert cli.main(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.jpg"),
                     "--out", str(out), "--steps", "4", "--every", "2", "--weights", "none",
                     "--size", "64"]) == 0
    result = read_png(out)
    assert result.shape == (30, 44, 3) and result.dtype == np.uint8
    for step in (2, 4):
        assert read_png(tmp_path / f"result_step{step:05d}.png").shape == (30, 44, 3)
    printed = capsys.readouterr().out
    assert "4 adam steps at 44x30" in printed and f"Wrote {out}" in printed


def test_the_style_claim_uses_the_imagenet_file_only_when_it_is_cached(tmp_path, monkeypatch):
    from zoo.reproduce.claims.style_transfer import cached_imagenet_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert cached_imagenet_weights() is None  # and nothing was fetched
    assert not (tmp_path / "keras").exists()
    cached = tmp_path / "keras" / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert cached_imagenet_weights() == str(cached)


def test_a_keras_applications_weights_file_loads_layer_for_layer(tmp_path):
    """The ImageNet file is keras.applications' legacy HDF5 format: write one with the same
    layout (random weights) and check the features equal keras.applications VGG19's."""
    import h5py

    reference = keras.applications.VGG19(include_top=False, weights=None,
                                         input_shape=(None, None, 3))
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:  # the published files' legacy layout, public APIs only
        f.attrs["layer_names"] = [layer.name.encode() for layer in reference.layers]
        f.attrs["backend"] = keras.backend.backend().encode()
        f.attrs["keras_version"] = keras.__version__.encode()
        for layer in reference.layers:
            group = f.create_group(layer.name)
            group.attrs["weight_names"] = [w.path.encode() for w in layer.weights]
            for w in layer.weights:
                group.create_dataset(w.path, data=keras.ops.convert_to_numpy(w))
    assert resolve_weights(str(path)) == str(path)
    model = zoo.build("style_transfer", weights=str(path))

    images = np.stack(sample_images(48)).astype("float32")  # (2, 32, 48, 3) RGB
    layers = ["block1_conv1", "block3_conv1", "block5_conv1", "block5_conv2"]
    taps = keras.Model(reference.input, [reference.get_layer(n).output for n in layers])
    expected = dict(zip(layers, taps(keras.applications.vgg19.preprocess_input(images.copy()))))
    out = VGGFeatures(model)(images)  # RGB in [0, 255], as keras.applications' preprocess_input
    for name in layers[:3]:
        np.testing.assert_allclose(np.asarray(out[f"gram_{name}"]),
                                   np.asarray(gram_matrix(expected[name])), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(out["content"]), np.asarray(expected["block5_conv2"]),
                               rtol=1e-4, atol=1e-5)


def test_fast_style_network_maps_images_to_images_of_the_same_size():
    model = zoo.build("fast_style_network", filters=4, residual_blocks=1)
    out = np.asarray(model(np.zeros((2, 20, 36, 3), "float32")))
    assert out.shape == (2, 20, 36, 3) and 0.0 <= out.min() and out.max() <= 1.0
    with pytest.raises(ValueError) as info:
        zoo.build("fast_style_network", input_shape=(30, 32, 3))
    assert str(info.value) == ("`input_shape` must be (height, width, 3) with height and width "
                               "multiples of 4 or None. Received: input_shape=(30, 32, 3)")


def test_the_up_sampling_is_nearest_neighbour_with_a_static_channel_count():
    import keras

    from zoo.layers import NearestUpsampling2x

    x = np.random.default_rng(0).random((2, 3, 5, 4)).astype("float32")
    layer = NearestUpsampling2x()
    np.testing.assert_array_equal(np.asarray(layer(x)),
                                  np.asarray(keras.layers.UpSampling2D(2)(x)))
    assert layer.compute_output_shape((None, None, None, 4)) == (None, None, None, 4)
    assert keras.Input((None, None, 4)).shape[-1] == layer(keras.Input((None, None, 4))).shape[-1]


def test_train_style_trains_exports_and_the_export_stylises_in_one_call(tmp_path, capsys):
    save_png(sample_images(32)[1], tmp_path / "style.png")
    assert cli.main(["train-style", str(tmp_path / "style.png"), "--steps", "3", "--size", "32",
                     "--crops", "8", "--batch-size", "2", "--filters", "4",
                     "--residual-blocks", "1", "--weights", "none",
                     "--preview", str(tmp_path / "preview.png"),
                     "--base-dir", str(tmp_path / "saved_models")]) == 0
    printed = capsys.readouterr().out
    assert "Losses (first -> last step): loss " in printed
    assert read_png(tmp_path / "preview.png").shape == (84, 128, 3)  # china.jpg at 128, cut to x4
    export = tmp_path / "saved_models" / "fast_style_network" / "1"
    serve = tf.saved_model.load(str(export)).signatures["serving_default"]
    image = sample_images(48)[0][None, :32]  # uint8 (1, 32, 48, 3)
    stylized = serve(image=tf.constant(image))["stylized"].numpy()
    assert stylized.shape == (1, 32, 48, 3) and stylized.dtype == np.float32
    assert 0.0 <= stylized.min() and stylized.max() <= 1.0
