"""Check the extra formats of an export in a process that imports only their runtimes.

Run as a script (never imported):
    python _verify_formats.py EXPORT_DIR ARRAYS.npz PLAN.json PARENT_PID
PLAN.json lists one entry per (format, signature): the file, its input names, the
output to compare and the index of its `inputs<i>__<name>` / `expected<i>` arrays.
ONNX files run in onnxruntime, `.tflite` files in `ai_edge_litert.interpreter`
(their signature runner). Prints one JSON line: per entry the largest abs
difference, or the runtime's error with the op it names; whether TensorFlow or any
zoo module was imported (neither may be). Exits when PARENT_PID dies.
"""

import json
import os
import re
import sys

from _parent_watch import exit_with_parent  # a sibling script file (sys.path[0])

if __name__ == "__main__":
    exit_with_parent(int(sys.argv[4]))  # before the runtimes' imports

import numpy as np  # noqa: E402


def main(folder: str, arrays_path: str, plan_path: str) -> None:
    data = np.load(arrays_path, allow_pickle=False)
    plan = json.loads(open(plan_path).read())
    results = []
    for entry in plan:
        i = entry["index"]
        inputs = {name: data[f"inputs{i}__{name}"] for name in entry["inputs"]}
        path = os.path.join(folder, entry["file"])
        item = {"format": entry["format"], "signature": entry["signature"]}
        try:
            run = run_onnx if entry["format"] == "onnx" else run_litert
            outputs = run(path, entry["signature"], inputs)
            output = outputs.get(entry["output_name"])
            if output is None:  # one output under another name
                (output,) = outputs.values()
            expected = data[f"expected{i}"]
            item["max_abs_diff"] = float(np.max(np.abs(
                np.asarray(output).astype(np.float64) - expected.astype(np.float64))))
        except Exception as exc:  # reported, judged by the caller
            item["error"] = runtime_error(entry["format"], exc)
        results.append(item)
    print("VERIFY_RESULT " + json.dumps({
        "results": results,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "zoo_imported": any(m == "zoo" or m.startswith("zoo.") for m in sys.modules),
    }))


def run_onnx(path: str, signature: str, inputs: dict) -> dict:
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feed = {i.name: inputs[i.name] for i in session.get_inputs()}
    return dict(zip(names, session.run(names, feed)))


def run_litert(path: str, signature: str, inputs: dict) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner(signature)
    return runner(**inputs)


def runtime_error(fmt: str, exc: Exception) -> str:
    """The runtime's error, naming the op where it says one."""
    text = str(exc)
    op = re.search(r"running (\w+) node", text) or re.search(r"Node number \d+ \((\w+)\)", text)
    runtime = "ONNX Runtime" if fmt == "onnx" else "LiteRT"
    if op:
        return f"{runtime} fails on op {op[1]}: {text.splitlines()[0][:300]}"
    return f"{runtime} fails: {type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


if __name__ == "__main__":
    main(*sys.argv[1:4])
