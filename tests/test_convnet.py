"""The simple ConvNet: layout switches, size checks, keras.applications-style heads."""

import keras
import pytest

import zoo


def test_blocks_double_the_filters_and_halve_the_size():
    model = zoo.build("convnet", blocks=3, filters=16, dense_units=64)
    shapes = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shapes["convnet_block1_pool"] == (14, 14, 16)
    assert shapes["convnet_block2_pool"] == (7, 7, 32)
    assert shapes["convnet_block3_pool"] == (3, 3, 64)
    assert shapes["convnet_dense"] == (64,)
    # conv 3x3: (9*1+1)*16 + (9*16+1)*32 + (9*32+1)*64; dense 576*64+64; out 64*10+10
    assert model.count_params() == 160 + 4_640 + 18_496 + 36_928 + 650


def test_switches_change_the_layers():
    model = zoo.build("convnet", block_pooling="average", padding="valid", kernel_size=5,
                      dropout_rate=0.25)
    assert isinstance(model.get_layer("convnet_block1_pool"), keras.layers.AveragePooling2D)
    assert model.get_layer("convnet_block1_conv").output.shape[1:] == (24, 24, 32)
    assert model.get_layer("convnet_dense_dropout").rate == 0.25


def test_headless_models_follow_keras_applications_pooling():
    assert zoo.build("convnet", include_top=False).output_shape == (None, 7, 7, 64)
    assert zoo.build("convnet", include_top=False, pooling="avg").output_shape == (None, 64)
    assert zoo.build("convnet", include_top=False, pooling="max").output_shape == (None, 64)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError) as info:
        zoo.build("convnet", input_shape=(8, 8, 1), blocks=3, padding="valid")
    assert str(info.value) == (
        "convnet with blocks=3, kernel_size=3, padding='valid' needs inputs of at least "
        "22x22 pixels. Received: input_shape=(8, 8, 1)"
    )
    assert zoo.build("convnet", input_shape=(22, 22, 1), blocks=3, padding="valid").output_shape == (None, 10)
    with pytest.raises(ValueError, match=r"`block_pooling` must be one of 'max', 'average'\. Received: block_pooling='min'"):
        zoo.build("convnet", block_pooling="min")
