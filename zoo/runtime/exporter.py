"""Export for serving: TF Serving layout, atomic, verified in a fresh process.

    saved_models/<name>/<version>/   version = next free integer, never reused
        saved_model.pb, variables/   signature `serving_default`: raw input ->
                                     named outputs, preprocessing in the graph
        model.keras                  the same serving model as a Keras file
        manifest.json

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
from zoo.runtime.names import EXPORT_BASE_DIR

TOLERANCE = 1e-5  # SavedModel vs live model
XLA_TOLERANCE = 1e-4  # XLA may fuse and reorder float operations
# Integer outputs (uint8 images): a float difference far below 1e-5 can still move
# a value across a rounding boundary, so one step is allowed, never more.
INTEGER_TOLERANCE = 1


class ExportError(RuntimeError):
    """An export could not be written or failed its verification."""


@dataclasses.dataclass
class ExportResult:
    path: Path
    version: int
    manifest: dict


@dataclasses.dataclass
class Endpoint:
    """An extra serving signature: `model` maps `input_name` to `output_name`.

    `sample` are inputs to verify it with; `xla` says whether its function
    must also compile with XLA (string inputs cannot). The signature checks
    its input in the graph (`zoo.runtime.signature_checks`): the declared shape, not
    empty, floats finite, and integers in `value_range` = (low, high), i.e.
    [low, high), when given (ids); `size_multiple`: every open size but the
    batch's must be a multiple of it.
    """

    model: Any
    input_name: str
    output_name: str
    dtype: str
    sample: Any
    xla: bool = True
    value_range: tuple[int, int] | None = None
    size_multiple: int = 1


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


def serving_model(model, preprocessor=None, raw_shape=None, raw_dtype="float32",
                  input_name="inputs", output_name="outputs"):
    """One functional model: raw input -> preprocessing -> model -> named output."""
    import keras

    if raw_shape is None:
        raw_shape = tuple(model.input_shape[1:])
    raw = keras.Input(shape=tuple(raw_shape), dtype=raw_dtype, name=input_name)
    x = raw
    if preprocessor is not None:
        for layer in preprocessor.layers:
            x = layer(x)
    elif raw_dtype != "float32":
        x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(x)
    y = model(x)
    if isinstance(y, (list, tuple)):  # auxiliary training heads are not served
        y = y[0]
    y = keras.layers.Identity(name=output_name)(y)
    return keras.Model(raw, y, name=f"{model.name}_serving")


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
    sample=None,
    labels=None,
    static_batch: int | None = None,
    verify: bool = True,
    serving=None,
    endpoints: Mapping[str, Endpoint] | None = None,
    value_range: tuple[int, int] | None = None,
    size_multiple: int = 1,
) -> ExportResult:
    """Export `model` (with its preprocessing) as a versioned SavedModel.

    Args:
        model: A trained `keras.Model`.
        name: Export name: the folder under `base_dir`.
        preprocessor: A `keras.Sequential` of preprocessing layers
            (`pipelines.preprocessor(...)`) put in front of the model, so the
            served model takes raw inputs (e.g. uint8 images).
        raw_shape, raw_dtype: The raw input per example (default: the model's
            input shape, float32).
        input_name, output_name: Tensor names in the `serving_default` signature.
        class_names: Written to the manifest for `zoo predict`.
        metadata: Extra manifest entries (builder arguments, dataset, metrics).
        base_dir: Root of the TF Serving layout.
        version: Explicit version; an existing one is refused, never overwritten.
        sample: Raw inputs to verify with (default: 8 random raw inputs).
        labels: Labels of `sample`; the fresh-process check then reports accuracy.
        static_batch: Fix the batch dimension (TPUs need static shapes).
        verify: Reload in a fresh Python process importing only TensorFlow and
            require outputs within 1e-5 of the live model, and an XLA compile
            (of every signature with numeric inputs).
        serving: A ready serving model (raw input -> output) used instead of
            composing `preprocessor` and `model` (e.g. text in, next-token
            probabilities out).
        endpoints: Extra signatures by name, exported and verified beside
            `serving_default`.
        value_range, size_multiple: What `serving_default` accepts beyond its
            shape and dtype (see `Endpoint`): integer inputs in [low, high),
            open sizes that are multiples of `size_multiple`.

    Returns:
        An `ExportResult` with the version folder, its number and the manifest.

    Raises:
        ValueError: a bad `name`, `version` or `static_batch`, or a `base_dir`
            this process cannot write (before anything is written).
        FileExistsError: `version` already exists.
        ExportError: verification failed (nothing is left behind).
    """
    import keras
    import tensorflow as tf

    check_folder_name("name", name)
    check_export_target(base_dir, static_batch=static_batch)
    model_dir = (Path(base_dir) / name).resolve()
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"`version` must be an integer >= 1. Received: version={version!r}")
        if (model_dir / str(version)).exists():
            raise FileExistsError(
                f"Export {model_dir / str(version)} already exists; exports are never "
                f"overwritten. The next free version is {next_version(base_dir, name)}."
            )
    if serving is None:
        serving = serving_model(model, preprocessor, raw_shape, raw_dtype, input_name, output_name)
    else:
        raw_dtype = str(serving.inputs[0].dtype)
    if labels is not None and static_batch is not None:
        labels = np.asarray(labels)[:static_batch]
    signatures = {
        "serving_default": Endpoint(serving, input_name, output_name, raw_dtype, sample,
                                    xla=raw_dtype != "string", value_range=value_range,
                                    size_multiple=size_multiple),
        **dict(endpoints or {}),
    }
    checks = {sig: _check_inputs(e, static_batch) for sig, e in signatures.items()}

    tmp = _make_temp(model_dir)
    saved = tmp / "export"  # renamed into place; its sibling verify/ holds the check's scratch
    try:
        archive = keras.export.ExportArchive()
        for sig, endpoint in signatures.items():
            archive.track(endpoint.model)
            shape = (static_batch, *endpoint.model.input_shape[1:])
            archive.add_endpoint(
                sig, _serve_function(endpoint, shape),
                input_signature=[tf.TensorSpec(shape, endpoint.dtype, name=endpoint.input_name)],
            )
        archive.write_out(str(saved), verbose=False)
        serving.save(saved / "model.keras")

        check = {"max_abs_diff": None, "xla_max_abs_diff": None}
        if verify:
            check = verify_export(saved, checks, labels, work_dir=tmp / "verify")
        raw_shape = tuple(serving.input_shape[1:])
        manifest = {
            "name": name,
            "version": None,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "signature": "serving_default",
            "inputs": {input_name: {"shape": [static_batch, *raw_shape], "dtype": raw_dtype}},
            "outputs": {
                output_name: {
                    "shape": [static_batch, *serving.output_shape[1:]],
                    "dtype": str(serving.output.dtype),
                }
            },
            "signatures": {
                sig: {
                    "inputs": {e.input_name: _input_manifest(e, static_batch)},
                    "outputs": {e.output_name: {"shape": [static_batch, *e.model.output_shape[1:]]}},
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
        return _claim_version(saved, model_dir, version, manifest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    from zoo.runtime.signature_checks import checked

    def serve(inputs):
        inputs = checked(inputs, endpoint.input_name, shape, endpoint.value_range,
                         endpoint.size_multiple)
        return {endpoint.output_name: endpoint.model(inputs, training=False)}

    return serve


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
            "inputs": sample, "expected": expected, "xla": endpoint.xla}


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
            arrays[f"inputs{i}"], arrays[f"expected{i}"] = c["inputs"], c["expected"]
            plan.append({"signature": sig, "input_name": c["input_name"],
                         "output_name": c["output_name"], "xla": c["xla"], "index": i})
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
    """Export a model trained through `zoo.train`/`tuning.search` with its data plan.

    Fills in what `export` needs from the registry spec and the data plan:
    the preprocessing, the raw input spec, meaningful tensor names, class
    names, and a verification sample from the dataset's test split (with
    labels for classifiers, so the fresh-process check reports accuracy).
    """
    import pipelines

    from zoo.runtime.precision import float32_copy

    name = spec.name if name is None else name  # "" is refused, never replaced
    check_folder_name("name", name)  # before any data is read for the verification
    # A mixed-precision model is served in float32 (its weights are float32 already):
    # exact against the verification's 1e-5, and any device can serve it.
    model = float32_copy(model)
    info = plan.info
    if info.task == "language_model":
        arguments = _language_model_export(model, spec, plan, metrics, hyperparameters)
        return export(arguments.pop("model"), name, **{**arguments, **kwargs})
    if info.task == "embedding":  # words in, vectors out (zoo.models.word_vectors)
        from zoo.models.word_vectors import export_arguments

        arguments = export_arguments(model, spec, plan,
                                     _metadata(spec, plan, metrics, hyperparameters))
        return export(model, name, **{**arguments, **kwargs})
    if spec.family == "gan":  # the generator alone: latents or seeds in, uint8 images out
        from zoo.models.dcgan import export_arguments

        arguments = export_arguments(model, spec, plan,
                                     _metadata(spec, plan, metrics, hyperparameters))
        return export(model, name, **{**arguments, **kwargs})
    if info.vocabulary is not None:  # labelled text: text in, class probabilities out
        arguments = _text_classifier_export(model, spec, plan, metrics, hyperparameters)
        return export(model, name, **{**arguments, **kwargs})
    sample = labels = None
    if pipelines.get_source(info.source).in_memory:
        x, y = pipelines.load_arrays(
            plan.dataset, plan.test_split or "train", **plan.dataset_options()
        )
        sample = x
        if "classification" in spec.task:
            labels = y
    metadata = _metadata(spec, plan, metrics, hyperparameters)
    defaults = dict(
        preprocessor=plan.preprocessor(),
        raw_shape=tuple(info.feature_shape),
        raw_dtype=info.feature_dtype,
        input_name="image" if info.is_image else "features",
        output_name=spec.output_name,
        class_names=info.class_names,
        metadata=metadata,
        sample=sample,
        labels=labels,
        endpoints=spec.signatures(model, plan) if spec.signatures else None,
        # Token ids (source and decoder input) index the dataset's vocabulary.
        value_range=(0, info.num_classes) if spec.task == "sequence_to_sequence" else None,
    )
    defaults.update(kwargs)
    return export(model, name, **defaults)


def _text_classifier_export(model, spec, plan, metrics=None, hyperparameters=None,
                            batch: int = 8) -> dict:
    """`export` arguments of a text classifier: `serving_default` takes text
    (tokenized, looked up and cut to the model's length in the graph; no XLA)
    and `token_ids` takes the ids (XLA-compiled)."""
    import keras

    from pipelines.layers import TextToIds

    info = plan.info
    split = plan.test_split or plan.validation_split
    ids, labels = (t.numpy() for t in next(iter(plan.load(split, batch, shuffle=False))))
    tokens = np.array(info.vocabulary)
    joiner = "" if info.text_level == "char" else " "
    texts = np.array([joiner.join(tokens[row[row > 0]]) for row in ids])
    text = keras.Input(shape=(), dtype="string", name="text")
    token_ids, _ = TextToIds(info.vocabulary, info.text_level, length=model.input_shape[1],
                             name="tokenize")(text)
    output = keras.layers.Identity(name=spec.output_name)(model(token_ids))
    serving = keras.Model(text, output, name=f"{model.name}_serving")
    ids_model = keras.Model(model.inputs, keras.layers.Identity(name=spec.output_name)(
        model.outputs[0]), name=f"{model.name}_ids")
    return dict(
        serving=serving,
        input_name="text",
        output_name=spec.output_name,
        sample=texts,
        labels=labels,
        # Id 0 is `[UNK]` and the padding in front of short texts, as in training.
        endpoints={"token_ids": Endpoint(ids_model, "token_ids", spec.output_name, "int32", ids,
                                         value_range=(0, len(info.vocabulary)))},
        class_names=info.class_names,
        metadata={**_metadata(spec, plan, metrics, hyperparameters), "level": info.text_level,
                  "vocabulary_size": len(info.vocabulary)},
    )


def _metadata(spec, plan, metrics=None, hyperparameters=None) -> dict:
    """Manifest entries saying what was trained, on what, how well."""
    metadata = {
        "model": spec.name,
        "family": spec.family,
        "task": spec.task,
        "reference": spec.reference,
        "builder_args": plan.builder_args,
        "training_data": {"dataset": plan.dataset, "options": plan.data_options},
        "metrics": metrics or {},
    }
    if hyperparameters:
        metadata["hyperparameters"] = hyperparameters
    return metadata


def text_serving_model(model, vocabulary, level, input_name="text", output_name="probabilities"):
    """Text (B,) -> the language model's next-token probabilities after each text (B, V).

    Tokenization and the vocabulary are inside the graph; texts of different
    lengths are right-padded, and the output is read at each text's last
    token, which padding cannot change in a causal model. An empty text reads
    as [UNK] (id 0), the way `zoo generate` starts an empty prompt.
    """
    import keras

    from pipelines.layers import TextToIds
    from zoo.layers import AtLeastOneStep, LastStep

    text = keras.Input(shape=(), dtype="string", name=input_name)
    ids, lengths = TextToIds(vocabulary, level, name="tokenize")(text)
    ids = AtLeastOneStep(name="at_least_one_step")(ids)  # a batch of empty texts
    probabilities = LastStep(name=output_name)(model(ids), lengths)
    return keras.Model(text, probabilities, name=f"{model.name}_serving")


def token_ids_model(model, output_name="probabilities"):
    """Token ids (B, T) -> next-token probabilities after the last one (B, V); XLA-compilable."""
    import keras

    from zoo.layers import LastStep

    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    return keras.Model(ids, LastStep(name=output_name)(model(ids)), name=f"{model.name}_next_token")


def _language_model_export(model, spec, plan, metrics=None, hyperparameters=None,
                           batch: int = 8) -> dict:
    """`export` arguments of a language model: text in (`serving_default`,
    string ops, no XLA) and token ids in (`token_ids`, XLA-compiled)."""
    if any(getattr(layer, "stateful", False) for layer in model.layers):
        # Serving starts every request from a zero state, at any batch size.
        stateless = spec.builder(**{**plan.builder_args, "stateful_batch_size": None})
        stateless.set_weights(model.get_weights())
        model = stateless
    tokens = np.array(plan.info.class_names)
    level = plan.data_options.get("level", "char")
    split = plan.test_split or plan.validation_split
    ids = next(iter(plan.load(split, batch, shuffle=False)))[0].numpy()
    # Texts of different lengths, so the padding path is verified too.
    pieces = [tokens[row[: max(1, len(row) - 3 * i)]] for i, row in enumerate(ids)]
    texts = np.array(["".join(p) if level == "char" else " ".join(p) for p in pieces])
    return dict(
        model=model,
        serving=text_serving_model(model, tokens, level, "text", spec.output_name),
        input_name="text",
        output_name=spec.output_name,
        sample=texts,
        # Id 0 is `[UNK]`: unknown tokens of a text, and `zoo generate`'s empty prompt.
        endpoints={"token_ids": Endpoint(token_ids_model(model, spec.output_name), "token_ids",
                                         spec.output_name, "int32", ids,
                                         value_range=(0, len(tokens)))},
        class_names=[str(t) for t in tokens],
        metadata={**_metadata(spec, plan, metrics, hyperparameters), "level": level},
    )
