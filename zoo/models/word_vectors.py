"""Word vectors: word2vec (skip-gram, CBOW) with negative sampling, and PPMI + SVD.

All three models share one scoring network, the one word2vec trains: input
words (B, C) -> mean of their word vectors h (B, D); candidate words
(B, 1 + k) -> context vectors (B, 1 + k, D); scores sigmoid(h . c) (B, 1 + k).
The first candidate is the true word, the other k are noise words, so sigmoid
cross-entropy on labels [1, 0, ..., 0] is the negative-sampling objective of
Mikolov et al. 2013b. Skip-gram and CBOW differ only in their examples
(`pipelines.word_pairs`): skip-gram's input is the centre word (C = 1) and
its candidate a context word; CBOW's input is the context (C = 2 * window,
padded with -1) and its candidate the centre word.

`ppmi_svd` is not trained by gradient descent: its task (`count_vectors`,
`zoo.tasks.word_vectors`) counts co-occurrences within the window over the training split,
takes positive PMI, and sets W = U sqrt(S), C = V sqrt(S) from a truncated
SVD, so the scoring network reproduces the (truncated) PPMI matrix:
h . c = PPMI(w, c) (Levy & Goldberg 2014; Levy, Goldberg & Dagan 2015). Its
logits are shifted by -log k, where skip-gram's optimum lies, so its loss on
the same examples compares with word2vec's.

Queries (`zoo.tasks.word_vectors.WordVectors`): `most_similar`, `analogy` (3CosAdd),
and `write_projector` (TensorBoard projector TSV files).
"""

from __future__ import annotations


import keras
import numpy as np
from keras import ops

from zoo._common import check_positive_int
from zoo.registry import register_model

PAD_ID = -1  # = pipelines.word_pairs.PAD_ID (kept import-free of TensorFlow data code)


