"""Every exported signature checks its input in the graph (zoo.runtime.signature_checks).

One export per kind (untrained models: the checks do not depend on weights),
reloaded with TensorFlow and called directly, as TF Serving would: a wrong
shape, an empty batch, an id outside the vocabulary or a NaN fails with one
`InvalidArgumentError` naming what is expected. Valid inputs still give the
model's outputs, also when the signature is compiled with XLA.
"""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.runtime.exporter import export_trained
from zoo.runtime.plan import plan_data


def _export(base, model_name, dataset=None, overrides=None, options=None, **kwargs):
    """(the reloaded SavedModel, the ExportResult) of an untrained model at its test size."""
    spec = zoo.get_spec(model_name)
    plan = plan_data(spec, dataset, {**spec.test_args, **(overrides or {})}, options)
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=base, verify=False, **kwargs)
    return tf.saved_model.load(str(result.path)), result


def refusal(signature, **inputs) -> str:
    """The error line of a call that the signature's checks refuse."""
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        signature(**{k: tf.constant(v) for k, v in inputs.items()})
    lines = [ln.strip() for ln in str(info.value).splitlines()]
    return next(ln for ln in lines if ln.startswith(("assertion failed:", "Shape of tensor")))


def output(signature, **inputs) -> np.ndarray:
    return next(iter(signature(**{k: tf.constant(v) for k, v in inputs.items()}).values())).numpy()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("saved_models")


@pytest.fixture(scope="module")
def lenet(base):
    return _export(base, "lenet5")[0]


@pytest.fixture(scope="module")
def language_model(base):
    return _export(base, "lstm_lm", overrides={"embedding_dim": 8, "units": 8})


@pytest.fixture(scope="module")
def dcgan(base):
    return _export(base, "dcgan")[0]


@pytest.fixture(scope="module")
def darnn(base):
    return _export(base, "darnn", options={"window": 3, "steps": 400})[0]


@pytest.fixture(scope="module")
def autoencoder(base):
    return _export(base, "autoencoder")[0]


@pytest.fixture(scope="module")
def transformer(base):
    return _export(base, "transformer", options={"length": 2})[0]


@pytest.fixture(scope="module")
def word_vectors(base):
    return _export(base, "word2vec_skipgram")


@pytest.fixture(scope="module")
def text_classifier(base):
    """An rnn_classifier on tfds mock data of imdb_reviews (as tests/test_text_classification.py),
    and its vocabulary."""
    import tensorflow_datasets as tfds

    with pytest.MonkeyPatch.context() as patch, tfds.testing.mock_data(num_examples=48):
        patch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
        spec = zoo.get_spec("rnn_classifier")
        plan = plan_data(spec, "imdb_reviews", {"units": 8, "embedding_dim": 8}, {"seq_len": 6})
        result = export_trained(spec.builder(**plan.builder_args), spec, plan, base_dir=base,
                                verify=False)
    return tf.saved_model.load(str(result.path)), result, plan.info.vocabulary


@pytest.fixture(scope="module")
def fast_style(base):
    from zoo.runtime.style import export_fast_style

    network = zoo.build("fast_style_network", **zoo.get_spec("fast_style_network").test_args)
    sample = np.zeros((2, 8, 8, 3), "uint8")  # the default loads photos
    return tf.saved_model.load(str(export_fast_style(network, base_dir=base, sample=sample,
                                                     verify=False).path))


# --- shape ----------------------------------------------------------------------------


def test_an_image_signature_refuses_another_shape_and_names_the_expected_one(lenet):
    serve = lenet.signatures["serving_default"]
    expected = "`image` must have shape (batch, 8, 8, 1). Received: shape"
    assert refusal(serve, image=np.zeros((2, 28, 28, 1), "uint8")) == (
        f"assertion failed: [{expected} (2, 28, 28, 1)]")
    assert refusal(serve, image=np.zeros((2, 8, 8), "uint8")) == (
        f"assertion failed: [{expected} (2, 8, 8)]")
    assert refusal(serve, image=np.uint8(3)) == f"assertion failed: [{expected} ()]"
    # A higher rank whose extra sizes are 1 passes the assertion; tf.ensure_shape holds.
    assert refusal(serve, image=np.zeros((2, 8, 8, 1, 1), "uint8")) == (
        "Shape of tensor image [2,8,8,1,1] is not compatible with expected shape [?,8,8,1].")
    assert output(serve, image=np.zeros((2, 8, 8, 1), "uint8")).shape == (2, 10)


