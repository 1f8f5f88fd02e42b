"""`zoo generate`: sample text from a trained language model.

The source is a `zoo train` run folder (its `best.keras` and saved
vocabulary) or a language-model export (`saved_models/<name>/<version>`, read
with TensorFlow only through its `token_ids` signature and manifest).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from zoo.runtime.run import CHECKPOINTS, Run

# Tokens of context fed back at each step when the training window is unknown.
MAX_CONTEXT = 512


def _from_run(folder: Path):
    run = Run(folder)
    spec, plan = run.plan()
    if spec.task != "language_model":
        raise ValueError(f"{folder} holds a {spec.task} model ({spec.name}), not a language model.")
    which = "best" if (folder / CHECKPOINTS["best"]).exists() else "final"
    model = run.load(which, compile=False)

    def next_probabilities(ids):
        return np.asarray(model(ids, training=False))[:, -1]

    options = plan.data_options
    return (next_probabilities, run.vocabulary(), options.get("level", "char"),
            options.get("seq_len", MAX_CONTEXT))


def _from_export(export_dir: Path):
    import tensorflow as tf

    manifest = json.loads((export_dir / "manifest.json").read_text())
    if manifest.get("task") != "language_model":
        raise ValueError(
            f"{export_dir} is a {manifest.get('task')} export, not a language model."
        )
    serve = tf.saved_model.load(str(export_dir)).signatures["token_ids"]
    output = next(iter(manifest["signatures"]["token_ids"]["outputs"]))

    def next_probabilities(ids):
        return serve(token_ids=tf.constant(ids, tf.int32))[output].numpy()

    options = manifest.get("training_data", {}).get("options", {})
    return (next_probabilities, tuple(manifest["class_names"]), manifest.get("level", "char"),
            options.get("seq_len", MAX_CONTEXT))


def load_sampler(source: str | os.PathLike) -> tuple[Callable, tuple, str, int]:
    """`(next_probabilities(ids) -> (B, V), vocabulary, level, context)` of a run or an
    export; `context` is the training window (`seq_len`), the longest context fed back:
    a Transformer has never seen positions beyond it."""
    source = Path(source)
    if Run(source).exists():
        return _from_run(source)
    if (source / "manifest.json").exists():
        return _from_export(source)
    raise FileNotFoundError(
        f"{source} is neither a run folder (run.json) nor an export (manifest.json)."
    )


def sample_next(probabilities: np.ndarray, temperature: float, top_k: int | None,
                rng: np.random.Generator) -> int:
    """One token id from `probabilities` (V,), sharpened by `temperature`, cut to `top_k`.

    Id 0, the out-of-vocabulary token, is never sampled.
    """
    logits = np.log(np.maximum(probabilities.astype("float64"), 1e-30)) / temperature
    if len(logits) > 1:
        logits[0] = -np.inf  # never emit the out-of-vocabulary token
    if top_k is not None and top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < cutoff, -np.inf, logits)
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def generate(source, prompt: str = "", length: int = 300, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None) -> str:
    """Continue `prompt` by `length` tokens sampled from a language model.

    Args:
        source: A run folder or a language-model export folder.
        prompt: Text to start from (tokenized like the training data;
            unknown tokens become `[UNK]`).
        length: Tokens to generate.
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: Sample only among the k most likely tokens.
        seed: Seed of the sampler (None: a fresh one each call).

    Returns:
        The prompt followed by the generated text.

    Example:
        >>> print(generate("runs/lstm_lm-tiny_shakespeare", "ROMEO:", length=200,
        ...                temperature=0.8))
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"`length` must be an integer >= 1. Received: length={length!r}")
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"`top_k` must be an integer >= 1. Received: top_k={top_k!r}")
    from pipelines.layers import TextToIds

    next_probabilities, vocabulary, level, context_length = load_sampler(source)
    ids, count = TextToIds(vocabulary, level)(np.array([prompt]))
    ids = list(np.asarray(ids)[0, : int(np.asarray(count)[0])])
    if not ids:
        ids = [0]  # an empty prompt starts from [UNK]
    rng = np.random.default_rng(seed)
    generated = []
    for _ in range(length):
        context = np.array([ids[-context_length:]], dtype="int32")
        token = sample_next(next_probabilities(context)[0], temperature, top_k, rng)
        ids.append(token)
        generated.append(vocabulary[token])
    if level == "char":
        return prompt + "".join(generated)
    words = " ".join(generated).replace(" <eos> ", "\n").replace("<eos>", "\n")
    return prompt + ("" if prompt.endswith(("\n", " ")) or not prompt else " ") + words
