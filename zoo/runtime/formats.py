"""Extra export formats beside the SavedModel: ONNX (`model.onnx`) and LiteRT (`model.tflite`).

Both are converted from the SavedModel's own signatures, the ones TF Serving
serves (preprocessing and input checks in the graph), not from the Keras model:
`keras.Model.export(format="onnx" | "litert")` traces the bare model, so it would
drop the zoo's named, checked, raw-input signatures. ONNX goes through tf2onnx
(`from_function` on the reloaded signature, opset 17), LiteRT through
`tf.lite.TFLiteConverter.from_saved_model` (builtin ops only, so the file runs on
the plain LiteRT runtime).

One file per signature and format: the first signature that converts is
`model.onnx` / `model.tflite`, any other `model.<signature>.onnx` / `.tflite`. A
signature that takes or returns strings is not converted (no tokenizer runs in
ONNX Runtime or builtin LiteRT; the `token_ids` / `word_ids` signature carries the
model instead), and one whose conversion or verification fails is not kept: both
are listed in the manifest under `formats.<format>.skipped` with the reason (the
converter's failing op); `zoo export` prints them. A format may end with no file
(a recurrent language model's only numeric signature in LiteRT builtins): the
SavedModel and the other formats are still written.

Each kept file is verified in a fresh process that imports only the runtimes
(`_verify_formats.py`: onnxruntime, ai_edge_litert; never TensorFlow) on the
SavedModel check's raw inputs, within the same tolerance.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from zoo.runtime.export_checks import ExportError, tolerance_for

FORMATS = ("saved_model", "onnx", "litert")
EXTRA = {"onnx": ".onnx", "litert": ".tflite"}
# The package each extra format needs (converter and runtime), and its pip extra.
PACKAGES = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}
ONNX_OPSET = 17


def check_formats(formats: str | Sequence[str] | None, verify: bool = True) -> tuple[str, ...]:
    """The export formats asked for, "saved_model" first (always written).

    `formats` is a comma-separated string ("saved_model,onnx") or a sequence. An
    unknown format, one whose packages are missing, or an extra format without
    `verify` (never kept unverified) is a ValueError.
    """
    import importlib.util

    if formats is None:
        return ("saved_model",)
    given = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else list(formats)
    unknown = [f for f in given if f not in FORMATS]
    if unknown or not given:
        raise ValueError(f"`formats` must be among {', '.join(FORMATS)}. "
                         f"Received: formats={formats!r}")
    for fmt in given:
        missing = [p for p in PACKAGES.get(fmt, ()) if importlib.util.find_spec(p) is None]
        if missing:
            raise ValueError(f"Format {fmt!r} needs {', '.join(missing)}: "
                             f"pip install -e \".[{fmt}]\"")
    chosen = ("saved_model", *[f for f in FORMATS[1:] if f in given])
    if len(chosen) > 1 and not verify:
        raise ValueError(f"Extra formats are kept only when verified. Received: verify=False, "
                         f"formats={','.join(chosen)}")
    return chosen


def skip_reason(check: dict) -> str | None:
    """Why a signature is not converted to any extra format (None: it is tried)."""
    inputs = check["inputs"]
    if isinstance(inputs, dict):  # a table's columns
        text = [name for name, a in inputs.items() if np.asarray(a).dtype.kind in "USO"]
        if text:
            columns = f"column{'s' * (len(text) > 1)} {', '.join(text)}"
            return (f"takes strings ({columns}), which ONNX Runtime and builtin LiteRT cannot "
                    "look up; a table of numeric columns converts")
    elif np.asarray(inputs).dtype.kind in "USO":
        return ("takes strings, which ONNX Runtime and builtin LiteRT cannot tokenise; "
                "a numeric signature (`token_ids`, `word_ids`) with vocabulary.txt serves "
                "the same model where the task has one")
    if check.get("class_names"):
        return ("returns strings (`class_name`); `serving_default` returns the same "
                "probabilities")
    return None


def convert(saved: Path, checks: Mapping[str, dict], formats: Sequence[str]) -> dict:
    """Write the extra formats' files into the SavedModel folder `saved`.

    Returns {format: {"signatures": {sig: {"file", "inputs", "outputs"}}, "skipped":
    {sig: reason}}}, before verification (`verify` then drops what does not match).
    """
    import tensorflow as tf

    entries = {}
    loaded = tf.saved_model.load(str(saved)) if "onnx" in formats else None
    for fmt in formats:
        if fmt not in EXTRA:
            continue
        kept, skipped = {}, {}
        for sig, check in checks.items():
            reason = skip_reason(check)
            if reason is None:
                name = f"model{EXTRA[fmt]}" if not kept else f"model.{sig}{EXTRA[fmt]}"
                try:
                    if fmt == "onnx":
                        kept[sig] = _to_onnx(loaded.signatures[sig], saved / name)
                    else:
                        kept[sig] = _to_litert(saved, sig, saved / name)
                    kept[sig]["file"] = name
                except ConversionError as exc:
                    reason = str(exc)
            if reason is not None:
                skipped[sig] = reason
        entries[fmt] = {"signatures": kept, "skipped": skipped}
    return entries


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 sent to /dev/null for a conversion: the converters' C++ passes
    (MLIR diagnostics, TensorFlow's graph optimizers) print there, and what matters of
    it reaches the exception (whose message names the failing op) or tf2onnx's log."""
    sys.stderr.flush()
    kept = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(kept, 2)
        os.close(kept)