def test_a_static_batch_export_refuses_another_batch_size(base):
    serve = _export(base, "lenet5", name="lenet5_static", static_batch=4)[0].signatures[
        "serving_default"]
    assert refusal(serve, image=np.zeros((2, 8, 8, 1), "uint8")) == (
        "Shape of tensor image [2,8,8,1] is not compatible with expected shape [4,8,8,1].")
    assert output(serve, image=np.zeros((4, 8, 8, 1), "uint8")).shape == (4, 10)


def test_signatures_of_every_kind_refuse_another_shape(language_model, dcgan, darnn,
                                                      autoencoder, transformer, word_vectors):
    lm = language_model[0]
    cases = [
        (lm.signatures["serving_default"], "text", np.array([["ab", "cd"]]), "(batch,)",
         "(1, 2)"),
        (lm.signatures["token_ids"], "token_ids", np.array([1, 2, 3], "int32"), "(batch, any)",
         "(3,)"),
        (dcgan.signatures["serving_default"], "latent", np.zeros((2, 8), "float32"),
         "(batch, 16)", "(2, 8)"),
        (dcgan.signatures["sample"], "seed", np.zeros((2, 3), "int32"), "(batch,)", "(2, 3)"),
        (darnn.signatures["serving_default"], "features", np.zeros((2, 12, 9), "float32"),
         "(batch, 3, 9)", "(2, 12, 9)"),
        (autoencoder.signatures["encode"], "image", np.zeros((2, 28, 28, 1), "uint8"),
         "(batch, 8, 8, 1)", "(2, 28, 28, 1)"),
        (autoencoder.signatures["decode"], "code", np.zeros((2, 4), "float32"), "(batch, 8)",
         "(2, 4)"),
        (autoencoder.signatures["reconstruct"], "image", np.zeros((2, 64), "uint8"),
         "(batch, 8, 8, 1)", "(2, 64)"),
        (transformer.signatures["translate"], "source", np.full((2, 5), 3, "int32"),
         "(batch, 2)", "(2, 5)"),
        (word_vectors[0].signatures["word_ids"], "word_ids", np.zeros((2, 2), "int32"),
         "(batch,)", "(2, 2)"),
    ]
    for serve, name, value, expected, received in cases:
        assert refusal(serve, **{name: value}) == (
            f"assertion failed: [`{name}` must have shape {expected}. Received: shape {received}]")


def test_fast_style_refuses_grey_images_and_sizes_it_would_change(fast_style):
    serve = fast_style.signatures["serving_default"]
    assert refusal(serve, image=np.zeros((1, 32, 32, 1), "uint8")) == (
        "assertion failed: [`image` must have shape (batch, any, any, 3). "
        "Received: shape (1, 32, 32, 1)]")
    assert refusal(serve, image=np.zeros((1, 30, 32, 3), "uint8")) == (
        "assertion failed: [`image` must have shape (batch, any, any, 3) with every `any` size "
        "a multiple of 4. Received: shape (1, 30, 32, 3)]")
    assert refusal(serve, image=np.zeros((1, 0, 0, 3), "uint8")) == (
        "assertion failed: [`image` must not be empty. Received: shape (1, 0, 0, 3)]")
    assert output(serve, image=np.zeros((1, 8, 12, 3), "uint8")).shape == (1, 8, 12, 3)


# --- empty batches ----------------------------------------------------------------------


