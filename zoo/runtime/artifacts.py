"""What the task tools read from a run folder or an export: GAN samples (`zoo sample`),
an autoencoder (`zoo tiles`, `zoo codes`), word vectors (`zoo vectors`).

Run folders are the runtime's (`zoo.runtime.run`); the tools themselves live with
their tasks (`zoo.tasks.gan`, `zoo.tasks.autoencoding`, `zoo.tasks.word_vectors`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo._common import check_positive_int
from zoo.registry import get_spec
from zoo.runtime.run import Run, load_model
from zoo.tasks import get_task
from zoo.tasks.gan import SAMPLE_SIGNATURE, Gan, serving_models
from zoo.tasks.word_vectors import WordVectors


def sample_images(source, count: int = 64, seed: int = 0, checkpoint: str = "best") -> np.ndarray:
    """uint8 images (count, H, W, C) for seeds seed, ..., seed + count - 1, from a
    DCGAN run folder (its `best.keras` or final `model.keras`) or a SavedModel
    export (its `sample` signature, TensorFlow only). Both give the same images."""
    check_positive_int("count", count)
    source = Path(source)
    seeds = np.arange(seed, seed + count, dtype="int32")
    if (source / "saved_model.pb").exists():
        import tensorflow as tf

        loaded = tf.saved_model.load(str(source))
        if SAMPLE_SIGNATURE not in loaded.signatures:
            raise ValueError(f"{source} is not a generator export: it has no "
                             f"{SAMPLE_SIGNATURE!r} signature (it has: "
                             f"{', '.join(loaded.signatures)}).")
        outputs = loaded.signatures[SAMPLE_SIGNATURE](seed=tf.constant(seeds))
        return next(iter(outputs.values())).numpy()
    run = Run(source)
    if run.exists():
        model_name = run.settings["model"]
        if not isinstance(get_task(get_spec(model_name)), Gan):
            raise ValueError(f"{source} is a run of {model_name!r}, not of a generator.")
        model = run.load(checkpoint, compile=False)
        return np.asarray(serving_models(model.generator)[1](seeds))
    raise FileNotFoundError(
        f"{source} is neither a run folder (run.json) nor a SavedModel export (saved_model.pb).")


def load_autoencoder(source, checkpoint="best"):
    """The model of a `zoo train` run folder (its "best" or "final" checkpoint) or a .keras file."""
    path = Path(source)
    if path.is_dir():
        return Run(path).load(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; expected a run folder written by "
                                f"`zoo train` or a .keras file.")
    return load_model(path)


def word_vectors_from_run(run_dir) -> WordVectors:
    """The vectors of a `zoo train` run folder (its final model and saved vocabulary)."""
    run = Run(run_dir)
    level = run.settings["data_options"].get("level", "word_lower")
    return WordVectors.from_model(run.load("final", compile=False), run.vocabulary(), level)
