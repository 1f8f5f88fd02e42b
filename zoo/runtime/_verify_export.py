"""Check a SavedModel export in a process that imports only TensorFlow.

Run as a script (never imported):
    python _verify_export.py EXPORT_DIR CHECK.npz PLAN.json PARENT_PID
PLAN.json lists the signatures to check (name, tensor names, whether XLA
must compile it, the index of its `inputs<i>`/`expected<i>` arrays in
CHECK.npz; `labels` optionally). Prints one JSON line: the largest abs
difference over all signatures, plain and under XLA, per-signature figures,
accuracy of `serving_default` when labels are given, and whether any zoo
module was imported (it must not be). It exits as soon as PARENT_PID, the
exporting process, dies: a killed export leaves no check running on.
"""

import json
import sys

from _parent_watch import exit_with_parent  # a sibling script file (sys.path[0])

if __name__ == "__main__":
    exit_with_parent(int(sys.argv[4]))  # before TensorFlow's import, which takes seconds

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(export_dir: str, check_path: str, plan_path: str) -> None:
    data = np.load(check_path)
    plan = json.loads(open(plan_path).read())
    loaded = tf.saved_model.load(export_dir)
    result = {"max_abs_diff": 0.0, "xla_max_abs_diff": None, "xla_error": None, "signatures": {}}
    for entry in plan:
        i, name = entry["index"], entry["signature"]
        serve = loaded.signatures[name]
        if entry.get("columns"):  # a table: one input per column
            inputs = {c: tf.constant(data[f"inputs{i}__{c}"]) for c in entry["columns"]}
        else:
            inputs = {entry["input_name"]: tf.constant(data[f"inputs{i}"])}
        expected = data[f"expected{i}"]
        served = serve(**inputs)
        outputs = served[entry["output_name"]].numpy()
        diff = _max_abs_diff(outputs, expected)
        figures = {"max_abs_diff": diff}
        if entry.get("class_names"):  # `classify`: the likeliest class, by name
            names = entry["class_names"]
            index = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[-1] == 1 else (
                outputs.argmax(axis=-1))
            got = [v.decode() for v in served["class_name"].numpy()]
            figures["class_names_match"] = got == [names[j] for j in index]
        result["max_abs_diff"] = max(result["max_abs_diff"], diff)
        if name == "serving_default":
            result["input_names"] = sorted(serve.structured_input_signature[1])
            result["output_names"] = sorted(serve.structured_outputs)
            if "labels" in data:
                result["accuracy"] = _accuracy(outputs, data["labels"])
        if entry["xla"]:
            try:
                xla = tf.function(
                    lambda x, serve=serve, entry=entry: serve(**x)[entry["output_name"]],
                    jit_compile=True,
                )
                xla_diff = _max_abs_diff(xla(inputs).numpy(), expected)
                figures["xla_max_abs_diff"] = xla_diff
                result["xla_max_abs_diff"] = max(result["xla_max_abs_diff"] or 0.0, xla_diff)
            except Exception as exc:  # reported, judged by the caller
                result["xla_error"] = f"{name}: {type(exc).__name__}: {str(exc)[:2000]}"
        result["signatures"][name] = figures
    result["zoo_imported"] = any(m == "zoo" or m.startswith("zoo.") for m in sys.modules)
    print("VERIFY_RESULT " + json.dumps(result))


def _max_abs_diff(outputs, expected) -> float:
    # In float64: uint8 outputs (images) would wrap around when subtracted.
    return float(np.max(np.abs(outputs.astype(np.float64) - expected.astype(np.float64))))


def _accuracy(outputs, labels) -> float:
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(axis=1)
    else:
        predicted = (outputs.reshape(len(outputs), -1)[:, 0] > 0.5).astype(labels.dtype)
    return float(np.mean(predicted == labels.reshape(len(labels), -1)[:, 0]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
