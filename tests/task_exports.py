"""Export one model per task and read back what the SavedModel serves.

`python3 tests/task_exports.py --record` writes tests/data/task_exports.{json,npz}
from the code checked out; tests/test_tasks.py exports the same models with the code
under test and compares: the same signatures, tensor names, shapes, dtypes and
manifest entries, and outputs within 1e-6 on the same inputs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
# One model per task and export kind (the stacked autoencoder and PPMI-SVD are
# their own tasks' models; rnn_classifier on labelled text is tested apart).
MODELS = ("linear_regression", "logistic_regression", "mlp", "lenet5", "darnn", "char_rnn",
          "transformer", "autoencoder", "dcgan", "word2vec_skipgram", "ppmi_svd",
          "stacked_autoencoder")
TEXTS = np.array(["to be or not", "First Citizen", "", "the king is dead, long live"])
MANIFEST_KEYS = ("signature", "inputs", "outputs", "signatures", "preprocessing", "class_names",
                 "model", "family", "task", "builder_args", "training_data", "level",
                 "vocabulary_size", "latent_dim", "seed_range", "vocabulary")


def signature_inputs(entry: dict, batch: int = 4) -> np.ndarray:
    """Fixed inputs for one signature, read from its manifest entry."""
    (spec,) = entry["inputs"].values()
    rng = np.random.default_rng(0)
    shape = tuple(batch if i == 0 else (8 if d is None else d) for i, d in enumerate(spec["shape"]))
    multiple = spec.get("size_multiple", 1)
    shape = tuple(-(-d // multiple) * multiple if i else d for i, d in enumerate(shape))
    if spec["dtype"] == "string":
        return TEXTS[:batch]
    if np.dtype(spec["dtype"]).kind in "ui":
        low, high = spec.get("value_range") or (0, 256 if spec["dtype"] == "uint8" else 10)
        return rng.integers(low, high, size=shape).astype(spec["dtype"])
    return rng.normal(size=shape).astype(spec["dtype"])


def export_one(name: str, base_dir: Path) -> tuple[dict, dict]:
    """Export `name` (seeded weights, test size, not trained) and serve the fixed inputs:
    (manifest entries, {signature: outputs})."""
    import keras
    import tensorflow as tf

    import zoo
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.plan import plan_data

    spec = zoo.get_spec(name)
    plan = plan_data(spec, overrides=spec.test_args)
    keras.utils.set_random_seed(0)
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=base_dir, verify=False)
    manifest = {k: result.manifest[k] for k in MANIFEST_KEYS if k in result.manifest}
    loaded = tf.saved_model.load(str(result.path))
    outputs = {}
    for sig, entry in result.manifest["signatures"].items():
        (input_name,) = entry["inputs"]
        served = loaded.signatures[sig](**{input_name: tf.constant(signature_inputs(entry))})
        for output_name in entry["outputs"]:  # one, or `classify`'s class name and probabilities
            key = sig if len(entry["outputs"]) == 1 else f"{sig}.{output_name}"
            values = served[output_name].numpy()
            outputs[key] = values.astype(str) if values.dtype == object else values
    return json.loads(json.dumps(manifest)), outputs


def record() -> None:
    DATA.mkdir(exist_ok=True)
    manifests, arrays = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            manifests[name], outputs = export_one(name, Path(tmp))
            for sig, values in outputs.items():
                arrays[f"{name}/{sig}"] = values
    (DATA / "task_exports.json").write_text(json.dumps(manifests, indent=1, sort_keys=True))
    np.savez_compressed(DATA / "task_exports.npz", **arrays)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    record()
