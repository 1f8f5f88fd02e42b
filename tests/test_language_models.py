"""Language models and text pipelines: tying, vocabulary, windows, serving, generation."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import pipelines
import zoo
from pipelines import text
from pipelines.layers import TextToIds
from zoo.tasks.language_modelling import text_serving_model
from zoo.runtime.plan import plan_data


@pytest.fixture
def ptb_dir(tmp_path):
    """PTB-style files: one sentence per line, <unk> already in the text."""
    folder = tmp_path / "ptb"
    folder.mkdir()
    (folder / "ptb.train.txt").write_text(" the cat sat \n the dog <unk> \n" * 20)
    (folder / "ptb.valid.txt").write_text(" the zebra sat \n" * 10)
    (folder / "ptb.test.txt").write_text(" a cat ran \n" * 10)
    return folder


def test_weight_tying_shares_one_matrix_and_both_ends_train_it():
    untied = zoo.build("lstm_lm", vocab_size=50, embedding_dim=16, units=16, layers=1)
    tied = zoo.build("lstm_lm", vocab_size=50, embedding_dim=16, units=16, layers=1,
                     tie_weights=True)
    # The output matrix (16 x 50) is gone; its bias (50) stays.
    assert untied.count_params() - tied.count_params() == 16 * 50
    (embedding,) = [w for w in tied.trainable_weights if w.name == "embeddings"]
    x = np.zeros((2, 5), "int32")  # only token 0 as input
    y = np.full((2, 5), 7)  # only token 7 as target
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, tied(x))
    grad = tape.gradient(loss, embedding.value).numpy()
    assert np.abs(grad[0]).sum() > 0  # input end: the looked-up row
    assert np.abs(grad[7]).sum() > 0  # output end: the target's row, never an input
    assert np.abs(grad[20]).sum() > 0  # every row scores as an output


def test_tying_with_mismatched_sizes_names_both():
    with pytest.raises(ValueError) as e:
        zoo.build("lstm_lm", embedding_dim=32, units=64, tie_weights=True)
    assert str(e.value) == (
        "lstm_lm: tie_weights=True reuses the embedding matrix as the output layer, so "
        "embedding_dim must equal the last layer's units. Received: embedding_dim=32, units=64"
    )


def test_vocabulary_comes_from_the_training_split_only(ptb_dir):
    tokens = text.vocabulary(str(ptb_dir), "word")
    assert tokens[0] == "[UNK]" and set(tokens) == {
        "[UNK]", "the", "cat", "sat", "dog", "<unk>", "<eos>"}
    # Validation's "zebra" and test's "a", "ran" are unknown: id 0.
    x, y = next(iter(pipelines.load(str(ptb_dir), "test", batch_size=None, shuffle=False,
                                    level="word", seq_len=3)))
    assert [tokens[i] for i in x.numpy()] == ["[UNK]", "cat", "[UNK]"]
    assert [tokens[i] for i in y.numpy()] == ["cat", "[UNK]", "<eos>"]


def test_word_tokens_end_lines_with_eos():
    tokens = text.tokenize(tf.constant(["a b\nc", "d\n"]), "word").to_list()
    assert tokens == [[b"a", b"b", b"<eos>", b"c"], [b"d", b"<eos>"]]


def test_windows_predict_the_next_token_and_stateful_batches_are_contiguous(tmp_path):
    corpus = tmp_path / "digits.txt"
    corpus.write_text("0123456789" * 100)
    tokens = np.array(text.vocabulary(str(corpus), "char"))
    x, y = next(iter(pipelines.load(str(corpus), "train", batch_size=4, shuffle=False,
                                          seq_len=5)))
    assert "".join(tokens[x.numpy()[0]]) == "01234" and "".join(tokens[y.numpy()[0]]) == "12345"
    assert "".join(tokens[x.numpy()[1]]) == "56789"  # consecutive windows, seq_len apart

    batches = list(pipelines.load(str(corpus), "train", batch_size=3, seq_len=4,
                                  stateful=True))
    train_tokens = (len("0123456789" * 100) * 9) // 10
    rows = train_tokens // 3
    assert len(batches) == (rows - 1) // 4
    for (x0, y0), (x1, _) in zip(batches, batches[1:]):
        assert x0.shape == (3, 4)
        # Row b of the next batch continues row b of this one.
        np.testing.assert_array_equal(y0.numpy()[:, -1], x1.numpy()[:, 0])
        np.testing.assert_array_equal(x0.numpy()[:, 1:], y0.numpy()[:, :-1])
    # Row b starts where row b - 1's stream ends.
    stream = "".join(tokens[np.concatenate([b[0].numpy()[1] for b in batches])])
    assert stream.startswith(("0123456789" * 100)[rows: rows + 8])


def test_text_corpus_errors_show_what_was_received(tmp_path, ptb_dir):
    with pytest.raises(pipelines.OptionError, match=r"^Text corpora got unknown option\(s\) "
                                                    r"gate\. Accepted options: level, seq_len"):
        pipelines.load(str(ptb_dir), level="word", gate="xor")
    with pytest.raises(ValueError, match=r"^`level` must be one of 'char', 'word', 'word_lower'\. "
                                         r"Received: level='byte'$"):
        pipelines.load(str(ptb_dir), level="byte")
    with pytest.raises(pipelines.DatasetUnavailableError,
                       match=r"has no \*train\*\.txt or \*valid\*\.txt or \*test\*\.txt file"):
        pipelines.load(str(tmp_path), level="word")
    spec = zoo.get_spec("lstm_lm")
    with pytest.raises(ValueError) as e:
        plan_data(spec, str(ptb_dir), {"vocab_size": 100}, {"level": "word"})
    assert str(e.value) == (
        f"Vocabulary mismatch: lstm_lm was given vocab_size=100, but the vocabulary of "
        f"{str(ptb_dir)!r} has 7 tokens ([UNK] included). Leave vocab_size unset, or set "
        f"max_tokens=100 in the data options."
    )
    with pytest.raises(ValueError, match=r"^Model 'mlp' is not a language model; dataset "):
        plan_data(zoo.get_spec("mlp"), str(ptb_dir), None, {"level": "word"})
    with pytest.raises(ValueError, match=r"^Model 'lstm_lm' is a language model; dataset "
                                         r"'digits' is not a text corpus\.$"):
        plan_data(spec, "digits")


def test_unknown_characters_map_to_unk_in_serving():
    tokenize = TextToIds(["[UNK]", "a", "b"], "char")
    ids, lengths = tokenize(np.array(["ab€a", "b"]))
    np.testing.assert_array_equal(np.asarray(ids), [[1, 2, 0, 1], [2, 0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(lengths), [4, 1])


def test_text_serving_reads_each_text_at_its_last_token():
    keras.utils.set_random_seed(0)
    vocabulary = ["[UNK]", "a", "b", "c"]
    lm = zoo.build("gru_lm", vocab_size=4, embedding_dim=8, units=8, layers=1)
    serving = text_serving_model(lm, vocabulary, "char")
    batch = np.asarray(serving(np.array(["abcab", "ca"])))
    alone = np.asarray(lm(np.array([[1, 2, 3, 1, 2]])))[:, -1]
    short = np.asarray(lm(np.array([[3, 1]])))[:, -1]
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-6)
    np.testing.assert_allclose(batch[1], short[0], atol=1e-6)  # padding changed nothing


def test_train_generate_export_generate_give_the_same_text(tmp_path, shakespeare_dir, zoo_main):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((shakespeare_dir / "input.txt").read_text()[:20_000])
    zoo_main("train", "char_rnn", "--data", corpus, "--epochs", "1", "--set", "units=32",
            "--set", "embedding_dim=16", "--set", "layers=1", "--data-option", "seq_len=40",
            "--run-dir", "run")
    vocabulary = json.loads((tmp_path / "run" / "vocabulary.json").read_text())
    assert vocabulary[0] == "[UNK]" and "\n" in vocabulary and len(vocabulary) > 40
    args = ["--prompt", "ROMEO:", "--length", "40", "--temperature", "0.8", "--seed", "3"]
    from_run = zoo_main("generate", "run", *args).stdout
    zoo_main("export", "run", "--base-dir", "exports")
    manifest = json.loads((tmp_path / "exports" / "char_rnn" / "1" / "manifest.json").read_text())
    assert manifest["signatures"]["serving_default"]["inputs"]["text"]["dtype"] == "string"
    assert manifest["signatures"]["token_ids"]["xla"] is True
    from_export = zoo_main("generate", "exports/char_rnn/1", *args).stdout
    assert from_run == from_export
    # 40 characters sampled, never the unknown token.
    assert from_run.startswith("ROMEO:") and len(from_run) == len("ROMEO:") + 40 + 1
    assert "[UNK]" not in from_run


def test_generate_rejects_bad_settings(tmp_path):
    from zoo.runtime.generate import generate

    with pytest.raises(ValueError, match=r"^`temperature` must be > 0\. Received: temperature=0$"):
        generate(tmp_path, temperature=0)
    with pytest.raises(FileNotFoundError, match="is neither a run folder"):
        generate(tmp_path)


def test_tied_model_round_trips_and_exports_with_xla(tmp_path):
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.run import load_model

    spec = zoo.get_spec("lstm_lm")
    plan = plan_data(spec, overrides={"embedding_dim": 8, "units": 8, "layers": 1,
                                      "tie_weights": True})
    model = spec.builder(**plan.builder_args)
    model.save(tmp_path / "tied.keras")
    x = np.random.default_rng(0).integers(0, 66, size=(2, 7)).astype("int32")
    np.testing.assert_array_equal(np.asarray(model(x)),
                                  np.asarray(load_model(tmp_path / "tied.keras")(x)))
    check = export_trained(model, spec, plan, base_dir=tmp_path).manifest["verification"]
    assert check["max_abs_diff"] <= 1e-5 and check["xla_max_abs_diff"] <= 1e-4
    assert check["signatures"]["token_ids"]["xla_max_abs_diff"] <= 1e-4
    assert "xla_max_abs_diff" not in check["signatures"]["serving_default"]  # string ops


def test_stateful_training_carries_state_and_exports_stateless(tmp_path, shakespeare_dir):
    from zoo.runtime.exporter import export_trained
    from zoo.models.language_models import StatefulReset

    corpus = tmp_path / "corpus.txt"
    corpus.write_text((shakespeare_dir / "input.txt").read_text()[:12_000])
    result = zoo.train("lstm_lm", str(corpus), epochs=2, batch_size=4, run_dir=tmp_path / "run",
                       overrides={"embedding_dim": 8, "units": 8, "layers": 1},
                       data_options={"seq_len": 20, "stateful": True}, verbose=0)
    model = result.model
    assert model.input_shape == (4, None)
    (lstm,) = [layer for layer in model.layers if getattr(layer, "stateful", False)]
    assert len(result.history) == 2
    x = np.random.default_rng(0).integers(0, 30, size=(4, 20)).astype("int32")
    callback = StatefulReset()
    callback.set_model(model)
    callback.on_epoch_begin(0)
    first = np.asarray(model(x))
    second = np.asarray(model(x))  # continues from the state `first` left
    assert np.abs(first - second).max() > 1e-4
    callback.on_test_begin()
    np.testing.assert_allclose(np.asarray(model(x)), first, atol=1e-6)
    # The export serves from a zero state at any batch size.
    check = export_trained(model, result.spec, result.plan,
                           base_dir=tmp_path / "exports").manifest["verification"]
    assert check["max_abs_diff"] <= 1e-5 and check["xla_max_abs_diff"] <= 1e-4


def test_stateful_data_needs_a_model_with_a_stateful_mode(tmp_path):
    with pytest.raises(ValueError, match=r"^Data option stateful=True carries recurrent state "
                                         r"across batches; transformer_lm has no stateful mode\.$"):
        zoo.train("transformer_lm", "tiny_shakespeare", data_options={"stateful": True},
                  run_dir=tmp_path, verbose=0)
