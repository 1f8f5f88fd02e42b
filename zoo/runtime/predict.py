"""`zoo predict`: run an export on a .npy file or an image.

The export is its folder (the SavedModel, in TensorFlow) or one of its extra
formats' files, `model.onnx` (ONNX Runtime) or `model.tflite` (LiteRT), so the
runtimes can be compared on the same input; the format follows the file.

A `.npy` file is memory-mapped and served in fixed-size batches; results are
printed (at most `PRINT_LIMIT` examples) or written batch by batch to an
`.npy` or `.csv` file that appears only once complete. Memory does not grow
with the input. Every value is checked against the export's input dtype and
range before the model loads: nothing is cast silently.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from zoo._common import atomic_path, check_finite_number, check_positive_int

DEFAULT_BATCH_SIZE = 256
PRINT_LIMIT = 10_000  # examples printed to stdout; more need `out`
OUTPUT_SUFFIXES = (".npy", ".csv")
NPY_MAGIC = b"\x93NUMPY"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The export's raw input: tensor name, shape per example (None: any size),
    dtype, and the batch size when the export fixes it (`--static-batch`)."""

    name: str
    shape: tuple
    dtype: str
    batch: int | None = None

    @property
    def contract(self) -> str:
        """The values the input takes, in words."""
        if self.dtype == "string":
            return "strings"
        dtype = np.dtype(self.dtype)
        if dtype.kind in "ui":
            info = np.iinfo(dtype)
            return f"{dtype} integers in [{info.min}, {info.max}]"
        if dtype.kind == "f":
            return f"finite {dtype} values (|x| <= {np.finfo(dtype).max})"
        return f"{dtype} values"


@dataclasses.dataclass
class Job:
    """A checked prediction: the export, its manifest and input, the examples
    (a memory map or one image) and how to batch and scale them."""

    folder: Path
    manifest: dict
    spec: InputSpec
    source: Path
    examples: np.ndarray
    batch_size: int
    scale: float | None
    model_file: Path | None = None  # an ONNX or LiteRT file of the export, else None


def read_manifest(saved_model_dir: str | os.PathLike) -> tuple[dict, InputSpec]:
    """The export's manifest and its input; refuses folders that are not zoo exports."""
    folder = Path(saved_model_dir)
    if not folder.is_dir():
        raise ValueError(f"Export folder {folder} does not exist.")
    path = folder / "manifest.json"
    if not path.is_file():
        raise ValueError(f"{folder} is not a zoo export (no manifest.json).")
    try:
        manifest = json.loads(path.read_text())
        (name, spec), = manifest["inputs"].items()
        (_, _), = manifest["outputs"].items()
        batch, *shape = spec["shape"]
        dtype = str(spec["dtype"])
        if dtype != "string":
            np.dtype(dtype)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a zoo export manifest: {exc!r}") from None
    return manifest, InputSpec(name, tuple(shape), dtype, batch)


def open_input(path: str | os.PathLike, spec: InputSpec) -> np.ndarray:
    """The examples in `path` as a (batch, *shape) array: a read-only memory map
    of a `.npy` file, or one decoded image. Checks the dtype kind and shape;
    `checked_batches` checks the values."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Input file {path} does not exist." if not path.exists()
                         else f"Input {path} is not a file.")
    array = _open_npy(path) if path.suffix.lower() == ".npy" else _read_image(path, spec)
    _check_kind(array.dtype, spec, path)
    if _fits(array.shape, spec.shape):
        array = array[None]  # one example
    if array.ndim != len(spec.shape) + 1 or not _fits(array.shape[1:], spec.shape):
        raise ValueError(
            f"{path} holds an array of shape {array.shape}; the export expects "
            f"{_shape_text(spec.shape)} or {_shape_text(('batch', *spec.shape))}."
        )
    if len(array) == 0:
        raise ValueError(f"{path} holds no examples (shape {array.shape}).")
    return array


def _open_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise ValueError(f"{path} is not a .npy file (no .npy header).")
    try:  # mapped, not read: pages come in batch by batch; never unpickle user files
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npy file: {exc}") from None


def _read_image(path: Path, spec: InputSpec) -> np.ndarray:
    """One image as (H, W, C) uint8, in the export's channels and (fixed) size."""
    shape = spec.shape
    if len(shape) != 3:
        raise ValueError(
            f"{path} is not a .npy file, and the export's input {shape} is not an image."
        )
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()  # chunk checksums and a complete file, before decoding
        with Image.open(path) as image:
            image = image.convert("L" if shape[2] == 1 else "RGB")
            if None not in shape[:2]:
                image = image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError, EOFError, ValueError, zlib.error,
            Image.DecompressionBombError) as exc:
        raise ValueError(
            f"{path} is not a readable image (corrupt, truncated or not an image): {exc}"
        ) from None
    return array.reshape(*array.shape[:2], -1)


