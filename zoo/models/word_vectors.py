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

`ppmi_svd` is not trained by gradient descent: `fit_ppmi_svd` (its spec's
`fit`) counts co-occurrences within the window over the training split,
takes positive PMI, and sets W = U sqrt(S), C = V sqrt(S) from a truncated
SVD, so the scoring network reproduces the (truncated) PPMI matrix:
h . c = PPMI(w, c) (Levy & Goldberg 2014; Levy, Goldberg & Dagan 2015). Its
logits are shifted by -log k, where skip-gram's optimum lies, so its loss on
the same examples compares with word2vec's.

Queries (`WordVectors`): `most_similar`, `analogy` (3CosAdd), and
`write_projector` (TensorBoard projector TSV files).
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

import keras
import numpy as np
from keras import ops

from pipelines.layers import VocabularyLayer
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
class WordLookup(VocabularyLayer):
    """Words (B,) strings -> ids (B,) int32 in a fixed vocabulary; unknown words -> 0 ([UNK]).

    Words are normalized as the corpus tokenization does (`level="word_lower"`
    lowercases), so a served embedding accepts "King" for "king". `vocabulary`
    is a list of tokens, never a path (see `pipelines.layers.VocabularyLayer`).
    """

    def __init__(self, vocabulary, level="word_lower", **kwargs):
        super().__init__(vocabulary, level, **kwargs)

    def call(self, words):
        import tensorflow as tf

        words = tf.strings.strip(words) if self.level != "char" else words
        if self.level == "word_lower":
            words = tf.strings.lower(words, encoding="utf-8")
        return tf.cast(self.lookup(words), tf.int32)

    def compute_output_spec(self, words):
        return keras.KerasTensor(words.shape, dtype="int32")


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


def fit_ppmi_svd(model, plan, seed: int = 0) -> dict:
    """Set `model`'s vectors from PPMI + truncated SVD of its plan's training split.

    The window is the plan's `window` option; the vocabulary is the plan's
    (training split only). Returns what was fitted: vocabulary size, counted
    pairs and the share of the PPMI matrix's energy the kept components hold.
    """
    from pipelines import word_pairs

    options = {k: v for k, v in plan.data_options.items() if k in word_pairs.PAIR_OPTIONS
               or k in ("data_dir", "manual_dir", "offline")}
    window = word_pairs.check_options(
        {k: v for k, v in options.items() if k in word_pairs.PAIR_OPTIONS})["window"]
    ids = word_pairs.split_ids(plan.dataset, plan.train_split, **options)
    word_layer, context_layer = embedding_layers(model)
    vocab_size = word_layer.input_dim
    counts = cooccurrence_counts(ids, vocab_size, window)
    matrix = ppmi(counts)
    words, contexts = svd_vectors(matrix, word_layer.output_dim, seed)
    word_layer.embeddings.assign(words)
    context_layer.embeddings.assign(contexts)
    negatives = word_pairs.check_options(
        {k: v for k, v in options.items() if k in word_pairs.PAIR_OPTIONS})["negatives"]
    shift_layer(model).shift.assign(-np.log(negatives))
    kept = np.sum(svd_singular_values(words, contexts) ** 2)  # squared Frobenius norm kept
    total = max(float(matrix.multiply(matrix).sum()), 1e-12)
    return {"vocab_size": vocab_size, "pairs": int(counts.sum()), "energy_kept": float(kept / total)}


def svd_singular_values(words, contexts) -> np.ndarray:
    """The singular values S of W = U sqrt(S), C = V sqrt(S): |W_k| |C_k| per component."""
    return np.linalg.norm(words, axis=0) * np.linalg.norm(contexts, axis=0)


