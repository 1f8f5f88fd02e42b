"""Input ranks: 1-D signals for the convolutional classifiers, images for the vector models."""

import re

import keras
import numpy as np
import pytest

import pipelines
import zoo


def test_signals_1d_is_a_balanced_deterministic_float_dataset():
    info = pipelines.get_info("signals_1d")
    assert (info.feature_shape, info.feature_dtype, info.num_classes) == ((64, 1), "float32", 3)
    assert info.class_names == ("sine", "square", "sawtooth") and not info.standardize
    x, y = pipelines.load_arrays("signals_1d", "train")
    again, _ = pipelines.load_arrays("signals_1d", "train")
    assert x.shape == (420, 64, 1) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(x, again)
    assert np.bincount(pipelines.load_arrays("signals_1d", "test")[1]).tolist() == [40, 40, 40]


def test_convnet_builds_its_1d_form_for_length_channels():
    model = zoo.build("convnet", input_shape=(64, 2), classes=3, filters=8, dense_units=16)
    assert isinstance(model.get_layer("convnet_block1_conv"), keras.layers.Conv1D)
    assert isinstance(model.get_layer("convnet_block1_pool"), keras.layers.MaxPooling1D)
    assert model.get_layer("convnet_block2_pool").output.shape[1:] == (16, 16)
    # conv k=3: (3*2+1)*8 + (3*8+1)*16; dense 16*16*16+16; out 16*3+3
    assert model.count_params() == 56 + 400 + 4_112 + 51
    assert model(np.zeros((2, 64, 2), "float32")).shape == (2, 3)
    headless = zoo.build("convnet", input_shape=(64, 2), include_top=False, pooling="avg",
                         block_pooling="average")
    assert isinstance(headless.get_layer("convnet_block1_pool"), keras.layers.AveragePooling1D)
    assert isinstance(headless.get_layer("convnet_avg_pool"), keras.layers.GlobalAveragePooling1D)
    assert headless.output_shape == (None, 64)


@pytest.mark.parametrize("name, args", [("resnet_cifar", {"depth": 8}),
                                        ("resnet20", {"shortcut": "B"})])
def test_cifar_resnets_build_their_1d_form(name, args, tmp_path):
    model = zoo.build(name, input_shape=(33, 2), classes=4, **args)
    assert isinstance(model.get_layer("stem_conv"), keras.layers.Conv1D)
    assert isinstance(model.get_layer("avg_pool"), keras.layers.GlobalAveragePooling1D)
    # Stages at 33, 17 and 9 steps.
    assert model.get_layer("stage3_block1_out").output.shape[1:] == (9, 64)
    x = np.random.default_rng(0).normal(size=(2, 33, 2)).astype("float32")
    assert model(x).shape == (2, 4)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def test_option_a_shortcut_subsamples_and_pads_signals():
    from zoo.models.resnet import ZeroPadShortcut

    x = np.arange(2 * 5 * 2, dtype="float32").reshape(2, 5, 2)
    y = np.asarray(ZeroPadShortcut(6, 2)(x))
    assert y.shape == (2, 3, 6)
    np.testing.assert_array_equal(y[:, :, 2:4], x[:, ::2])
    assert not y[:, :, :2].any() and not y[:, :, 4:].any()


def test_mlp_flattens_length_channels():
    model = zoo.build("mlp", input_shape=(64, 1), classes=3, depth=1, width=8)
    assert model.output_shape == (None, 3) and model.count_params() == 64 * 8 + 8 + 8 * 3 + 3
    assert model(np.zeros((2, 64, 1), "float32")).shape == (2, 3)


@pytest.mark.parametrize("name", ["convnet", "resnet_cifar", "resnet20"])
@pytest.mark.parametrize("shape", [(40,), (4, 4, 4, 1)])
def test_a_wrong_rank_names_the_accepted_shapes(name, shape):
    message = ("`input_shape` must be (height, width, channels) or (length, channels). "
               f"Received: input_shape={shape}")
    with pytest.raises(ValueError, match=re.escape(message)):
        zoo.build(name, input_shape=shape)