def _fits(shape, expected) -> bool:
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def _shape_text(dims) -> str:
    """(4,), (batch, 4), (), (batch,): Python's tuple notation, with names."""
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def _describe(dtype: np.dtype) -> str:
    return "str" if dtype.kind in "US" else dtype.name


def _check_kind(dtype: np.dtype, spec: InputSpec, path: Path) -> None:
    """Refuse dtypes that never fit: complex, bool or strings for numbers, numbers for strings."""
    if spec.dtype == "string":
        fits = dtype.kind in "US"
    elif np.dtype(spec.dtype).kind in "uif":
        fits = dtype.kind in "uif"
    else:
        fits = dtype == np.dtype(spec.dtype)
    if not fits:
        raise ValueError(f"{path}: the export's input '{spec.name}' takes {spec.contract}. "
                         f"Received: an array of dtype {_describe(dtype)}.")


def checked_batches(examples: np.ndarray, spec: InputSpec, batch_size: int,
                    scale: float | None = None, source="input") -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first row, batch in the export's dtype), `batch_size` rows at a time,
    after checking that every value fits the input: nothing is cast silently.

    `scale` multiplies the values first; for integer inputs the product is then
    rounded to the nearest integer (`scale=255` maps [0, 1] floats onto uint8).
    """
    for start in range(0, len(examples), batch_size):
        yield start, _fit(np.asarray(examples[start:start + batch_size]), spec, scale,
                          source, start)


def _fit(batch: np.ndarray, spec: InputSpec, scale, source, start: int) -> np.ndarray:
    """`batch` in the input's dtype, or a ValueError naming the first value that does not fit."""
    if spec.dtype == "string":
        return batch
    target = np.dtype(spec.dtype)
    if target.kind not in "uif":
        return batch  # the same dtype (`_check_kind`)
    values = batch if scale is None else batch.astype(np.float64) * scale
    if target.kind == "f":
        magnitude = np.abs(values.astype(np.float64))
        bad = ~(magnitude <= np.finfo(target).max)  # also NaN
        fitted = values
    else:
        fitted = np.rint(values) if scale is not None else values
        info = np.iinfo(target)
        bad = ~((fitted >= info.min) & (fitted <= info.max))  # also NaN
        if fitted.dtype.kind == "f":
            bad |= fitted != np.floor(fitted)  # fractions; inf/NaN are caught above
    if bad.any():
        flat = int(np.argmax(bad.reshape(-1)))
        row = start + flat // max(1, math.prod(batch.shape[1:]))
        value = batch.reshape(-1)[flat]
        received = f"{value} at row {row}"
        if scale is not None:
            received += f" (x{scale:g} = {values.reshape(-1)[flat].item():g})"
        elif target == np.uint8 and batch.dtype.kind == "f" and 0 <= value <= 1:
            received += ". For [0, 1] floats, pass --scale 255"
        raise ValueError(f"{source}: the export's input '{spec.name}' takes {spec.contract}. "
                         f"Received: {received}.")
    return fitted.astype(target)