@keras.saving.register_keras_serializable(package="zoo")
class MeanEmbedding(keras.layers.Embedding):
    """Word ids (B, C), -1 for padding -> the mean of their vectors (B, D).

    With C = 1 it is a plain lookup (skip-gram's centre word); with C > 1 it
    averages a context (CBOW), ignoring padding. An all-padding row gives zeros.
    """

    def call(self, ids):
        ids = ops.convert_to_tensor(ids, "int32")
        present = ops.cast(ops.greater_equal(ids, 0), self.compute_dtype)[..., None]  # (B, C, 1)
        vectors = super().call(ops.maximum(ids, 0)) * present  # (B, C, D)
        return ops.sum(vectors, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_output_spec(self, ids):
        return keras.KerasTensor((ids.shape[0], self.output_dim), dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="zoo")
class LogitShift(keras.layers.Layer):
    """Adds a fixed (non-trainable) scalar to the logits; 0 unless a fit function sets it.

    `ppmi_svd` sets it to -log k: skip-gram with k negatives is optimal at
    w . c = PMI(w, c) - log k (Levy & Goldberg 2014), so PPMI vectors are
    scored with the same shift.
    """

    def build(self, input_shape):
        self.shift = self.add_weight(shape=(), initializer="zeros", trainable=False, name="shift")

    def call(self, logits):
        return logits + ops.cast(self.shift, logits.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def word2vec(vocab_size, dim, name, trainable=True):
    """The shared scoring network: ({input_words (B, C), candidates (B, K)}) -> scores (B, K)."""
    check_positive_int("vocab_size", vocab_size, minimum=2)
    check_positive_int("dim", dim)
    input_words = keras.Input(shape=(None,), dtype="int32", name="input_words")
    candidates = keras.Input(shape=(None,), dtype="int32", name="candidates")
    # word2vec's initialization: word vectors uniform in +-0.5 / dim, context vectors zero.
    h = MeanEmbedding(
        vocab_size, dim, embeddings_initializer=keras.initializers.RandomUniform(
            -0.5 / dim, 0.5 / dim), trainable=trainable, name=f"{name}_word_embedding",
    )(input_words)  # (B, D)
    c = keras.layers.Embedding(vocab_size, dim, embeddings_initializer="zeros",
                               trainable=trainable, name=f"{name}_context_embedding")(candidates)
    logits = keras.layers.Dot(axes=(1, 2), name=f"{name}_dot")([h, c])  # (B, K)
    logits = LogitShift(name=f"{name}_shift")(logits)
    scores = keras.layers.Activation("sigmoid", dtype="float32", name="scores")(logits)
    return keras.Model({"input_words": input_words, "candidates": candidates}, scores, name=name)


def _space(hp) -> dict:
    return {"dim": hp.Choice("dim", [50, 100, 200], default=100)}


_MIKOLOV = ("Mikolov, Chen, Corrado & Dean 2013, Efficient Estimation of Word Representations "
            "in Vector Space, arXiv:1301.3781; Mikolov, Sutskever, Chen, Corrado & Dean 2013, "
            "Distributed Representations of Words and Phrases and their Compositionality, NIPS")
_WORDS = dict(family="word_vectors", task="embedding", dataset="tiny_shakespeare",
              loss="binary_crossentropy", test_args={"dim": 8}, search_space=_space)
_DOC = """

    Args:
        vocab_size: Words in the vocabulary, [UNK] (id 0) included (set from
            the corpus by `zoo train`).
        dim: Size of the word vectors.
        name: Model name.

    Returns:
        A `keras.Model` mapping `{"input_words": (B, C), "candidates": (B, 1 + k)}`
        int ids to the probability that each candidate occurs with the input
        words (B, 1 + k). `WordVectors.from_model` reads the word vectors.

    Example:
        >>> result = zoo.train("{name}", epochs=1)
        >>> WordVectors.from_run(result.run_dir).most_similar("king", 5)
"""


@register_model(dataset_options={"pairs": "skipgram"}, reference=_MIKOLOV, **_WORDS)
def word2vec_skipgram(vocab_size=10000, dim=100, name="word2vec_skipgram"):
    """Skip-gram word2vec: the centre word's vector predicts each context word (negative sampling)."""
    return word2vec(vocab_size, dim, name)


@register_model(dataset_options={"pairs": "cbow"}, reference=_MIKOLOV, **_WORDS)
def word2vec_cbow(vocab_size=10000, dim=100, name="word2vec_cbow"):
    """CBOW word2vec: the mean of the context words' vectors predicts the centre word."""
    return word2vec(vocab_size, dim, name)


word2vec_skipgram.__doc__ += _DOC.replace("{name}", "word2vec_skipgram")
word2vec_cbow.__doc__ += _DOC.replace("{name}", "word2vec_cbow")


# --- PPMI + SVD ----------------------------------------------------------------


def cooccurrence_counts(ids, vocab_size: int, window: int):
    """Symmetric co-occurrence counts (V, V), scipy CSR: pairs at most `window` apart.

    Every pair (ids[i], ids[i + d]), 1 <= d <= window, counts once in each
    direction (a uniform window, no distance weighting).
    """
    import scipy.sparse

    ids = np.asarray(ids, np.int64)
    rows, cols = [], []
    for d in range(1, window + 1):  # one vectorized slice per offset, not per token
        rows += [ids[:-d], ids[d:]]
        cols += [ids[d:], ids[:-d]]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    counts = scipy.sparse.coo_matrix(
        (np.ones(len(rows), np.float64), (rows, cols)), shape=(vocab_size, vocab_size))
    return counts.tocsr()  # duplicates summed


def ppmi(counts):
    """Positive pointwise mutual information of a count matrix (scipy sparse, (V, V)).

    PPMI(w, c) = max(0, log(#(w, c) * D / (#(w) * #(c)))), with #(w) the row
    sums, #(c) the column sums and D the total count (Church & Hanks 1990;
    Bullinaria & Levy 2007). Zero counts stay zero.
    """
    counts = counts.tocoo()
    total = counts.sum()
    rows = np.asarray(counts.sum(axis=1)).ravel()
    cols = np.asarray(counts.sum(axis=0)).ravel()
    pmi = np.log(counts.data * total / (rows[counts.row] * cols[counts.col]))
    import scipy.sparse

    result = scipy.sparse.coo_matrix((np.maximum(pmi, 0.0), (counts.row, counts.col)),
                                     shape=counts.shape).tocsr()
    result.eliminate_zeros()
    return result


def svd_vectors(matrix, dim: int, seed: int = 0):
    """Word and context vectors (V, dim) each, W = U sqrt(S), C = V sqrt(S), so W C^T ~ matrix.

    A randomized truncated SVD (Halko et al. 2011, as in scikit-learn).
    """
    from sklearn.utils.extmath import randomized_svd

    size = min(matrix.shape)
    if dim > size:
        raise ValueError(
            f"ppmi_svd: dim must be at most the vocabulary size ({size} words, [UNK] included): "
            f"a truncated SVD keeps at most that many components. Received: dim={dim}"
        )
    u, s, vt = randomized_svd(matrix, dim, n_iter=7, random_state=seed)
    root = np.sqrt(s)
    return (u * root).astype("float32"), (vt.T * root).astype("float32")


def svd_singular_values(words, contexts) -> np.ndarray:
    """The singular values S of W = U sqrt(S), C = V sqrt(S): |W_k| |C_k| per component."""
    return np.linalg.norm(words, axis=0) * np.linalg.norm(contexts, axis=0)


@register_model(
    dataset_options={"pairs": "skipgram"},
    reference="Levy, Goldberg & Dagan 2015, Improving Distributional Similarity with Lessons "
    "Learned from Word Embeddings, TACL; Levy & Goldberg 2014, Neural Word Embedding as "
    "Implicit Matrix Factorization, NIPS; Bullinaria & Levy 2007",
    **{**_WORDS, "task": "count_vectors"},
)
def ppmi_svd(vocab_size=10000, dim=100, name="ppmi_svd"):
    """Count-based vectors: window co-occurrences -> positive PMI -> truncated SVD (not gradient-trained)."""
    check_positive_int("dim", dim)
    if dim > vocab_size:
        raise ValueError(
            f"ppmi_svd: dim must be at most the vocabulary size ({vocab_size} words, [UNK] "
            f"included): a truncated SVD keeps at most that many components. Received: dim={dim}"
        )
    return word2vec(vocab_size, dim, name, trainable=False)


ppmi_svd.__doc__ += _DOC.replace("{name}", "ppmi_svd").replace(
    "Returns:", "Its vectors come from its task's fit (`zoo.tasks.word_vectors.CountVectors`), "
    "not from `fit`.\n\n"
    "    Returns:")


def shift_layer(model) -> LogitShift:
    """The logit shift of a word-vector model."""
    return next(layer for layer in model.layers if isinstance(layer, LogitShift))


def embedding_layers(model):
    """The (word, context) embedding layers of a word-vector model."""
    words = [layer for layer in model.layers if isinstance(layer, MeanEmbedding)]
    contexts = [layer for layer in model.layers if layer.name.endswith("_context_embedding")]
    if len(words) != 1 or len(contexts) != 1:
        raise ValueError(
            f"{model.name} is not a word-vector model: it needs one word and one context "
            f"embedding. Received layers: {[layer.name for layer in model.layers]}"
        )
    return words[0], contexts[0]
