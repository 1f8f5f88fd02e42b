"""Check a SavedModel export in a process that imports only TensorFlow.

Run as a script (never imported): python _verify_export.py EXPORT_DIR CHECK.npz
CHECK.npz holds `inputs`, `expected` and optionally `labels`. Prints one JSON
line: max abs difference plain and under XLA, accuracy when labels are given,
and whether any zoo module was imported (it must not be).
"""

import json
import sys

import numpy as np
import tensorflow as tf


def main(export_dir: str, check_path: str, input_name: str, output_name: str) -> None:
    data = np.load(check_path)
    inputs = tf.constant(data["inputs"])
    loaded = tf.saved_model.load(export_dir)
    serve = loaded.signatures["serving_default"]
    outputs = serve(**{input_name: inputs})[output_name].numpy()
    result = {
        "max_abs_diff": float(np.max(np.abs(outputs - data["expected"]))),
        "input_names": sorted(serve.structured_input_signature[1]),
        "output_names": sorted(serve.structured_outputs),
    }
    try:
        xla = tf.function(lambda x: serve(**{input_name: x})[output_name], jit_compile=True)
        xla_outputs = xla(inputs).numpy()
        result["xla_max_abs_diff"] = float(np.max(np.abs(xla_outputs - data["expected"])))
        result["xla_error"] = None
    except Exception as exc:  # reported, judged by the caller
        result["xla_max_abs_diff"] = None
        result["xla_error"] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    if "labels" in data:
        labels = data["labels"]
        if outputs.ndim == 2 and outputs.shape[1] > 1:
            predicted = outputs.argmax(axis=1)
        else:
            predicted = (outputs.reshape(len(outputs), -1)[:, 0] > 0.5).astype(labels.dtype)
        result["accuracy"] = float(np.mean(predicted == labels.reshape(len(labels), -1)[:, 0]))
    result["zoo_imported"] = any(m == "zoo" or m.startswith("zoo.") for m in sys.modules)
    print("VERIFY_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:5])