class ConversionError(RuntimeError):
    """A converter refused a signature; the message names the op."""


def _to_onnx(function, path: Path) -> dict:
    """tf2onnx on one SavedModel signature; the file is checked by `onnx.checker` (tf2onnx
    writes unsupported TensorFlow ops into the graph and still succeeds)."""
    import onnx
    import tf2onnx

    specs = list(function.structured_input_signature[1].values())
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logger = logging.getLogger("tf2onnx")
    logger.addHandler(handler)
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_silenced():
            model, _ = tf2onnx.convert.from_function(
                types.SimpleNamespace(get_concrete_function=lambda *_: function),
                input_signature=specs, opset=ONNX_OPSET)
        _freeze_captures(model, function)
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # the converter's own error, or the checker's
        raise ConversionError(_onnx_failure(log.getvalue(), str(exc))) from None
    finally:
        logger.removeHandler(handler)
    _rename_outputs(model, function)
    path.write_bytes(model.SerializeToString())
    return {"inputs": {i.name: _onnx_tensor(i) for i in model.graph.input},
            "outputs": {o.name: _onnx_tensor(o) for o in model.graph.output}}


def _freeze_captures(model, function) -> None:
    """Turn the graph inputs tf2onnx makes of a signature's captured constants
    ("unknown:0", e.g. DA-RNN's) into initializers holding their values, so the ONNX
    model takes the signature's inputs only."""
    import onnx.numpy_helper

    first = len(function.inputs) - len(function.captured_inputs)
    values = {placeholder.name: captured.numpy()
              for placeholder, captured in zip(function.inputs[first:], function.captured_inputs)
              if captured.dtype.name != "resource"}
    kept = [i for i in model.graph.input if i.name not in values]
    model.graph.initializer.extend(onnx.numpy_helper.from_array(values[i.name], i.name)
                                   for i in model.graph.input if i.name in values)
    del model.graph.input[:]
    model.graph.input.extend(kept)


def _rename_outputs(model, function) -> None:
    """Give the ONNX outputs the signature's names ("probabilities", not "Identity:0"):
    `function.outputs` are the flattened `structured_outputs`, whose keys sort."""
    import tensorflow as tf

    names = dict(zip((t.name for t in function.outputs),
                     sorted(tf.nest.flatten(list(function.structured_outputs)))))
    for node in model.graph.node:
        node.output[:] = [names.get(n, n) for n in node.output]
        node.input[:] = [names.get(n, n) for n in node.input]
    for output in model.graph.output:
        output.name = names.get(output.name, output.name)