@register_model(
    dataset_options={"pairs": "skipgram"},
    reference="Levy, Goldberg & Dagan 2015, Improving Distributional Similarity with Lessons "
    "Learned from Word Embeddings, TACL; Levy & Goldberg 2014, Neural Word Embedding as "
    "Implicit Matrix Factorization, NIPS; Bullinaria & Levy 2007",
    fit=fit_ppmi_svd,
    **_WORDS,
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
    "Returns:", "Its vectors come from `fit_ppmi_svd` (the spec's `fit`), not from `fit`.\n\n"
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


# --- queries --------------------------------------------------------------------


class UnknownWordError(KeyError):
    """A query word that is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text.
        return str(self.args[0])


@dataclasses.dataclass
class WordVectors:
    """Word vectors (V, D) and their vocabulary (V,), row i = word i; [UNK] is row 0.

    Example:
        >>> vectors = WordVectors.from_run("runs/ppmi_svd-tiny_shakespeare")
        >>> vectors.most_similar("king", 3)
        >>> vectors.analogy("man", "king", "woman")  # man : king :: woman : ?
    """

    vocabulary: tuple[str, ...]
    vectors: np.ndarray
    level: str = "word_lower"

    def __post_init__(self):
        self.vocabulary = tuple(str(w) for w in self.vocabulary)
        self.vectors = np.asarray(self.vectors, np.float32)
        if len(self.vocabulary) != len(self.vectors):
            raise ValueError(
                f"WordVectors needs one vector per word. Received: {len(self.vocabulary)} words, "
                f"{len(self.vectors)} vectors"
            )
        self._index = {w: i for i, w in enumerate(self.vocabulary)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self._unit = self.vectors / np.maximum(norms, 1e-12)  # cosine = dot of unit rows

    @classmethod
    def from_model(cls, model, vocabulary, level: str = "word_lower") -> "WordVectors":
        """The word (input) vectors of a word-vector model."""
        word_layer, _ = embedding_layers(model)
        return cls(tuple(vocabulary), keras.ops.convert_to_numpy(word_layer.embeddings), level)

    @classmethod
    def from_run(cls, run_dir) -> "WordVectors":
        """The vectors of a `zoo train` run folder (its final model and saved vocabulary)."""
        from pipelines import text
        from zoo.runtime.run import VOCABULARY_FILE, load_model, read_run_file

        run_dir = Path(run_dir)
        settings = read_run_file(run_dir)["settings"]
        model = load_model(run_dir / "model.keras", compile=False)
        tokens = text.read_vocabulary(run_dir / VOCABULARY_FILE)
        level = settings["data_options"].get("level", "word_lower")
        return cls.from_model(model, tokens, level)

    def normalize(self, word: str) -> str:
        """The token a query word stands for (lowercased for `level="word_lower"`)."""
        word = str(word)
        if self.level == "char":
            return word
        return word.strip().lower() if self.level == "word_lower" else word.strip()

    def index(self, word: str) -> int:
        """The row of `word`.

        Raises:
            UnknownWordError: naming close matches, or saying it is out of vocabulary.
        """
        token = self.normalize(word)
        if token in self._index and token != self.vocabulary[0]:
            return self._index[token]
        close = difflib.get_close_matches(token, self.vocabulary[1:], n=3, cutoff=0.75)
        if close:
            raise UnknownWordError(
                f"{word!r} is not in the vocabulary. Close matches: {', '.join(close)}."
            )
        raise UnknownWordError(
            f"{word!r} is out of vocabulary ({len(self.vocabulary) - 1} words, [UNK] aside)."
        )

    def vector(self, word: str) -> np.ndarray:
        return self.vectors[self.index(word)]

    def nearest(self, query: np.ndarray, k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The k words of highest cosine similarity to a query vector (D,), [UNK] and `exclude` left out."""
        check_positive_int("k", k)
        query = np.asarray(query, np.float32)
        cosine = self._unit @ (query / max(float(np.linalg.norm(query)), 1e-12))  # (V,)
        cosine[[0, *exclude]] = -np.inf
        best = np.argsort(-cosine, kind="stable")[:k]
        return [(self.vocabulary[i], float(cosine[i])) for i in best if np.isfinite(cosine[i])]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k nearest words to `word` by cosine similarity (the word itself excluded)."""
        i = self.index(word)
        return self.nearest(self._unit[i], k, exclude=(i,))

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """a is to b as c is to ?: the words nearest to b - a + c (3CosAdd on unit vectors).

        `analogy("man", "king", "woman")` asks for king - man + woman; the
        three query words are excluded (Mikolov, Yih & Zweig 2013).
        """
        ia, ib, ic = self.index(a), self.index(b), self.index(c)
        query = self._unit[ib] - self._unit[ia] + self._unit[ic]
        return self.nearest(query, k, exclude=(ia, ib, ic))

    def write_projector(self, folder) -> dict[str, Path]:
        """TensorBoard projector files: vectors.tsv (V rows of D floats), metadata.tsv
        (the V words in the same order, one per line, no header) and projector_config.pbtxt.

        Load them at https://projector.tensorflow.org or point TensorBoard at `folder`.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"vectors": folder / "vectors.tsv", "metadata": folder / "metadata.tsv",
                 "config": folder / "projector_config.pbtxt"}
        np.savetxt(paths["vectors"], self.vectors, delimiter="\t", fmt="%.6g")
        # A token may be a tab or newline (character level): escape so each row is one line.
        escaped = [w.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                   for w in self.vocabulary]
        paths["metadata"].write_text("".join(f"{w}\n" for w in escaped), encoding="utf-8")
        paths["config"].write_text(
            'embeddings {\n  tensor_path: "vectors.tsv"\n  metadata_path: "metadata.tsv"\n}\n')
        return paths


