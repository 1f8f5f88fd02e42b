"""Word vectors: word-pair pipelines, PPMI + SVD, queries, projector files, word-in exports."""

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf

import pipelines
import zoo
from pipelines import word_pairs
from zoo.models.word_vectors import cooccurrence_counts, ppmi, svd_vectors
from zoo.runtime.artifacts import word_vectors_from_run
from zoo.tasks.word_vectors import UnknownWordError, WordVectors


def _corpus(tmp_path, train: str, name="corpus"):
    """A PTB-style folder whose training split is exactly `train`."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.train.txt").write_text(train)
    (folder / f"{name}.valid.txt").write_text(train[:200])
    (folder / f"{name}.test.txt").write_text(train[:200])
    return str(folder)


def test_negative_samples_follow_the_unigram_distribution_to_the_three_quarters(tmp_path):
    counts = {"a": 800, "b": 200, "c": 50, "d": 10}
    words = np.random.default_rng(0).permutation([w for w, n in counts.items() for _ in range(n)])
    corpus = _corpus(tmp_path, " ".join(words))  # one line: no <eos> tokens
    tokens = pipelines.get_info(corpus, pairs="skipgram").class_names
    ds = pipelines.load(corpus, "train", batch_size=512, pairs="skipgram", window=2,
                        negatives=20, subsample=None, seed=1)
    drawn = np.concatenate([x["candidates"].numpy()[:, 1:].ravel() for x, _ in ds.repeat(2)])
    observed = np.bincount(drawn, minlength=len(tokens)) / len(drawn)
    n = np.array([counts.get(t, 0) for t in tokens], float)
    expected = n ** 0.75 / (n ** 0.75).sum()
    assert len(drawn) > 50_000 and observed[0] == 0  # [UNK] never occurs, never drawn
    np.testing.assert_allclose(observed, expected, atol=0.01)
    # Plain unigram frequencies are far off: the 3/4 power is what is measured.
    assert np.abs(observed - n / n.sum()).max() > 0.05


def _positions(tmp_path, pairs, window):
    """Examples of a corpus of 300 distinct words w0 ... w299, as word positions."""
    corpus = _corpus(tmp_path, " ".join(f"w{i}" for i in range(300)), name=pairs)
    tokens = pipelines.get_info(corpus, pairs=pairs, window=window).class_names
    position = np.array([-1] + [int(t[1:]) for t in tokens[1:]])
    ds = pipelines.load(corpus, "train", batch_size=None, pairs=pairs, window=window,
                        subsample=None)
    x = [(e["input_words"].numpy(), e["candidates"].numpy()[0]) for e, _ in ds]
    # (input word positions, -1 for padding; the true word's position)
    return [(np.where(inputs >= 0, position[inputs], -1), position[true]) for inputs, true in x]


def test_skipgram_pairs_lie_within_the_window_and_cover_every_offset(tmp_path):
    examples = _positions(tmp_path, "skipgram", window=3)
    offsets = np.array([true - inputs[0] for inputs, true in examples])
    assert all(len(inputs) == 1 for inputs, _ in examples)
    assert set(np.abs(offsets)) == {1, 2, 3}
    # Dynamic window: R in [1, 3] uniform, so offset d is kept with probability (4 - d) / 3.
    share = np.bincount(np.abs(offsets)) / len(offsets)
    np.testing.assert_allclose(share[1:], np.array([3, 2, 1]) / 6, atol=0.03)


def test_cbow_contexts_lie_within_the_window_around_the_centre_word(tmp_path):
    examples = _positions(tmp_path, "cbow", window=2)
    for inputs, centre in examples:
        assert inputs.shape == (4,)
        context = inputs[inputs >= 0]
        assert len(context) >= 1 and set(np.abs(context - centre)) <= {1, 2}
    assert len(examples) == 300  # one example per word


def test_subsampling_keeps_a_frequent_word_with_probability_sqrt_t_over_f():
    keep = word_pairs.keep_probabilities(np.array([0, 900, 100]), subsample=0.01)
    np.testing.assert_allclose(keep, [1.0, np.sqrt(0.01 / 0.9), np.sqrt(0.01 / 0.1)])
    np.testing.assert_array_equal(word_pairs.keep_probabilities([5, 5], None), [1.0, 1.0])


def test_cooccurrence_counts_and_ppmi_match_hand_computed_values():
    # ids 0 1 2 1, window 1: pairs (0,1), (1,2), (2,1) counted in both directions.
    counts = cooccurrence_counts([0, 1, 2, 1], 3, window=1).toarray()
    np.testing.assert_array_equal(counts, [[0, 1, 0], [1, 0, 2], [0, 2, 0]])

    counts = scipy.sparse.csr_matrix(np.array([[4, 1, 0], [1, 0, 2], [0, 2, 0]], float))
    # D = 10, row sums (5, 3, 2), column sums (5, 3, 2).
    expected = np.zeros((3, 3))
    expected[0, 0] = np.log(4 * 10 / (5 * 5))  # 0.47
    expected[1, 2] = expected[2, 1] = np.log(2 * 10 / (3 * 2))  # 1.20
    # PMI(0, 1) = log(1 * 10 / 15) < 0: clipped to 0.
    np.testing.assert_allclose(ppmi(counts).toarray(), expected, rtol=1e-12)


def test_svd_vectors_of_words_with_identical_contexts_have_cosine_one(tmp_path):
    # The first line gives the first "cat" the same left context as every other.
    corpus = _corpus(tmp_path, "begin .\n" + "the cat sat on the mat .\nthe dog sat on the mat .\n" * 30)
    result = zoo.train("ppmi_svd", corpus, overrides={"dim": 4}, data_options={"window": 2},
                       run_dir=tmp_path / "run", verbose=0)
    assert [row["epoch"] for row in result.history] == [0] and result.history[0]["val_loss"] > 0
    vectors = word_vectors_from_run(tmp_path / "run")
    (nearest, cosine), *_ = vectors.most_similar("cat", 3)
    assert nearest == "dog" and cosine == pytest.approx(1.0, abs=1e-5)


def test_dim_larger_than_the_vocabulary_is_refused():
    with pytest.raises(ValueError) as e:
        zoo.build("ppmi_svd", vocab_size=10, dim=20)
    assert str(e.value) == (
        "ppmi_svd: dim must be at most the vocabulary size (10 words, [UNK] included): a "
        "truncated SVD keeps at most that many components. Received: dim=20"
    )
    with pytest.raises(ValueError, match=r"\(3 words, \[UNK\] included\).*Received: dim=4$"):
        svd_vectors(scipy.sparse.eye(3, format="csr"), 4)


@pytest.fixture(scope="module")
def royal_vectors(tmp_path_factory):
    """PPMI + SVD vectors of a corpus where every word is a gender and a kind, window 1.

    king = he + royal, man = he + common, queen = she + royal, ..., and
    monarch has exactly king's contexts, so the answers are known.
    """
    lines = ["he man common", "he king royal", "he monarch royal", "she woman common",
             "she queen royal", "he boy young", "she girl young"]
    folder = _corpus(tmp_path_factory.mktemp("royal"), "\n".join(lines * 20) + "\n")
    options = {"pairs": "skipgram", "subsample": None}
    tokens = pipelines.get_info(folder, **options).class_names
    ids = word_pairs.split_ids(folder, "train", **options)
    words, _ = svd_vectors(ppmi(cooccurrence_counts(ids, len(tokens), 1)), len(tokens) - 1)
    return WordVectors(tokens, words)


def test_most_similar_and_analogy_find_the_known_answers(royal_vectors):
    (nearest, cosine), *_ = royal_vectors.most_similar("king", 3)
    assert (nearest, round(cosine, 4)) == ("monarch", 1.0)
    assert royal_vectors.analogy("man", "king", "woman")[0][0] == "queen"
    assert royal_vectors.analogy("king", "queen", "man")[0][0] == "woman"
    assert royal_vectors.analogy("woman", "girl", "man")[0][0] == "boy"
    # Queries are normalized as the corpus was (lowercased), and never answer themselves.
    assert "king" not in [w for w, _ in royal_vectors.most_similar("KING", 20)]
    assert {"man", "king", "woman"}.isdisjoint(
        w for w, _ in royal_vectors.analogy("man", "king", "woman", k=20))


def test_unknown_query_words_name_close_matches_or_say_out_of_vocabulary(royal_vectors):
    with pytest.raises(UnknownWordError) as e:
        royal_vectors.most_similar("kingg")
    assert str(e.value) == "'kingg' is not in the vocabulary. Close matches: king."
    with pytest.raises(UnknownWordError) as e:
        royal_vectors.analogy("man", "king", "xylophone")
    vocabulary_size = len(royal_vectors.vocabulary) - 1
    assert str(e.value) == (
        f"'xylophone' is out of vocabulary ({vocabulary_size} words, [UNK] aside).")
    with pytest.raises(UnknownWordError, match=r"^'\[UNK\]' is out of vocabulary"):
        royal_vectors.most_similar("[UNK]")


def test_projector_files_hold_one_row_per_word_in_vocabulary_order(royal_vectors, tmp_path):
    paths = royal_vectors.write_projector(tmp_path / "projector")
    vectors = np.loadtxt(paths["vectors"], delimiter="\t")
    metadata = paths["metadata"].read_text().splitlines()
    assert vectors.shape == royal_vectors.vectors.shape
    assert metadata == list(royal_vectors.vocabulary)
    np.testing.assert_allclose(vectors[metadata.index("queen")], royal_vectors.vector("queen"),
                               rtol=1e-5)
    assert 'metadata_path: "metadata.tsv"' in paths["config"].read_text()


def test_export_maps_words_to_vectors_and_unknown_words_to_unk(tmp_path):
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.plan import plan_data

    corpus = _corpus(tmp_path, "the cat sat on the mat .\n" * 20)
    spec = zoo.get_spec("word2vec_skipgram")
    plan = plan_data(spec, corpus, {"dim": 4})
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=tmp_path / "saved", verify=False)
    assert set(result.manifest["signatures"]) == {"serving_default", "word_ids"}
    serve = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    out = serve(words=tf.constant(["cat", "CAT", "unicorn"]))["embedding"].numpy()
    table = WordVectors.from_model(model, plan.info.class_names)
    np.testing.assert_allclose(out[0], table.vector("cat"), rtol=1e-6)
    np.testing.assert_allclose(out[1], out[0])  # lowercased in the graph
    np.testing.assert_allclose(out[2], table.vectors[0])  # [UNK]'s vector


def test_embedding_models_refuse_a_dataset_that_is_not_text_and_a_foreign_pairing(tmp_path):
    from zoo.runtime.plan import plan_data

    with pytest.raises(ValueError) as e:
        plan_data(zoo.get_spec("word2vec_cbow"), "digits")
    assert str(e.value) == (
        "Model 'word2vec_cbow' learns word vectors; dataset 'digits' is not a text corpus.")
    with pytest.raises(ValueError) as e:
        plan_data(zoo.get_spec("word2vec_cbow"), _corpus(tmp_path, "a b c\n" * 20),
                  data_options={"pairs": "skipgram"})
    assert str(e.value) == "Model 'word2vec_cbow' trains on 'cbow' pairs. Received: pairs='skipgram'"


def test_cli_lists_neighbours_analogies_and_writes_projector_files(zoo_main, tmp_path):
    corpus = _corpus(tmp_path, "\n".join(["he man common", "he king royal", "she woman common",
                                          "she queen royal"] * 20) + "\n")
    zoo_main("train", "ppmi_svd", "--data", corpus, "--data-option", "window=1",
            "--set", "dim=6", "--run-dir", "run")
    out = zoo_main("vectors", "run", "--neighbors", "king", "--analogy", "man:king::woman",
                  "-k", "2", "--projector", "projector").stdout
    lines = out.splitlines()
    assert lines[0] == "Nearest to 'king' (cosine):"
    assert lines[3] == "man : king :: woman : ? (nearest to king - man + woman)"
    assert lines[4].split()[0] == "queen"
    assert (tmp_path / "projector" / "vectors.tsv").exists()
    failed = zoo_main("vectors", "run", "--neighbors", "kingg", check=False)
    assert failed.returncode == 2
    assert failed.stderr.strip().endswith("'kingg' is not in the vocabulary. Close matches: king.")
