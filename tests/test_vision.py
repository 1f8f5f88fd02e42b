"""Vision zoo fidelity: keras.applications parity, parameter counts, weights, sizes."""

import time

import keras
import numpy as np
import pytest

import pipelines
import zoo
from zoo.models.weights import IMAGENET, WeightsUnavailableError

APPLICATIONS = {
    "resnet50": ("ResNet50", 25_636_712),
    "resnet101": ("ResNet101", 44_707_176),
    "resnet152": ("ResNet152", 60_419_944),
    "vgg16": ("VGG16", 138_357_544),
    "vgg19": ("VGG19", 143_667_240),
}


# The deeper ResNets share resnet50's code: their parity runs in the slow suite.
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in ("resnet101", "resnet152") else n
    for n in sorted(APPLICATIONS)
])
def test_matches_keras_applications_given_the_same_weights(name):
    app_name, params = APPLICATIONS[name]
    keras.utils.set_random_seed(0)
    app = getattr(keras.applications, app_name)(weights=None)
    model = zoo.build(name)
    assert model.count_params() == app.count_params() == params
    model.set_weights(app.get_weights())
    x = np.random.default_rng(0).uniform(-120, 130, (2, 224, 224, 3)).astype("float32")
    assert np.abs(np.asarray(model(x)) - np.asarray(app(x))).max() <= 1e-5


def test_keras_applications_weight_files_load_unchanged(tmp_path):
    """An .h5 written like the keras.applications downloads loads by layer order."""
    app = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    path = tmp_path / "resnet50_notop.weights.h5"
    app.save_weights(path)
    model = zoo.build("resnet50", include_top=False, input_shape=(64, 64, 3), weights=str(path))
    x = np.random.default_rng(1).normal(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(app(x)))


@pytest.mark.parametrize("name, params", [
    ("resnet20", 271_098), ("resnet32", 466_426), ("resnet44", 661_754),
    ("resnet56", 857_082), ("resnet110", 1_736_058),
])
def test_cifar_resnets_have_the_papers_size(name, params):
    # Paper table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M parameters (option A).
    assert zoo.build(name).count_params() == params
    model = zoo.build(name, shortcut="B")
    assert model.count_params() > params  # 1x1 projections add parameters


def test_plain_cifar_network_has_the_same_layers_without_shortcuts():
    residual, plain = zoo.build("resnet20"), zoo.build("resnet20", residual=False)
    # Option A shortcuts have no parameters: the plain net has exactly the same weights.
    assert plain.count_params() == residual.count_params() == 271_098
    kinds = [type(layer).__name__ for layer in plain.layers]
    assert "Add" not in kinds and "ZeroPadShortcut" not in kinds
    assert kinds.count("Conv2D") == 19  # the stem and 2 per block: depth 20 with the classifier
    assert zoo.build("resnet_cifar", depth=8, residual=False).count_params() < plain.count_params()
    with pytest.raises(ValueError, match="Received: residual='no'"):
        zoo.build("resnet20", residual="no")


def test_option_a_shortcut_pads_channels_and_subsamples():
    from zoo.models.resnet import ZeroPadShortcut

    x = np.arange(2 * 4 * 4 * 16, dtype="float32").reshape(2, 4, 4, 16)
    y = np.asarray(ZeroPadShortcut(32, 2)(x))
    assert y.shape == (2, 2, 2, 32)
    np.testing.assert_array_equal(y[..., 8:24], x[:, ::2, ::2, :])
    assert not y[..., :8].any() and not y[..., 24:].any()


def test_resnet18_and_34_parameter_counts():
    # torchvision's 11,689,512 / 21,797,672 have no conv biases; keras-style
    # convolutions keep theirs (as keras.applications ResNet v1 does).
    assert zoo.build("resnet18").count_params() == 11_703_912
    assert zoo.build("resnet34").count_params() == 21_823_208


@pytest.mark.parametrize("name, minimum", [("resnet50", 32), ("vgg16", 32), ("resnet18", 32)])
def test_too_small_input_names_the_minimum(name, minimum):
    with pytest.raises(ValueError) as info:
        zoo.build(name, input_shape=(16, 16, 3))
    assert str(info.value) == (
        f"{name} needs inputs of at least {minimum}x{minimum} pixels. "
        "Received: input_shape=(16, 16, 3)"
    )
    assert zoo.build(name, input_shape=(minimum, minimum, 3), classes=10).output_shape == (None, 10)