def prepare(saved_model_dir, input_path, batch_size=None, scale=None,
            max_rows: int | None = None) -> Job:
    """Check the arguments, the manifest and every input value, before any model loads."""
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
    if scale is not None:
        check_finite_number("scale", scale)
    saved_model_dir, model_file = export_source(saved_model_dir)
    manifest, spec = read_manifest(saved_model_dir)
    if model_file is not None:
        runtime_signature(manifest, model_file)  # refuses a file of another signature
    source = Path(input_path)
    if scale is not None and spec.dtype == "string":
        raise ValueError(f"`scale` applies to numeric inputs; the export's input '{spec.name}' "
                         f"takes strings. Received: scale={scale!r}")
    if spec.batch is not None and batch_size not in (None, spec.batch):
        raise ValueError(f"`batch_size` must be {spec.batch}: the export's batch size is fixed. "
                         f"Received: batch_size={batch_size}")
    examples = open_input(source, spec)
    if max_rows is not None and len(examples) > max_rows:
        raise ValueError(
            f"{source} holds {len(examples):,} examples; zoo predict prints at most "
            f"{max_rows:,}. Pass --out FILE.npy or --out FILE.csv to write them all."
        )
    job = Job(Path(saved_model_dir), manifest, spec, source, examples,
              batch_size or spec.batch or DEFAULT_BATCH_SIZE, scale, model_file)
    for _ in checked_batches(examples, spec, job.batch_size, scale, source):
        pass  # refuse a bad value at row 900,000 before serving the first row
    return job


def export_source(path) -> tuple[Path, Path | None]:
    """(export folder, model file): a `.onnx` or `.tflite` file is served by its runtime
    from the export folder holding it; a folder is the SavedModel."""
    path = Path(path)
    if path.suffix.lower() in RUNTIMES and path.is_file():
        return path.parent, path
    return path, None


RUNTIMES = {".onnx": "ONNX Runtime", ".tflite": "LiteRT"}


def runtime_signature(manifest: dict, model_file: Path) -> str:
    """The signature `model_file` carries, which must be the export's served one."""
    served_signature = manifest.get("signature", "serving_default")
    for entry in manifest.get("formats", {}).values():
        for sig, figures in entry["signatures"].items():
            if figures.get("file") == model_file.name and sig == served_signature:
                return sig
            if figures.get("file") == model_file.name:
                raise ValueError(f"{model_file} serves `{sig}`; zoo predict serves "
                                 f"`{served_signature}`.")
    raise ValueError(f"{model_file} is not a file of the export in {model_file.parent} "
                     "(not in its manifest's `formats`).")


def _runtime(job: Job):
    """A function batch -> outputs for an ONNX or LiteRT file (no TensorFlow)."""
    serve = _file_runtime(job.manifest, job.model_file)
    return lambda batch: serve({job.spec.name: batch})


def _file_runtime(manifest: dict, model_file: Path):
    """A function {input name: array} -> the served output, for an ONNX file (ONNX
    Runtime) or a LiteRT file (its signature runner); no TensorFlow."""
    (output_name, _), = manifest["outputs"].items()
    if model_file.suffix.lower() == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(model_file),
                                               providers=["CPUExecutionProvider"])
        return lambda inputs: session.run([output_name], inputs)[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(model_file)).get_signature_runner(
        manifest.get("signature", "serving_default"))
    return lambda inputs: runner(**inputs)[output_name]


def served(job: Job) -> Iterator[tuple[int, np.ndarray]]:
    """Load the export and yield (first row, outputs) batch by batch."""
    if job.model_file is not None:
        serve = _runtime(job)
        for start, batch in checked_batches(job.examples, job.spec, job.batch_size, job.scale,
                                            job.source):
            rows = len(batch)
            if job.spec.batch is not None and rows < job.spec.batch:  # as below
                batch = np.concatenate([batch, np.repeat(batch[-1:], job.spec.batch - rows, 0)])
            yield start, np.asarray(serve(np.ascontiguousarray(batch)))[:rows]
        return
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(job.folder))
        serve = loaded.signatures[job.manifest.get("signature", "serving_default")]
    except (OSError, KeyError, tf.errors.OpError) as exc:
        raise ValueError(f"{job.folder} holds no loadable SavedModel: {exc}") from None
    (output_name, _), = job.manifest["outputs"].items()
    static = job.spec.batch
    for start, batch in checked_batches(job.examples, job.spec, job.batch_size, job.scale,
                                        job.source):
        rows = len(batch)
        if static is not None and rows < static:  # a fixed batch: repeat the last example
            batch = np.concatenate([batch, np.repeat(batch[-1:], static - rows, axis=0)])
        try:
            outputs = serve(**{job.spec.name: tf.constant(batch)})[output_name].numpy()
        except tf.errors.InvalidArgumentError as exc:  # a check inside the signature
            raise ValueError(f"The export refused rows {start}-{start + rows - 1} of "
                             f"{job.source}: {_graph_error(exc.message)}") from None
        yield start, outputs[:rows]


