"""Labelled text (imdb_reviews through tfds mock data) -> fixed-length ids -> rnn_classifier."""

import numpy as np
import pytest
import tensorflow as tf

import pipelines
import zoo
from pipelines.layers import TextToIds


@pytest.fixture
def mock_imdb(monkeypatch):
    import tensorflow_datasets as tfds

    # mock_data replaces the data, not the prepared-on-disk check: say prepared.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=48):
        yield


def test_fixed_length_ids_keep_the_last_tokens_and_pad_in_front():
    to_ids = TextToIds(["[UNK]", "a", "b", "c"], "char", length=3)
    ids, kept = to_ids(np.array(["abcab", "a", "", "zz"]))
    np.testing.assert_array_equal(np.asarray(ids), [[3, 1, 2], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(kept), [3, 1, 0, 2])


def test_imdb_reviews_become_ids_from_a_train_only_vocabulary(mock_imdb):
    info = pipelines.get_info("imdb_reviews", seq_len=12)
    assert (info.task, info.feature_shape, info.feature_dtype) == ("classification", (12,), "int32")
    assert info.num_classes == 2 and info.vocabulary[0] == "[UNK]"
    import tensorflow_datasets as tfds

    train_words = set()
    for text, _ in tfds.load("imdb_reviews", split="train", as_supervised=True):
        train_words.update(text.numpy().decode().split())
    assert set(info.vocabulary[1:]) <= train_words
    x, y = next(iter(pipelines.load("imdb_reviews", "test", batch_size=6, shuffle=False,
                                    seq_len=12)))
    assert x.shape == (6, 12) and x.dtype == tf.int32 and y.shape == (6,)
    # The same ids as the serving tokenizer gives the raw test texts.
    texts = [t.numpy() for t, _ in tfds.load("imdb_reviews", split="test[:6]",
                                             as_supervised=True)]
    expected, _ = TextToIds(info.vocabulary, "word", length=12)(np.array(texts))
    np.testing.assert_array_equal(x.numpy(), np.asarray(expected)[:6])


def test_rnn_classifier_trains_on_text_and_serves_raw_strings(mock_imdb, tmp_path):
    from zoo.runtime.exporter import export_trained

    result = zoo.train("rnn_classifier", "imdb_reviews", epochs=2, run_dir=tmp_path / "run",
                       overrides={"units": 8, "embedding_dim": 8},
                       data_options={"seq_len": 16}, verbose=0)
    model, plan = result.model, result.plan
    assert model.input_shape == (None, 16) and plan.builder_args["vocab_size"] == len(
        plan.info.vocabulary)
    export = export_trained(model, result.spec, plan, base_dir=tmp_path / "exports")
    check = export.manifest["verification"]
    assert check["input_names"] == ["text"] and check["max_abs_diff"] <= 1e-5
    assert check["signatures"]["token_ids"]["xla_max_abs_diff"] <= 1e-4
    # The served text path equals the model on the pipeline's ids.
    served = tf.saved_model.load(str(export.path)).signatures["serving_default"]
    vocabulary = np.array(plan.info.vocabulary)
    x, _ = next(iter(plan.load("test", 4, shuffle=False)))
    texts = [" ".join(vocabulary[row[row > 0]]) for row in x.numpy()]
    np.testing.assert_allclose(served(text=tf.constant(texts))["probabilities"].numpy(),
                               np.asarray(model(x)), atol=1e-5)


def test_text_classification_options_are_checked(mock_imdb):
    with pytest.raises(pipelines.OptionError, match=r"^Text classification datasets got unknown "
                                                    r"option\(s\) stateful\. Accepted options: "
                                                    r"level, seq_len, max_tokens, vocabulary\.$"):
        pipelines.get_info("imdb_reviews", stateful=True)


def test_language_models_read_labelled_text_as_a_corpus(mock_imdb):
    from zoo.runtime.plan import plan_data

    plan = plan_data(zoo.get_spec("gru_lm"), "imdb_reviews", None,
                     {"level": "char", "seq_len": 10})
    assert plan.data_options["corpus"] is True and plan.info.task == "language_model"
    x, y = next(iter(plan.load("train", 4, shuffle=False)))
    assert x.shape == (4, 10)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])  # next-token targets
