"""Transformer: positional encoding formula, causality, norm placement, errors."""

import math

import keras
import numpy as np
import pytest

import zoo
from zoo.models.transformer import SinusoidalPositionalEncoding


def test_positional_encoding_matches_the_formula():
    length, depth = 7, 6
    table = np.asarray(SinusoidalPositionalEncoding().encoding(length, depth))
    for pos in range(length):
        for i in range(depth // 2):
            angle = pos / 10000 ** (2 * i / depth)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    # The layer adds the table to its input, for any length.
    x = np.ones((2, 3, depth), "float32")
    np.testing.assert_allclose(np.asarray(SinusoidalPositionalEncoding()(x)),
                               np.broadcast_to(1 + table[None, :3], x.shape), atol=1e-6)


@pytest.mark.parametrize("norm_first", [True, False])
def test_changing_a_future_token_leaves_earlier_outputs_unchanged(norm_first):
    keras.utils.set_random_seed(0)
    model = zoo.build("transformer_lm", vocab_size=20, d_model=16, heads=2, layers=2,
                      norm_first=norm_first, dropout_rate=0.0)
    ids = np.random.default_rng(0).integers(0, 20, size=(1, 10)).astype("int32")
    changed = ids.copy()
    changed[0, 6] = (ids[0, 6] + 1) % 20
    a, b = np.asarray(model(ids)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :6], b[:, :6], atol=1e-6)  # positions before 6: same
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-4  # from 6 on: the change is seen


def test_pre_norm_adds_a_final_norm_and_ties_the_output_by_default():
    pre = zoo.build("transformer_lm", vocab_size=30, d_model=16, heads=2, layers=1)
    post = zoo.build("transformer_lm", vocab_size=30, d_model=16, heads=2, layers=1,
                     norm_first=False, tie_weights=False)
    assert "transformer_lm_final_norm" in [l.name for l in pre.layers]
    assert "transformer_lm_final_norm" not in [l.name for l in post.layers]
    # Untied adds the 16 x 30 output matrix; the final norm adds 2 x 16.
    assert post.count_params() - pre.count_params() == 16 * 30 - 2 * 16


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match=r"^`heads` must divide `d_model`\. "
                                         r"Received: d_model=30, heads=4$"):
        zoo.build("transformer_lm", d_model=30, heads=4)


SEQ2SEQ_SMALL = {"transformer": {"d_model": 16, "heads": 2, "layers": 1, "dropout_rate": 0.0},
                 "lstm_seq2seq": {"embedding_dim": 8, "units": 16, "layers": 2}}


@pytest.mark.parametrize("name", SEQ2SEQ_SMALL)
def test_greedy_decoding_is_a_fixed_point_of_teacher_forcing(name):
    from zoo.models.transformer import greedy_decoder

    keras.utils.set_random_seed(0)
    model = zoo.build(name, input_shape=(10,), **SEQ2SEQ_SMALL[name])
    source = np.random.default_rng(0).integers(2, 12, size=(4, 5)).astype("int32")
    tokens = np.asarray(greedy_decoder(model, 5)(source))
    decoder_inputs = np.concatenate([np.ones((4, 1), "int32"), tokens[:, :-1]], axis=1)
    forced = np.asarray(model(np.concatenate([source, decoder_inputs], axis=1)))
    # Fed its own outputs, the model predicts them again at every step.
    np.testing.assert_array_equal(forced.argmax(-1), tokens)


@pytest.mark.parametrize("name", SEQ2SEQ_SMALL)
def test_encoder_decoder_input_must_split_in_halves(name):
    with pytest.raises(ValueError, match=r"^`input_shape` must be \(2 \* L,\): L source then "
                                         r"L decoder-input ids\. Received: input_shape=\(9,\)$"):
        zoo.build(name, input_shape=(9,))


def test_lstm_encoder_state_starts_the_decoder_layer_by_layer():
    model = zoo.build("lstm_seq2seq", input_shape=(10,), embedding_dim=8, units=16, layers=2)
    # Embedding 12 x 8; four LSTMs, 4 (in + H + 1) H each; the output layer (H + 1) x 12.
    assert model.count_params() == 12 * 8 + 2 * 4 * (8 + 17) * 16 + 2 * 4 * (16 + 17) * 16 \
        + 17 * 12
    source = np.random.default_rng(0).integers(2, 12, size=(2, 5)).astype("int32")
    decoder_inputs = np.ones((2, 5), "int32")
    out = np.asarray(model(np.concatenate([source, decoder_inputs], axis=1)))
    changed = np.asarray(model(np.concatenate([source[:, ::-1], decoder_inputs], axis=1)))
    assert out.shape == (2, 5, 12) and not np.allclose(out[:, 0], changed[:, 0])


@pytest.mark.slow
def test_transformer_learns_to_reverse_digits(tmp_path):
    result = zoo.train("transformer", "digit_reversal", epochs=15, run_dir=tmp_path,
                       overrides={"d_model": 32, "heads": 2, "layers": 1},
                       data_options={"length": 5}, verbose=0)
    assert result.history[-1]["val_accuracy"] > 0.95