def _graph_error(message: str) -> str:
    """The line of a TensorFlow graph error that says what failed, without the
    node names and stack that surround it."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(noise)]
    return (meaningful or lines or ["(no message)"])[0]


def _classes(manifest: dict, width: int) -> str | None:
    """How outputs of `width` values name classes: "multi" (one probability each),
    "binary" (one sigmoid, two names) or None (plain values)."""
    names = manifest.get("class_names")
    if names and width == len(names) and width > 1:
        return "multi"
    if names and width == 1 and len(names) == 2:
        return "binary"
    return None


def predict_file(saved_model_dir: str | os.PathLike, input_path: str | os.PathLike, top: int = 3,
                 batch_size: int | None = None, scale: float | None = None) -> Iterator[str]:
    """Yield one printable line per example: the `top` classes, or the values.

    At most `PRINT_LIMIT` examples; `predict_to_file` writes any number.
    """
    check_positive_int("top", top)
    folder, model_file = export_source(saved_model_dir)
    table = _table_manifest(folder)
    if table is not None:
        if model_file is not None:
            runtime_signature(table, model_file)
        yield from _lines(table, _served_rows(folder, table, input_path, batch_size,
                                              model_file), top)
        return
    job = prepare(saved_model_dir, input_path, batch_size, scale, max_rows=PRINT_LIMIT)
    yield from _lines(job.manifest, served(job), top)


def _lines(manifest: dict, batches, top: int) -> Iterator[str]:
    """Printable lines of served (first row, outputs) batches: top classes, or values."""
    names = manifest.get("class_names")
    (output_name, _), = manifest["outputs"].items()
    for start, outputs in batches:
        for i, row in enumerate(outputs.reshape(len(outputs), -1), start):
            kind = _classes(manifest, len(row))
            if kind == "multi":
                order = np.argsort(row)[::-1][:top]
                yield f"[{i}] " + ", ".join(f"{names[j]}: {row[j]:.4f}" for j in order)
            elif kind == "binary":
                yield f"[{i}] {names[int(row[0] > 0.5)]} ({output_name}={row[0]:.4f})"
            else:
                yield f"[{i}] {output_name}=" + ", ".join(f"{v:.4f}" for v in row)


def predict_to_file(saved_model_dir: str | os.PathLike, input_path: str | os.PathLike,
                    out: str | os.PathLike, batch_size: int | None = None,
                    scale: float | None = None) -> tuple[Path, int]:
    """Write the outputs of every example to `out` and return (out, examples).

    `.npy`: the raw output array (examples, *output shape). `.csv`: a header,
    then per example its row, the predicted class (classifiers) and the
    flattened outputs. Written batch by batch to a hidden temporary file that
    is renamed onto `out` once complete, so `out` is never half written.
    """
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES or out.is_dir():
        raise ValueError(f"`out` must name a .npy or .csv file. Received: out={str(out)!r}")
    if not out.parent.is_dir():
        raise ValueError(f"`out` must be in an existing folder. Received: out={str(out)!r}")
    job = prepare(saved_model_dir, input_path, batch_size, scale)
    write = _write_npy if out.suffix.lower() == ".npy" else _write_csv
    with atomic_path(out) as tmp:
        try:
            tmp.write_bytes(b"")
        except OSError as exc:
            raise ValueError(f"Cannot write {out}: {exc.strerror}.") from None
        write(tmp, job)
    return out, len(job.examples)


def _write_npy(tmp: Path, job: Job) -> None:
    """The outputs as one .npy array, written as they come (a header sized from
    the first batch, then raw rows), never held in memory."""
    rows = len(job.examples)
    with open(tmp, "wb") as f:
        for start, outputs in served(job):
            if start == 0:
                first = outputs
                np.lib.format.write_array_header_1_0(f, {
                    "descr": np.lib.format.dtype_to_descr(outputs.dtype),
                    "fortran_order": False, "shape": (rows, *outputs.shape[1:])})
            elif outputs.shape[1:] != first.shape[1:] or outputs.dtype != first.dtype:
                raise ValueError(f"The export's outputs changed shape between batches: "
                                 f"{first.shape[1:]} then {outputs.shape[1:]}.")
            f.write(np.ascontiguousarray(outputs).tobytes())
            f.flush()


def _write_csv(tmp: Path, job: Job) -> None:
    """One CSV row per example: row, predicted class (classifiers), the outputs."""
    names = job.manifest.get("class_names")
    (output_name, _), = job.manifest["outputs"].items()
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        for start, outputs in served(job):
            flat = outputs.reshape(len(outputs), -1)
            kind = _classes(job.manifest, flat.shape[1])
            if start == 0:
                columns = (names if kind == "multi" else [output_name] if flat.shape[1] == 1
                           else [f"{output_name}_{j}" for j in range(flat.shape[1])])
                writer.writerow(["row", *(["prediction"] if kind else []), *columns])
            for i, row in enumerate(flat, start):
                label = ([names[int(row.argmax())]] if kind == "multi"
                         else [names[int(row[0] > 0.5)]] if kind == "binary" else [])
                writer.writerow([i, *label, *(f"{v:.9g}" for v in row)])
            f.flush()


# --- tables: a CSV of rows for an export taking one input per column ---

def _table_manifest(saved_model_dir) -> dict | None:
    """The manifest of an export of a table model (one input per column), else None."""
    path = Path(saved_model_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # read_manifest says what is wrong
    return manifest if isinstance(manifest, dict) and manifest.get("columns") else None


def _served_rows(saved_model_dir, manifest: dict, input_path, batch_size=None,
                 model_file: Path | None = None):
    """(first row, outputs) for the rows of a CSV file, read in batches (pandas), each
    column given to the export's input of that name (by the SavedModel, or by the
    runtime of `model_file`); a missing column, or a value that is no number in a
    numeric column, is refused naming the column and row."""
    import pandas as pd

    from pipelines.tables import input_name

    path = Path(input_path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise ValueError(f"{saved_model_dir} serves table rows: give a .csv file with the "
                         f"columns {', '.join(c for c, _ in manifest['columns'])}. "
                         f"Received: {path}")
    kinds = dict(manifest["columns"])
    serve = _table_runtime(saved_model_dir, manifest, model_file)
    start = 0
    for chunk in pd.read_csv(path, chunksize=batch_size or DEFAULT_BATCH_SIZE, dtype=str,
                             keep_default_na=False):
        named = {input_name(str(c)): chunk[c] for c in chunk.columns}
        missing = [c for c in kinds if c not in named]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} that the "
                             f"export takes (columns: {', '.join(kinds)}).")
        inputs = {}
        for name, kind in kinds.items():
            values = named[name]
            if kind == "string":
                inputs[name] = values.to_numpy().astype(str)
                continue
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            bad = ~np.isfinite(numbers)
            if bad.any():
                row = start + int(np.argmax(bad))
                raise ValueError(f"{path}: column {name!r}, row {row}, is "
                                 f"{values.iloc[row - start]!r}; the export takes finite "
                                 "numbers there.")
            inputs[name] = numbers.astype(np.float32)
        yield start, serve(inputs)
        start += len(chunk)


def _table_runtime(saved_model_dir, manifest: dict, model_file: Path | None):
    """A function {column input: array} -> the output array: the SavedModel's signature,
    or the ONNX / LiteRT file's (which take numeric columns only)."""
    if model_file is not None:
        return _file_runtime(manifest, model_file)
    import tensorflow as tf

    (output_name, _), = manifest["outputs"].items()
    serve = tf.saved_model.load(str(saved_model_dir)).signatures[
        manifest.get("signature", "serving_default")]
    return lambda inputs: serve(**{k: tf.constant(v) for k, v in inputs.items()})[
        output_name].numpy()
