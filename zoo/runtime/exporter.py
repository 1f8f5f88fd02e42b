"""Export for serving: TF Serving layout, atomic, verified in a fresh process.

    saved_models/<name>/<version>/   version = next free integer, never reused
        saved_model.pb, variables/   signature `serving_default`: raw input ->
                                     named outputs, preprocessing in the graph
        model.keras                  the same serving model as a Keras file
        manifest.json
        assets.extra/tf_serving_warmup_requests   TF Serving warm-up (`warmup.py`)
        vocabulary.txt               where a signature tokenises text in the graph
        model.onnx, model.tflite     with `formats` (`formats.py`), verified without TF

The export is written to a hidden temporary folder beside the versions
(TF Serving ignores non-numeric folders), verified, then renamed into place,
so a crash never leaves a half-written version:

    saved_models/<name>/.tmp-<host>-<pid>-<random>/
        export/      the SavedModel, renamed to <version>/ once verified
        verify/      the fresh-process check's inputs (never in the export)

A killed export leaves such a folder; the next export of the name removes
those whose process is gone (on this host), never one still being written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo._common import (check_folder_name, check_positive_int, check_writable_folder, jsonable,
                         safe_folder_name)
from zoo.runtime import formats as formats_module
from zoo.runtime.export_checks import (  # noqa: F401 (ExportError: the public name here)
    INTEGER_TOLERANCE, TOLERANCE, XLA_TOLERANCE, ExportError)
from zoo.runtime.formats import check_formats
from zoo.runtime.names import EXPORT_BASE_DIR
from zoo.runtime.warmup import write_warmup
from zoo.runtime.run import load_model
from zoo.tasks import get_task
from zoo.tasks.serving import Endpoint, serving_model



@dataclasses.dataclass
class ExportResult:
    path: Path
    version: int
    manifest: dict


def _versions(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and p.is_dir())


def next_version(base_dir: str | os.PathLike, name: str) -> int:
    """The next free version number of `name` under `base_dir` (1 for the first)."""
    check_folder_name("name", name)
    versions = _versions(Path(base_dir) / name)
    return versions[-1] + 1 if versions else 1


def check_export_target(base_dir: str | os.PathLike, name: str | None = None,
                        static_batch: int | None = None) -> None:
    """Refuse a bad export name (None: the model's, checked later), batch size or
    base folder before anything is trained, loaded or written."""
    if name is not None:
        check_folder_name("name", name)
    if static_batch is not None:
        check_positive_int("static_batch", static_batch)
    check_writable_folder("base_dir", base_dir)


def temp_prefix(pid: int | None = None) -> str:
    """Name prefix of an export's temporary folder: this host and the owning process,
    so that a later export can tell a dead export's folder from a live one's."""
    return f".tmp-{_host()}-{os.getpid() if pid is None else pid}-"


def _host() -> str:
    return safe_folder_name(socket.gethostname() or "host")


_TEMP = re.compile(r"\.tmp-(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+")


def _remove_stale_temps(model_dir: Path) -> list[Path]:
    """Remove the temporary folders of exports killed on this host (their process is
    gone); a live export's folder, or another host's, is kept."""
    host, removed = _host(), []
    for folder in model_dir.glob(".tmp-*"):
        match = _TEMP.fullmatch(folder.name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _make_temp(model_dir: Path) -> Path:
    """`model_dir` (created if needed, stale temporary folders removed) and a new
    temporary folder in it; an unwritable folder is an ExportError naming it."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(model_dir)
        return Path(tempfile.mkdtemp(prefix=temp_prefix(), dir=model_dir))
    except OSError as exc:
        raise ExportError(f"Cannot write the export under {model_dir}: "
                          f"{exc.strerror or exc}.") from None


def export(
    model,
    name: str,
    *,
    preprocessor=None,
    raw_shape: Sequence[int] | None = None,
    raw_dtype: str = "float32",
    input_name: str = "inputs",
    output_name: str = "outputs",
    class_names: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    base_dir: str | os.PathLike = EXPORT_BASE_DIR,
    version: int | None = None,
    sample=None, labels=None,
    static_batch: int | None = None, verify: bool = True,
    serving=None, endpoints: Mapping[str, Endpoint] | None = None,
    value_range: tuple[int, int] | None = None, size_multiple: int = 1,
    columns: Mapping[str, str] | None = None,
    formats: str | Sequence[str] | None = None,
) -> ExportResult:
    """Export `model` (with its preprocessing) as a versioned SavedModel.

    Args:
        model: A trained `keras.Model`.
        name: Export name: the folder under `base_dir`.
        preprocessor: Preprocessing layers (`pipelines.preprocessor(...)`) put in
            front of the model, so the served model takes raw inputs (uint8 images).
        raw_shape, raw_dtype: The raw input per example (default: model input, float32).
        input_name, output_name: Tensor names of `serving_default`.
        class_names: Written to the manifest for `zoo predict`; a classifier's also
            make a `classify` signature (see `_served_class_names`).
        metadata: Extra manifest entries (builder arguments, dataset, metrics).
        base_dir: Root of the TF Serving layout.
        version: Explicit version; an existing one is refused, never overwritten.
        sample: Raw inputs to verify with (default: 8 random raw inputs).
        labels: Labels of `sample`; the fresh-process check then reports accuracy.
        static_batch: Fix the batch dimension (TPUs need static shapes).
        verify: Reload in a fresh process importing only TensorFlow: outputs within
            1e-5 of the live model, and an XLA compile of numeric signatures.
        serving: A ready serving model (raw input -> output, e.g. text in) used
            instead of composing `preprocessor` and `model`.
        endpoints: Extra signatures by name, beside `serving_default`.
        value_range, size_multiple: What `serving_default` accepts beyond its
            shape and dtype (see `Endpoint`): integer inputs in [low, high),
            open sizes that are multiples of `size_multiple`.
        columns: A table's columns, name -> dtype ("float32" or "string"): one
            (batch,) input each, by name (see `_default_endpoint`).
        formats: "saved_model" (always), "onnx", "litert" (comma-separated or a
            sequence): `model.onnx`, `model.tflite` beside it (`zoo.runtime.formats`).

    Returns an `ExportResult` (the version folder, its number, the manifest). Raises
    ValueError for a bad `name`, `version`, `static_batch`, `formats` or unwritable
    `base_dir` (before anything is written), FileExistsError for an existing `version`,
    and ExportError when the verification fails (nothing is left behind).
    """
    model_dir = _model_dir(base_dir, name, version, static_batch)
    formats = check_formats(formats, verify)
    if serving is None:
        serving = serving_model(model, preprocessor, raw_shape, raw_dtype, input_name, output_name)
    if labels is not None and static_batch is not None:
        labels = np.asarray(labels)[:static_batch]
    default = _default_endpoint(serving, input_name, output_name, sample, value_range,
                                size_multiple, columns)
    signatures = {"serving_default": default, **dict(endpoints or {})}
    names = _served_class_names(serving, class_names)
    if names is not None and "classify" not in signatures:
        signatures["classify"] = dataclasses.replace(default, xla=False, class_names=names)
    checks = {sig: _check_inputs(e, static_batch) for sig, e in signatures.items()}
    tmp = _make_temp(model_dir)
    try:
        saved = tmp / "export"  # renamed into place; its sibling verify/ holds the check's scratch
        _write_archive(saved, signatures, static_batch)
        check = verify_export(saved, checks, labels, work_dir=tmp / "verify") if verify else {
            "max_abs_diff": None, "xla_max_abs_diff": None}
        manifest = _manifest(name, signatures, static_batch, preprocessor, class_names, check,
                             metadata)
        _write_extras(saved, name, signatures, checks, static_batch, formats, manifest)
        return _claim_version(saved, model_dir, version, manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_extras(saved: Path, name: str, signatures, checks, static_batch, formats,
                  manifest: dict) -> None:
    """Beside the verified SavedModel: TF Serving's warm-up records, vocabulary.txt, and
    the extra formats (manifest `formats`), whose check scratch goes beside `saved`."""
    write_warmup(saved, name, checks, static_batch)
    manifest["formats"] = _extra_formats(saved, checks, formats, saved.parent / "verify",
                                         manifest)
    _write_vocabulary(saved, signatures, manifest)


def _extra_formats(saved: Path, checks, formats, work: Path, manifest: dict) -> dict:
    """The manifest's `formats`: the SavedModel's signatures, and each extra format's
    converted, verified files (`zoo.runtime.formats`)."""
    entries = {"saved_model": {"signatures": {
        sig: {"file": "saved_model.pb", **entry} for sig, entry in manifest["signatures"].items()},
        "skipped": {}}}
    if len(formats) > 1:
        extra = formats_module.convert(saved, checks, formats)
        entries.update(formats_module.verify(saved, extra, checks, work))
    return entries


def _write_vocabulary(saved: Path, signatures: Mapping[str, Endpoint], manifest: dict) -> None:
    """vocabulary.txt (line i = token i, see `_escaped`) when a signature tokenises text in
    the graph (a `pipelines.layers.VocabularyLayer`), so a client of `token_ids` /
    `word_ids`, or of an ONNX or LiteRT file, can tokenise; the manifest names it."""
    from pipelines.layers import VocabularyLayer

    for endpoint in signatures.values():
        for layer in endpoint.model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, VocabularyLayer):
                (saved / "vocabulary.txt").write_text(
                    "".join(f"{_escaped(token)}\n" for token in layer.vocabulary),
                    encoding="utf-8")
                manifest["vocabulary_file"] = "vocabulary.txt"
                return


def _escaped(token) -> str:
    r"""A token on one line of vocabulary.txt: backslash, line feed and carriage return
    escaped as `\\`, `\n`, `\r` (a character model's vocabulary holds the line break)."""
    return str(token).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _model_dir(base_dir, name: str, version, static_batch) -> Path:
    """The export's folder `base_dir/name`, after refusing a bad name, base folder or
    batch size, a bad explicit `version` or one that exists (never overwritten)."""
    check_folder_name("name", name)
    check_export_target(base_dir, static_batch=static_batch)
    model_dir = (Path(base_dir) / name).resolve()
    if version is None:
        return model_dir
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be an integer >= 1. Received: version={version!r}")
    if (model_dir / str(version)).exists():
        raise FileExistsError(
            f"Export {model_dir / str(version)} already exists; exports are never "
            f"overwritten. The next free version is {next_version(base_dir, name)}."
        )
    return model_dir


def _write_archive(saved: Path, signatures: Mapping[str, Endpoint], static_batch) -> None:
    """Write the SavedModel with one checked serving function per signature, and the
    serving model as a Keras file beside it."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    for sig, endpoint in signatures.items():
        archive.track(endpoint.model)
        if endpoint.columns:
            shape = (static_batch,)
            spec = {c: tf.TensorSpec(shape, dtype, name=c) for c, dtype in endpoint.columns.items()}
        else:
            shape = (static_batch, *endpoint.model.input_shape[1:])
            spec = tf.TensorSpec(shape, endpoint.dtype, name=endpoint.input_name)
        archive.add_endpoint(sig, _serve_function(endpoint, shape), input_signature=[spec])
    archive.write_out(str(saved), verbose=False)
    signatures["serving_default"].model.save(saved / "model.keras")


def _manifest(name, signatures: Mapping[str, Endpoint], static_batch, preprocessor, class_names,
              check: dict, metadata) -> dict:
    """manifest.json: the serving signature, every signature's inputs and outputs, the
    preprocessing, class names, the verification figures and what was trained."""
    import keras
    import tensorflow as tf

    default = signatures["serving_default"]
    serving = default.model
    return {
        "name": name,
        "version": None,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "signature": "serving_default",
        "inputs": _inputs_manifest(default, static_batch),
        "outputs": {
            default.output_name: {
                "shape": [static_batch, *serving.output_shape[1:]],
                "dtype": str(serving.output.dtype),
            }
        },
        "signatures": {
            sig: {
                "inputs": _inputs_manifest(e, static_batch),
                "outputs": {e.output_name: {"shape": [static_batch, *e.model.output_shape[1:]]},
                            **({"class_name": {"shape": [static_batch], "dtype": "string"}}
                               if e.class_names else {})},
                "xla": e.xla,
            }
            for sig, e in signatures.items()
        },
        "preprocessing": [layer.name for layer in preprocessor.layers] if preprocessor else [],
        "class_names": list(class_names) if class_names is not None else None,
        "verification": check,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        **jsonable(dict(metadata or {})),
    }


def _claim_version(saved: Path, model_dir: Path, version: int | None, manifest: dict):
    """Rename the verified export `saved` to `model_dir/<version>`: `version`, or the
    next free one, claimed at the last moment (retried if another export won)."""
    for _ in range(100):
        version_now = version or next_version(model_dir.parent, model_dir.name)
        final = model_dir / str(version_now)
        manifest["version"] = version_now
        (saved / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if final.exists():
            if version is not None:
                raise FileExistsError(f"Export {final} already exists; exports are never overwritten.")
            continue
        try:
            os.rename(saved, final)
        except OSError:
            if version is not None:
                raise
            continue
        return ExportResult(final, version_now, manifest)
    raise ExportError(f"Could not claim a version folder under {model_dir}.")


def _serve_function(endpoint: Endpoint, shape):
    """The signature's function: the input checked in the graph, then the model."""
    from zoo.runtime.signature_checks import checked, checked_columns

    if endpoint.columns:
        def serve_columns(inputs):
            rows = checked_columns(inputs, shape)
            with _input_names_differ():
                return _named(endpoint, endpoint.model(rows, training=False))

        return serve_columns

    def serve(inputs):
        inputs = checked(inputs, endpoint.input_name, shape, endpoint.value_range,
                         endpoint.size_multiple)
        return _named(endpoint, endpoint.model(inputs, training=False))

    return serve


def _named(endpoint: Endpoint, outputs) -> dict:
    """A signature's outputs by name: the model's, and `class_name` for `classify`."""
    import tensorflow as tf

    named = {endpoint.output_name: outputs}
    if endpoint.class_names:
        if outputs.shape[-1] == 1:  # one sigmoid: class 1 above 0.5
            index = tf.cast(outputs[:, 0] > 0.5, tf.int64)
        else:
            index = tf.argmax(outputs, axis=-1)
        named["class_name"] = tf.gather(tf.constant(list(endpoint.class_names)), index)
    return named


def _default_endpoint(serving, input_name, output_name, sample, value_range, size_multiple,
                      columns) -> Endpoint:
    """`serving_default`: the serving model's input, or for a table (`columns`, name ->
    "float32" or "string") one (batch,) input per column by name, so a served request is
    a JSON row; `serving` then takes them as (batch, 1) tensors and `sample` is a dict."""
    dtype = str(serving.inputs[0].dtype)
    if columns:
        dtype = "string" if "string" in dict(columns).values() else "float32"
    return Endpoint(serving, input_name, output_name, dtype, sample, xla=dtype != "string",
                    value_range=value_range, size_multiple=size_multiple,
                    columns=dict(columns) if columns else None)


def _served_class_names(serving, class_names) -> tuple | None:
    """The class names a classifier's outputs index (one output per name, or one sigmoid
    for two names), else None. For those, the `classify` signature takes what
    `serving_default` takes and returns the probabilities and `class_name`, each
    example's likeliest class by name (strings: not compiled with XLA)."""
    if not class_names or not isinstance(serving.output_shape, tuple):
        return None
    shape = serving.output_shape
    if len(shape) != 2:
        return None
    names = tuple(str(c) for c in class_names)
    if (shape[1] == len(names) and len(names) > 1) or (shape[1] == 1 and len(names) == 2):
        return names
    return None


def _inputs_manifest(endpoint: Endpoint, static_batch: int | None) -> dict:
    """A signature's inputs by name: one per column for a table, else its one input."""
    if endpoint.columns:
        return {c: {"shape": [static_batch], "dtype": dtype}
                for c, dtype in endpoint.columns.items()}
    return {endpoint.input_name: _input_manifest(endpoint, static_batch)}


def _input_manifest(endpoint: Endpoint, static_batch: int | None) -> dict:
    """A signature's input in the manifest: shape, dtype, and what else it checks."""
    entry = {"shape": [static_batch, *endpoint.model.input_shape[1:]], "dtype": endpoint.dtype}
    if endpoint.value_range is not None:
        entry["value_range"] = list(endpoint.value_range)
    if endpoint.size_multiple > 1:
        entry["size_multiple"] = endpoint.size_multiple
    return entry


def _check_inputs(endpoint: Endpoint, static_batch: int | None) -> dict:
    """Verification inputs of one signature and the live model's outputs on them."""
    import keras

    if endpoint.columns:
        return _check_columns(endpoint, static_batch)
    shape = tuple(endpoint.model.input_shape[1:])
    sample = endpoint.sample
    if sample is None:
        sample = _random_raw(shape, endpoint.dtype, static_batch or 8, endpoint.value_range,
                             endpoint.size_multiple)
    sample = np.asarray(sample)
    if endpoint.dtype != "string":
        sample = sample.astype(endpoint.dtype)
    if any(d is not None and d != s for d, s in zip(shape, sample.shape[1:])) or (
        sample.ndim != len(shape) + 1
    ):
        raise ValueError(
            f"`sample` must have shape (batch, {', '.join(map(str, shape))}). "
            f"Received: shape {sample.shape}"
        )
    if static_batch is not None:
        if len(sample) < static_batch:
            raise ValueError(
                f"`sample` needs at least static_batch={static_batch} examples. "
                f"Received: {len(sample)}"
            )
        sample = sample[:static_batch]
    expected = keras.ops.convert_to_numpy(endpoint.model(sample, training=False))
    return {"input_name": endpoint.input_name, "output_name": endpoint.output_name,
            "inputs": sample, "expected": expected, "xla": endpoint.xla,
            "class_names": list(endpoint.class_names) if endpoint.class_names else None}


@contextlib.contextmanager
def _input_names_differ():
    """Silence Keras' warning that a dict of tensors does not carry the input layers' names
    (the values are matched by key, which is right)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        yield


def _check_columns(endpoint: Endpoint, static_batch: int | None) -> dict:
    """`_check_inputs` for a table's signature: a sample row dict (strings as str arrays)."""
    import keras

    sample = {c: np.asarray(endpoint.sample[c]).astype(str if dtype == "string" else dtype)
              for c, dtype in endpoint.columns.items()}
    if static_batch is not None:
        sample = {c: v[:static_batch] for c, v in sample.items()}
    with _input_names_differ():
        expected = keras.ops.convert_to_numpy(
            endpoint.model({c: sample[c][:, None] for c in sorted(sample)}, training=False))
    return {"input_name": endpoint.input_name, "output_name": endpoint.output_name,
            "inputs": sample, "expected": expected, "xla": endpoint.xla,
            "class_names": list(endpoint.class_names) if endpoint.class_names else None}


def verify_export(export_dir, checks: Mapping[str, dict], labels=None, work_dir=None) -> dict:
    """Reload `export_dir` in a fresh process (TensorFlow only) and compare.

    `checks` maps each signature to its inputs, the live model's outputs on
    them, tensor names and whether it must compile with XLA. The inputs go to
    `work_dir` (`export` gives a folder inside its temporary folder, so a killed
    export leaves them where the next one cleans up; default: a temporary folder).
    The checking process exits when this one dies.
    """
    script = Path(__file__).with_name("_verify_export.py")
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work = stack.enter_context(tempfile.TemporaryDirectory())
        else:
            work = Path(work_dir)
            work.mkdir(parents=True, exist_ok=True)
        check_path = Path(work) / "check.npz"
        arrays, plan = {}, []
        for i, (sig, c) in enumerate(checks.items()):
            arrays[f"expected{i}"] = c["expected"]
            entry = {"signature": sig, "input_name": c["input_name"],
                     "output_name": c["output_name"], "xla": c["xla"], "index": i,
                     "class_names": c.get("class_names")}
            if isinstance(c["inputs"], dict):  # a table: one array per column
                entry["columns"] = list(c["inputs"])
                arrays.update({f"inputs{i}__{col}": v for col, v in c["inputs"].items()})
            else:
                arrays[f"inputs{i}"] = c["inputs"]
            plan.append(entry)
        if labels is not None:
            arrays["labels"] = np.asarray(labels)
        np.savez(check_path, **arrays)
        (Path(work) / "plan.json").write_text(json.dumps(plan))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
        proc = subprocess.run(
            [sys.executable, str(script), str(export_dir), str(check_path),
             str(Path(work) / "plan.json"), str(os.getpid())],
            capture_output=True, text=True, cwd=work, env=env, timeout=600,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("VERIFY_RESULT ")]
    if proc.returncode != 0 or not lines:
        raise ExportError(
            f"The export could not be reloaded in a fresh process:\n{proc.stderr[-3000:]}"
        )
    result = json.loads(lines[-1][len("VERIFY_RESULT "):])
    if result["zoo_imported"]:
        raise ExportError("The reloaded export imported zoo; it must need TensorFlow only.")
    wrong = [sig for sig, figures in result["signatures"].items()
             if figures.get("class_names_match") is False]
    if wrong:
        raise ExportError(f"The reloaded export's `class_name` of {', '.join(wrong)} does not "
                          "name the likeliest class.")
    if result["xla_error"] is not None:
        raise ExportError(f"The serving function does not compile with XLA: {result['xla_error']}")
    for sig, c in checks.items():
        figures = result["signatures"][sig]
        integer = np.issubdtype(np.asarray(c["expected"]).dtype, np.integer)
        tolerance = INTEGER_TOLERANCE if integer else TOLERANCE
        xla_tolerance = INTEGER_TOLERANCE if integer else XLA_TOLERANCE
        if figures["max_abs_diff"] > tolerance:
            raise ExportError(
                f"The reloaded export differs from the live model: max abs difference "
                f"{figures['max_abs_diff']:.3g} > {tolerance}."
            )
        if figures.get("xla_max_abs_diff") is not None and figures["xla_max_abs_diff"] > xla_tolerance:
            raise ExportError(
                f"The XLA-compiled export differs from the live model: max abs difference "
                f"{figures['xla_max_abs_diff']:.3g} > {xla_tolerance}."
            )
    return result


def _random_raw(shape, dtype, batch, value_range=None, size_multiple=1) -> np.ndarray:
    """Random raw inputs that pass the signature's checks (open sizes: 8, rounded up)."""
    rng = np.random.default_rng(0)
    open_size = -(-8 // size_multiple) * size_multiple
    shape = tuple(open_size if d is None else d for d in shape)
    if np.dtype(dtype).kind in "ui":
        low, high = value_range or (0, 256 if dtype == "uint8" else 100)
        return rng.integers(low, high, size=(batch, *shape)).astype(dtype)
    return rng.normal(size=(batch, *shape)).astype(dtype)



def export_trained(
    model, spec, plan, name: str | None = None, *, metrics=None, hyperparameters=None, **kwargs
) -> ExportResult:
    """Export a model trained through `zoo.train`/`tuning.search` with its data plan
    (None for a model without a dataset: style transfer).

    The model's task (`zoo.tasks`, `Task.export_arguments`) fills in what `export`
    needs from the spec and the data plan: the preprocessing, the raw input spec,
    meaningful tensor names, class names, extra signatures, and a verification sample
    (with labels for classifiers, so the fresh-process check reports accuracy).
    `kwargs` override them.
    """
    name = spec.name if name is None else name  # "" is refused, never replaced
    check_folder_name("name", name)  # before any data is read for the verification
    # A mixed-precision model is served in float32 (its weights are float32 already):
    # exact against the verification's 1e-5, and any device can serve it.
    model = _float32_copy(model)
    arguments = get_task(spec).export_arguments(
        spec, model, plan, _metadata(spec, plan, metrics, hyperparameters))
    model = arguments.pop("model", model)
    return export(model, name, **{**arguments, **kwargs})


def export_run(run_dir: str | os.PathLike, name: str | None = None, *, data=None,
               checkpoint: str = "best", **kwargs) -> ExportResult:
    """Export a `zoo train` run folder (a group folder: its newest completed version), as
    `zoo export` does.

    `data` is the run's data given again when it was Python objects (arrays, a DataFrame,
    a `tf.data.Dataset`): they live in the process that trained, and the export needs them
    for its statistics and verification sample. It must be the same content (the same
    `pipelines.dataset_name`); `kwargs` go to `export`.

    Example:
        >>> zoo.export_run(result.run_dir, "wine", data=(x, y))
    """
    import pipelines
    from zoo.runtime.run import Run

    if name is not None:
        check_folder_name("name", name)
    run = Run(run_dir)
    if data is not None:
        given, recorded = pipelines.dataset_name(data), run.settings["dataset"]
        if given != recorded:
            raise ValueError(f"The data given is {given!r}, but {run.folder} was trained on "
                             f"{recorded!r}. Give the same data (the same content), or none.")
    spec, plan = run.plan()
    return export_trained(run.load(checkpoint), spec, plan, name, **kwargs)


def _metadata(spec, plan, metrics=None, hyperparameters=None) -> dict:
    """Manifest entries saying what was trained, on what, how well."""
    metadata = {"model": spec.name, "family": spec.family, "task": spec.task,
                "reference": spec.reference}
    if plan is not None:  # None: a model without a dataset (style transfer)
        metadata["builder_args"] = plan.builder_args
        metadata["training_data"] = {"dataset": plan.dataset, "options": plan.data_options}
    metadata["metrics"] = metrics or {}
    if hyperparameters:
        metadata["hyperparameters"] = hyperparameters
    return metadata


def _float32_copy(model):
    """`model` itself when it computes in float32, else a copy whose every layer does.

    The copy goes through a `.keras` file (safe mode), so the trained model is untouched.
    """
    import os
    import tempfile

    import keras

    layers = [model, *model._flatten_layers(include_self=False, recursive=True)]
    if all(layer.compute_dtype == "float32" for layer in layers
           if not isinstance(layer, keras.layers.InputLayer)):
        return model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        copy = load_model(path, compile=False)
    for layer in [copy, *copy._flatten_layers(include_self=False, recursive=True)]:
        layer.dtype_policy = "float32"
    return copy