# --- serving ---------------------------------------------------------------------


def vector_serving_model(model, vocabulary, level="word_lower", input_name="words",
                         output_name="embedding"):
    """Words (B,) strings -> their vectors (B, D); unknown words get [UNK]'s vector."""
    word_layer, _ = embedding_layers(model)
    words = keras.Input(shape=(), dtype="string", name=input_name)
    ids = WordLookup(vocabulary, level, name="word_lookup")(words)  # (B,)
    ids = keras.layers.Reshape((1,), name="as_context")(ids)  # (B, 1)
    vectors = keras.layers.Identity(name=output_name)(word_layer(ids))  # (B, D)
    return keras.Model(words, vectors, name=f"{model.name}_serving")


def vector_ids_model(model, output_name="embedding"):
    """Word ids (B,) int32 -> vectors (B, D); XLA-compilable (no string ops)."""
    word_layer, _ = embedding_layers(model)
    ids = keras.Input(shape=(), dtype="int32", name="word_ids")
    as_context = keras.layers.Reshape((1,), name="as_context")(ids)
    vectors = keras.layers.Identity(name=output_name)(word_layer(as_context))
    return keras.Model(ids, vectors, name=f"{model.name}_word_ids")


def export_arguments(model, spec, plan, metadata: dict) -> dict:
    """`zoo.runtime.exporter.export` arguments of a word-vector model: words in
    (`serving_default`, string ops, no XLA) and word ids in (`word_ids`, XLA-compiled)."""
    from zoo.runtime.exporter import Endpoint

    tokens = [str(t) for t in plan.info.class_names]
    level = plan.data_options.get("level", "word_lower")
    ids = np.arange(1, min(len(tokens), 9), dtype="int32")
    # Known words, one in capitals (normalized in the graph) and one unknown ([UNK]).
    words = np.array([tokens[i] for i in ids] + [tokens[int(ids[-1])].upper(),
                                                 "zzz-not-a-word-zzz"])
    return dict(
        serving=vector_serving_model(model, tokens, level, "words", spec.output_name),
        input_name="words",
        output_name=spec.output_name,
        sample=words,
        # Id 0 is `[UNK]`, the vector `serving_default` gives an unknown word.
        endpoints={"word_ids": Endpoint(vector_ids_model(model, spec.output_name), "word_ids",
                                        spec.output_name, "int32", ids,
                                        value_range=(0, len(tokens)))},
        class_names=tokens,
        metadata={**metadata, "level": level},
    )
