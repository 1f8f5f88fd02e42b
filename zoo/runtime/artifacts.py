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
from zoo.runtime.run import VOCABULARY_FILE, checkpoint_path, load_model, read_run_file
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
    if (source / "run.json").exists():
        settings = read_run_file(source)["settings"]
        if not isinstance(get_task(get_spec(settings["model"])), Gan):
            raise ValueError(f"{source} is a run of {settings['model']!r}, not of a generator.")
        model = load_model(checkpoint_path(source, checkpoint), compile=False)
        return np.asarray(serving_models(model.generator)[1](seeds))
    raise FileNotFoundError(
        f"{source} is neither a run folder (run.json) nor a SavedModel export (saved_model.pb).")


def load_autoencoder(source, checkpoint="best"):
    """The model of a `zoo train` run folder (its "best" or "final" checkpoint) or a .keras file."""
    path = Path(source)
    if path.is_dir():
        return load_model(checkpoint_path(path, checkpoint))
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; expected a run folder written by "
                                f"`zoo train` or a .keras file.")
    return load_model(path)


def word_vectors_from_run(run_dir) -> WordVectors:
    """The vectors of a `zoo train` run folder (its final model and saved vocabulary)."""
    from pipelines import text

    run_dir = Path(run_dir)
    settings = read_run_file(run_dir)["settings"]
    model = load_model(run_dir / "model.keras", compile=False)
    tokens = text.read_vocabulary(run_dir / VOCABULARY_FILE)
    level = settings["data_options"].get("level", "word_lower")
    return WordVectors.from_model(model, tokens, level)