def test_image_only_models_name_the_image_shape_and_too_short_signals_the_minimum():
    with pytest.raises(ValueError, match=re.escape(
            "`input_shape` must be (height, width, channels). Received: input_shape=(64, 1)")):
        zoo.build("resnet18", input_shape=(64, 1))
    with pytest.raises(ValueError, match=re.escape(
            "convnet with blocks=3, kernel_size=3, padding='valid' needs inputs of at least "
            "22 steps. Received: input_shape=(21, 1)")):
        zoo.build("convnet", input_shape=(21, 1), blocks=3, padding="valid")


def test_convnet_trains_on_signals_and_exports(tmp_path):
    import tensorflow as tf

    from zoo.runtime.exporter import export_trained

    result = zoo.train("convnet", "signals_1d", epochs=4, learning_rate=1e-2,
                       overrides={"filters": 16, "kernel_size": 5, "dense_units": 32},
                       run_dir=tmp_path / "run", verbose=0)
    assert result.plan.builder_args["input_shape"] == (64, 1)
    assert isinstance(result.model.get_layer("convnet_block1_conv"), keras.layers.Conv1D)
    # Chance is 1/3; measured 0.97 after 3 epochs.
    assert result.history[-1]["val_accuracy"] >= 0.8
    export = export_trained(result.model, result.spec, result.plan, base_dir=tmp_path / "exports")
    manifest = export.manifest
    assert manifest["inputs"] == {"features": {"shape": [None, 64, 1], "dtype": "float32"}}
    assert manifest["class_names"] == ["sine", "square", "sawtooth"]
    check = manifest["verification"]  # from a fresh process
    assert check["max_abs_diff"] <= 1e-5 and check["accuracy"] >= 0.8
    x, _ = pipelines.load_arrays("signals_1d", "test")
    served = tf.saved_model.load(str(export.path)).signatures["serving_default"]
    np.testing.assert_allclose(served(features=tf.constant(x[:8]))["probabilities"].numpy(),
                               np.asarray(result.model(x[:8])), atol=1e-5)


@pytest.mark.parametrize("name, args", [("softmax_regression", {"classes": 10}),
                                        ("logistic_regression", {}),
                                        ("linear_regression", {"outputs": 2}),
                                        ("perceptron", {})])
def test_vector_models_flatten_inputs_of_any_rank(name, args):
    model = zoo.build(name, input_shape=(8, 8, 1), **args)
    flat = zoo.build(name, input_shape=(64,), **args)
    assert model.count_params() == flat.count_params()
    assert [layer.name for layer in model.layers][1] == f"{name}_flatten"
    assert len(flat.layers) == len(model.layers) - 1  # rank-1 models are unchanged
    assert model(np.zeros((2, 8, 8, 1), "float32")).shape == (2, *flat.output_shape[1:])


def test_softmax_regression_trains_on_digits_and_serves_uint8_images(tmp_path):
    import tensorflow as tf

    from zoo.runtime.exporter import export_trained

    result = zoo.train("softmax_regression", "digits", epochs=2, run_dir=tmp_path / "run",
                       verbose=0)
    assert result.model.input_shape == (None, 8, 8, 1)
    assert result.history[-1]["val_accuracy"] >= 0.8  # measured 0.94
    export = export_trained(result.model, result.spec, result.plan, base_dir=tmp_path / "exports")
    assert export.manifest["inputs"] == {"image": {"shape": [None, 8, 8, 1], "dtype": "uint8"}}
    assert export.manifest["verification"]["accuracy"] >= 0.8
    raw, _ = pipelines.load_arrays("digits", "test")
    served = tf.saved_model.load(str(export.path)).signatures["serving_default"]
    probs = served(image=tf.constant(raw[:8]))["probabilities"].numpy()
    np.testing.assert_allclose(probs, np.asarray(result.model(raw[:8] / 255.0)), atol=1e-5)


def test_the_input_shapes_table_covers_every_model_once():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    table = page.split("## Input shapes", 1)[1].split("\n\n")[2]
    listed = [name for row in table.splitlines()[2:]
              for name in re.findall(r"`(\w+)`", row.split(" | ")[0])]
    assert sorted(listed) == zoo.list_models()