def test_any_input_size_the_architecture_allows():
    assert zoo.build("resnet50", input_shape=(97, 131, 3), classes=5).output_shape == (None, 5)
    assert zoo.build("vgg16", include_top=False, input_shape=(64, 64, 3)).output_shape == (None, 2, 2, 512)
    assert zoo.build("vgg16", include_top=False, pooling="avg").output_shape == (None, 512)


def test_imagenet_offline_fails_at_once_naming_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        zoo.build("resnet50", weights="imagenet")
    assert time.monotonic() - start < 30
    entry = IMAGENET[("resnet50", True)]
    assert str(info.value) == (
        "ImageNet weights for resnet50 are not cached and storage.googleapis.com cannot be "
        f"reached. Put the file {entry.file_name} in {tmp_path / 'models'} (md5 {entry.md5}); "
        f"it is published at {entry.url}"
    )


def test_imagenet_weights_arguments_are_checked():
    with pytest.raises(ValueError, match=r"weights='imagenet' with include_top=True needs classes=1000\. Received: classes=10"):
        zoo.build("resnet50", weights="imagenet", classes=10)
    with pytest.raises(ValueError, match=r"No 'imagenet' weights for resnet18; they exist for resnet101, resnet152, resnet50, vgg16, vgg19"):
        zoo.build("resnet18", weights="imagenet")


def test_caffe_preprocessing_matches_keras_applications():
    from keras.applications.resnet import preprocess_input

    raw = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 1)).astype("uint8")
    prep = pipelines.preprocessor("digits", channels=3, normalization="caffe")
    expected = preprocess_input(np.repeat(raw.astype("float32"), 3, axis=-1))
    np.testing.assert_allclose(np.asarray(prep(raw)), expected, atol=1e-4)
    assert zoo.get_spec("resnet50").input_normalization == "caffe"
    assert zoo.get_spec("vgg16").input_normalization == "caffe"
    assert zoo.get_spec("resnet20").input_normalization == "unit"


def test_list_shows_the_resnet_family():
    assert zoo.list_models("resnet*") == [
        "resnet101", "resnet110", "resnet152", "resnet18", "resnet20", "resnet32",
        "resnet34", "resnet44", "resnet50", "resnet56", "resnet_cifar"]


def test_alexnet_is_the_single_tower_layout():
    model = zoo.build("alexnet")
    assert model.count_params() == 62_378_344
    shapes = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shapes["alexnet_conv1"] == (55, 55, 96)
    assert shapes["alexnet_pool5"] == (6, 6, 256)
    assert shapes["alexnet_flatten"] == (9216,)
    assert model.get_layer("alexnet_fc6_dropout").rate == 0.5
    with pytest.raises(ValueError, match=r"alexnet needs inputs of at least 67x67 pixels\. Received: input_shape=\(66, 66, 3\)"):
        zoo.build("alexnet", input_shape=(66, 66, 3))


def test_local_response_normalization_is_the_papers_formula():
    import tensorflow as tf
    from zoo.models.alexnet import LocalResponseNormalization

    x = np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype("float32")
    expected = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(np.asarray(LocalResponseNormalization()(x)), expected.numpy(), atol=1e-6)


def test_googlenet_inception_table_and_parameter_count():
    model = zoo.build("googlenet")
    assert model.count_params() == 6_998_552  # paper: "about 6.8M", see zoo/models/googlenet.py
    channels = {m: model.get_layer(f"googlenet_inception{m}_output").output.shape[-1]
                for m in ("3a", "3b", "4a", "4d", "4e", "5b")}
    assert channels == {"3a": 256, "3b": 480, "4a": 512, "4d": 528, "4e": 832, "5b": 1024}
    assert model.get_layer("googlenet_dropout").rate == 0.4


@pytest.mark.slow  # about 30 s: GoogLeNet is a large model
def test_googlenet_auxiliary_heads_train_and_are_not_served(tmp_path):
    from zoo.runtime.exporter import export_trained

    result = zoo.train("googlenet", "digits", epochs=1, batch_size=64, run_dir=tmp_path / "run",
                       overrides={"aux_logits": True, "input_shape": (32, 32, 3)}, verbose=0)
    assert len(result.model.outputs) == 3
    assert "val_loss" in result.history[0]
    exported = export_trained(result.model, result.spec, result.plan, base_dir=tmp_path / "sm")
    assert exported.manifest["outputs"] == {"probabilities": {"shape": [None, 10], "dtype": "float32"}}
    assert exported.manifest["verification"]["max_abs_diff"] <= 1e-5