def test_every_signature_refuses_an_empty_batch(lenet, language_model, dcgan, darnn,
                                                autoencoder, transformer, word_vectors):
    lm, wv = language_model[0], word_vectors[0]
    cases = [
        (lenet.signatures["serving_default"], "image", np.zeros((0, 8, 8, 1), "uint8")),
        (lm.signatures["serving_default"], "text", np.array([], dtype=bytes)),
        (lm.signatures["token_ids"], "token_ids", np.zeros((0, 3), "int32")),
        (lm.signatures["token_ids"], "token_ids", np.zeros((2, 0), "int32")),  # no token
        (dcgan.signatures["serving_default"], "latent", np.zeros((0, 16), "float32")),
        (dcgan.signatures["sample"], "seed", np.zeros((0,), "int32")),
        (darnn.signatures["serving_default"], "features", np.zeros((0, 3, 9), "float32")),
        (autoencoder.signatures["encode"], "image", np.zeros((0, 8, 8, 1), "uint8")),
        (autoencoder.signatures["decode"], "code", np.zeros((0, 8), "float32")),
        (autoencoder.signatures["reconstruct"], "image", np.zeros((0, 8, 8, 1), "uint8")),
        (transformer.signatures["translate"], "source", np.zeros((0, 2), "int32")),
        (wv.signatures["serving_default"], "words", np.array([], dtype=bytes)),
        (wv.signatures["word_ids"], "word_ids", np.zeros((0,), "int32")),
    ]
    for serve, name, value in cases:
        shape = f"({', '.join(map(str, value.shape))}{',' if value.ndim == 1 else ''})"
        assert refusal(serve, **{name: value}) == (
            f"assertion failed: [`{name}` must not be empty. Received: shape {shape}]")


def test_a_language_model_reads_empty_texts_as_unk(language_model):
    """Not an empty batch: texts without a token read as [UNK], as `zoo generate`
    starts an empty prompt, also when every text of the batch is empty."""
    loaded = language_model[0]
    after_unk = output(loaded.signatures["token_ids"], token_ids=np.array([[0]], "int32"))[0]
    texts = output(loaded.signatures["serving_default"], text=np.array(["", ""]))
    np.testing.assert_allclose(texts, [after_unk, after_unk], atol=1e-6)


# --- values ---------------------------------------------------------------------------


def test_token_ids_must_be_vocabulary_ids_and_0_is_unk(language_model):
    loaded, result = language_model
    serve = loaded.signatures["token_ids"]
    size = len(result.manifest["class_names"])
    message = (f"assertion failed: [`token_ids` must hold values in [0, {size}). "
               "Received: min and max]")
    assert refusal(serve, token_ids=np.array([[1, -1, 2]], "int32")) == f"{message} [-1 2]"
    assert refusal(serve, token_ids=np.array([[1, size, 2]], "int32")) == f"{message} [1 {size}]"
    assert result.manifest["signatures"]["token_ids"]["inputs"]["token_ids"]["value_range"] == [
        0, size]
    # 0 is [UNK]: what the text signature gives a token it does not know.
    unknown = output(loaded.signatures["serving_default"], text=np.array(["a\u2603"]))
    known = output(serve, token_ids=np.array([[result.manifest["class_names"].index("a"), 0]],
                                             "int32"))
    np.testing.assert_allclose(unknown, known, atol=1e-6)


def test_a_text_classifier_takes_ids_with_0_as_padding_in_front(text_classifier):
    loaded, result, vocabulary = text_classifier
    serve = loaded.signatures["token_ids"]
    size = len(vocabulary)
    assert result.manifest["vocabulary_size"] == size
    assert refusal(serve, token_ids=np.array([[0, 0, 0, 0, 1, size]], "int32")) == (
        f"assertion failed: [`token_ids` must hold values in [0, {size}). Received: min and max] "
        f"[0 {size}]")
    assert refusal(serve, token_ids=np.ones((2, 5), "int32")) == (
        "assertion failed: [`token_ids` must have shape (batch, 6). Received: shape (2, 5)]")
    # A one-word text is five zeros of padding in front of the word's id.
    by_text = output(loaded.signatures["serving_default"], text=np.array([vocabulary[1]]))
    by_ids = output(serve, token_ids=np.array([[0, 0, 0, 0, 0, 1]], "int32"))
    np.testing.assert_allclose(by_text, by_ids, atol=1e-6)


