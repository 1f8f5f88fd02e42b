"""Word vectors from a text corpus: word pairs in, a vector per word out.

word2vec is trained by gradient descent (`WordEmbedding`); PPMI + SVD vectors are
set from counts (`CountVectors`). Both serve words (strings) or word ids, and
`WordVectors` answers queries on the vectors (nearest words, analogies).
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

import keras
import numpy as np

from pipelines.layers import VocabularyLayer
from zoo._common import check_positive_int
from zoo.models.word_vectors import (cooccurrence_counts, embedding_layers, ppmi, shift_layer,
                                     svd_singular_values, svd_vectors)
from zoo.tasks.base import Task, register_task
from zoo.tasks.serving import Endpoint, string_serving_model


class WordEmbedding(Task):
    name = "embedding"
    loss = None
    metrics = ()
    output_name = "embedding"
    trains_on_text = True

    def data_options(self, spec, dataset, options: dict) -> None:
        """Word vectors read a text corpus as word pairs (`pipelines.word_pairs`); the
        pairing (skip-gram or CBOW) is the model's own, whatever the corpus."""
        import pipelines

        if pipelines.resolve(str(dataset), options.get("data_dir")).kind != "text":
            raise ValueError(f"Model {spec.name!r} learns word vectors; dataset {dataset!r} "
                             f"is not a text corpus.")
        pairing = spec.dataset_options.get("pairs", "skipgram")
        if options.setdefault("pairs", pairing) != pairing:
            raise ValueError(f"Model {spec.name!r} trains on {pairing!r} pairs. "
                             f"Received: pairs={options['pairs']!r}")

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict:
        """`zoo.runtime.exporter.export` arguments of a word-vector model: words in
        (`serving_default`, string ops, no XLA) and word ids in (`word_ids`, XLA-compiled)."""
        tokens = [str(t) for t in plan.info.class_names]
        level = plan.data_options.get("level", "word_lower")
        ids = np.arange(1, min(len(tokens), 9), dtype="int32")
        # Known words, one in capitals (normalized in the graph) and one unknown ([UNK]).
        words = np.array([tokens[i] for i in ids] + [tokens[int(ids[-1])].upper(),
                                                     "zzz-not-a-word-zzz"])
        return dict(
            serving=vector_serving_model(model, tokens, level, self.serving_input_name(plan),
                                         self.output_name_for(spec)),
            input_name=self.serving_input_name(plan),
            output_name=self.output_name_for(spec),
            sample=words,
            # Id 0 is `[UNK]`, the vector `serving_default` gives an unknown word.
            endpoints={"word_ids": Endpoint(vector_ids_model(model, self.output_name_for(spec)), "word_ids",
                                            self.output_name_for(spec), "int32", ids,
                                            value_range=(0, len(tokens)))},
            class_names=tokens,
            metadata={**metadata, "level": level},
        )

    def serving_input_name(self, plan) -> str:
        return "words"

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """A score for each candidate word."""
        return (input_shape[0], input_shape[1])

    def run_files(self, spec, plan, run) -> None:
        """The vocabulary travels with the vectors (`zoo vectors`, exports)."""
        run.write_vocabulary(plan.info.class_names)


register_task(WordEmbedding())


class CountVectors(WordEmbedding):
    """Vectors set from window co-occurrence counts, positive PMI and a truncated SVD."""

    name = "count_vectors"
    trained_by_gradients = False

    def fit_without_gradients(self, spec, model, plan, seed: int = 0) -> dict:
        """Set `model`'s vectors from PPMI + truncated SVD of its plan's training split.

        The window is the plan's `window` option; the vocabulary is the plan's
        (training split only). Returns what was fitted: vocabulary size, counted
        pairs and the share of the PPMI matrix's energy the kept components hold.
        """
        from pipelines import word_pairs

        options = {k: v for k, v in plan.data_options.items() if k in word_pairs.PAIR_OPTIONS
                   or k in ("data_dir", "manual_dir", "offline")}
        pairing = word_pairs.check_options(
            {k: v for k, v in options.items() if k in word_pairs.PAIR_OPTIONS})
        window, negatives = pairing["window"], pairing["negatives"]
        ids = word_pairs.split_ids(plan.dataset, plan.train_split, **options)
        word_layer, context_layer = embedding_layers(model)
        vocab_size = word_layer.input_dim
        counts = cooccurrence_counts(ids, vocab_size, window)
        matrix = ppmi(counts)
        words, contexts = svd_vectors(matrix, word_layer.output_dim, seed)
        word_layer.embeddings.assign(words)
        context_layer.embeddings.assign(contexts)
        shift_layer(model).shift.assign(-np.log(negatives))
        kept = np.sum(svd_singular_values(words, contexts) ** 2)  # squared Frobenius norm kept
        total = max(float(matrix.multiply(matrix).sum()), 1e-12)
        return {"vocab_size": vocab_size, "pairs": int(counts.sum()),
                "energy_kept": float(kept / total)}


register_task(CountVectors())


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


class UnknownWordError(KeyError):
    """A query word that is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text.
        return str(self.args[0])


@dataclasses.dataclass
class WordVectors:
    """Word vectors (V, D) and their vocabulary (V,), row i = word i; [UNK] is row 0.

    Example:
        >>> vectors = zoo.runtime.artifacts.word_vectors_from_run("runs/ppmi_svd-tiny_shakespeare")
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


def vector_serving_model(model, vocabulary, level="word_lower", input_name="words",
                         output_name="embedding"):
    """Words (B,) strings -> their vectors (B, D); unknown words get [UNK]'s vector."""
    word_layer, _ = embedding_layers(model)

    def vectors(ids, _):
        as_context = keras.layers.Reshape((1,), name="as_context")(ids)  # (B, 1)
        return keras.layers.Identity(name=output_name)(word_layer(as_context))  # (B, D)

    return string_serving_model(model, WordLookup(vocabulary, level, name="word_lookup"),
                                vectors, input_name)


def vector_ids_model(model, output_name="embedding"):
    """Word ids (B,) int32 -> vectors (B, D); XLA-compilable (no string ops)."""
    word_layer, _ = embedding_layers(model)
    ids = keras.Input(shape=(), dtype="int32", name="word_ids")
    as_context = keras.layers.Reshape((1,), name="as_context")(ids)
    vectors = keras.layers.Identity(name=output_name)(word_layer(as_context))
    return keras.Model(ids, vectors, name=f"{model.name}_word_ids")