def _onnx_tensor(value) -> dict:
    import onnx

    tensor = value.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return {"dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name, "shape": dims}


def _onnx_failure(log: str, error: str) -> str:
    """The op named by tf2onnx's log ("Unsupported ops: Counter({'BitwiseAnd': 2})") or by
    the checker ("Bad node spec ... OpType: X")."""
    unsupported = re.search(r"Unsupported ops: Counter\(\{(.*?)\}\)", log)
    if unsupported:
        ops = re.findall(r"'(\w+)'", unsupported[1])
        return f"tf2onnx does not convert op {', '.join(ops)}"
    node = re.search(r"OpType: (\w+)", error)
    if node:
        return f"tf2onnx wrote an invalid graph: op {node[1]} is no ONNX op"
    failed = re.search(r"Failed to convert node '([^']+)'", log)
    if failed:
        return f"tf2onnx failed on node {failed[1]}"
    return f"tf2onnx failed: {error.splitlines()[0][:300] if error else 'no model'}"


def _to_litert(saved: Path, sig: str, path: Path) -> dict:
    """The LiteRT converter on one signature, builtin ops only."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[sig])
    try:
        with native_stderr_silenced():  # the same diagnostics are in the exception
            flatbuffer = converter.convert()
    except Exception as exc:  # ConverterError: the MLIR diagnostics name the op
        raise ConversionError(_litert_failure(str(exc))) from None
    path.write_bytes(flatbuffer)
    runner = Interpreter(model_content=flatbuffer).get_signature_runner(sig)

    def describe(details):
        return {name: {"dtype": np.dtype(d["dtype"]).name,
                       "shape": [None if s < 0 else int(s) for s in d["shape_signature"]]}
                for name, d in details.items()}

    return {"inputs": describe(runner.get_input_details()),
            "outputs": describe(runner.get_output_details())}


def _litert_failure(error: str) -> str:
    """The first op the LiteRT converter refused ('tf.BitwiseAnd' op is neither ...), and
    the node where it sits."""
    op = re.search(r"'tf\.(\w+)' op (.*?)(?:\n|$)", error)
    if op is None:
        return f"the LiteRT converter failed: {error.strip().splitlines()[-1][:300]}"
    node = re.search(rf'fused\["{op[1]}:", "([^"@]+)', error)
    where = f" at {node[1]}" if node else ""
    hint = ("; export with --static-batch (`static_batch`) to convert it"
            if op[1] == "TensorListReserve" else "")
    return f"the LiteRT converter does not convert op {op[1]}{where}: {op[2][:200]}{hint}"


def verify(saved: Path, entries: dict, checks: Mapping[str, dict], work: Path) -> dict:
    """Run every converted file in a fresh process importing only the runtimes, on the
    checks' inputs; drop (delete, list as skipped) each that fails or differs beyond the
    SavedModel's tolerance, and add its `max_abs_diff`. Returns `entries`."""
    plan, arrays = [], {}
    for i, (sig, check) in enumerate(checks.items()):
        inputs = check["inputs"] if isinstance(check["inputs"], dict) else {
            check["input_name"]: check["inputs"]}
        if not any(sig in entry["signatures"] for entry in entries.values()):
            continue
        arrays.update({f"inputs{i}__{n}": np.asarray(v) for n, v in inputs.items()})
        arrays[f"expected{i}"] = check["expected"]
        for fmt, entry in entries.items():
            if sig in entry["signatures"]:
                plan.append({"format": fmt, "signature": sig, "index": i,
                             "file": entry["signatures"][sig]["file"], "inputs": list(inputs),
                             "output_name": check["output_name"]})
    work.mkdir(parents=True, exist_ok=True)
    np.savez(work / "formats.npz", **arrays)
    (work / "formats.json").write_text(json.dumps(plan))
    result = run_check(saved, work / "formats.npz", work / "formats.json")
    if result["tensorflow_imported"] or result["zoo_imported"]:
        raise ExportError("The extra formats' check imported TensorFlow or zoo; it must need "
                          "the runtimes only.")
    for item in result["results"]:
        fmt, sig = item["format"], item["signature"]
        tolerance = tolerance_for(checks[sig]["expected"])
        reason = item.get("error")
        if reason is None and item["max_abs_diff"] > tolerance:
            reason = (f"differs from the live model: max abs difference "
                      f"{item['max_abs_diff']:.3g} > {tolerance}")
        if reason is None:
            entries[fmt]["signatures"][sig]["max_abs_diff"] = item["max_abs_diff"]
            continue
        (saved / entries[fmt]["signatures"].pop(sig)["file"]).unlink()
        entries[fmt]["skipped"][sig] = reason
    return entries


def run_check(folder: Path, arrays: Path, plan: Path) -> dict:
    """`_verify_formats.py` in a fresh process; its JSON result."""
    script = Path(__file__).with_name("_verify_formats.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, str(script), str(folder), str(arrays), str(plan),
                           str(os.getpid())], capture_output=True, text=True, env=env,
                          timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("VERIFY_RESULT ")]
    if proc.returncode != 0 or not lines:
        raise ExportError("The extra formats could not be run in a fresh process:\n"
                          f"{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("VERIFY_RESULT "):])