def test_word_ids_must_be_vocabulary_ids_and_0_is_unk(word_vectors):
    loaded, result = word_vectors
    serve = loaded.signatures["word_ids"]
    size = len(result.manifest["class_names"])
    message = (f"assertion failed: [`word_ids` must hold values in [0, {size}). "
               "Received: min and max]")
    assert refusal(serve, word_ids=np.array([3, -1], "int32")) == f"{message} [-1 3]"
    assert refusal(serve, word_ids=np.array([size], "int32")) == f"{message} [{size} {size}]"
    unknown = output(loaded.signatures["serving_default"], words=np.array(["zzz-no-word-zzz"]))
    np.testing.assert_allclose(output(serve, word_ids=np.array([0], "int32")), unknown)


def test_a_source_holds_digits_only_never_pad_or_start(transformer):
    serve = transformer.signatures["translate"]
    message = "assertion failed: [`source` must hold values in [2, 12). Received: min and max]"
    for bad, extremes in [(0, "[0 5]"), (1, "[1 5]"), (-3, "[-3 5]"), (12, "[5 12]")]:
        assert refusal(serve, source=np.array([[5, bad]], "int32")) == f"{message} {extremes}"
    assert output(serve, source=np.array([[2, 11]], "int32")).shape == (1, 2)
    # The teacher-forced features (source, then [START] and the target) are vocabulary ids.
    assert refusal(transformer.signatures["serving_default"],
                   features=np.array([[2, 3, 1, 99]], "int32")) == (
        "assertion failed: [`features` must hold values in [0, 12). Received: min and max] [1 99]")


def test_float_inputs_must_be_finite(dcgan, darnn, autoencoder):
    cases = [(dcgan.signatures["serving_default"], "latent", (2, 16)),
             (darnn.signatures["serving_default"], "features", (2, 3, 9)),
             (autoencoder.signatures["decode"], "code", (2, 8))]
    for serve, name, shape in cases:
        for bad in (np.nan, np.inf, -np.inf):
            value = np.zeros(shape, "float32")
            value[1, 0] = bad
            assert refusal(serve, **{name: value}) == (
                f"assertion failed: [`{name}` must hold finite values (no NaN or inf).]")


def test_any_int32_is_a_seed(dcgan):
    images = output(dcgan.signatures["sample"], seed=np.array([-5, 2**31 - 1], "int32"))
    assert images.shape == (2, 16, 16, 1) and images.dtype == np.uint8


# --- XLA and parity ----------------------------------------------------------------------


def test_checked_signatures_compile_with_xla_and_change_no_output(lenet, language_model, dcgan):
    """Each kind of check under XLA (every family's export is verified under XLA, against
    the live model, by tests/test_models.py)."""
    rng = np.random.default_rng(0)
    cases = [
        (lenet.signatures["serving_default"], "image",
         rng.integers(0, 256, (3, 8, 8, 1)).astype("uint8")),
        (language_model[0].signatures["token_ids"], "token_ids",
         rng.integers(0, 66, (2, 5)).astype("int32")),
        (dcgan.signatures["serving_default"], "latent", rng.normal(size=(2, 16)).astype("float32")),
        (dcgan.signatures["sample"], "seed", np.array([-1, 7], "int32")),
    ]
    for serve, name, value in cases:
        plain = output(serve, **{name: value})
        xla = tf.function(lambda x, serve=serve, name=name: next(iter(serve(**{name: x}).values())),
                          jit_compile=True)
        compiled = xla(tf.constant(value)).numpy()
        tolerance = 1 if plain.dtype == np.uint8 else 1e-4  # as the export's verification
        assert np.max(np.abs(compiled.astype(float) - plain.astype(float))) <= tolerance, name
