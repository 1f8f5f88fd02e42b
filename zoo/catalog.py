"""The model catalog: what `zoo list` and `zoo info` print, without TensorFlow.

Registering the models imports every family module, and with it Keras and
TensorFlow (seconds); `zoo info` also builds the model and reads its search
space with Keras Tuner. The catalog (`zoo/models/catalog.json`) holds those
answers, generated from the live registry:

    python -m zoo.catalog --write    # after changing a model: regenerate
    python -m zoo.catalog --check    # exit 1 if the file differs from the registry

It records a digest of the sources it was generated from (the model modules,
the registry, the shared layers and checks). When they change and the file
was not regenerated, `list_entries`/`info_entry` answer from the live
registry instead (slow, never wrong), and a test of the default suite fails
until the file is written again.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CATALOG_PATH = PACKAGE_DIR / "models" / "catalog.json"


def source_files() -> list[Path]:
    """The files whose content decides the catalog (sorted)."""
    models = sorted((PACKAGE_DIR / "models").glob("*.py"))
    return models + [PACKAGE_DIR / n for n in ("registry.py", "layers.py", "_common.py")]


def sources_digest() -> str:
    """sha256 over the names and contents of `source_files()`."""
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# ----------------------------------------------------------------- reading (no TensorFlow)


def read_catalog(path: Path = CATALOG_PATH) -> dict | None:
    """The catalog's `{name: entry}`, or None when the file is missing, damaged or was
    generated from other sources than today's (see the module docstring)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("sources") != sources_digest():
        return None
    return data.get("models")


def list_entries(pattern: str | None = None) -> list[dict]:
    """Entries (name, family, task, summary) of the models matching an fnmatch
    `pattern`, sorted by name: from the catalog, else from the live registry."""
    catalog = read_catalog()
    if catalog is None:
        from zoo.registry import get_spec, list_models

        catalog = {name: spec_entry(get_spec(name)) for name in list_models()}
    names = sorted(catalog)
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return [catalog[n] for n in names]


def info_entry(name: str) -> dict:
    """Everything `zoo info` prints of model `name` (shapes and search space included).

    Raises:
        zoo.registry.UnknownModelError: listing the closest registered names.
    """
    catalog = read_catalog()
    if catalog is None:
        from zoo.registry import get_spec

        return model_entry(get_spec(name))
    if name not in catalog:
        from zoo.registry import unknown_model_error

        raise unknown_model_error(name, list(catalog))
    return catalog[name]


# ----------------------------------------------------------------- formatting


def format_list(entries: list[dict]) -> list[str]:
    """`zoo list`'s table: model, family, task and summary in aligned columns."""
    header = {"name": "model", "family": "family", "task": "task", "summary": "summary"}
    rows = [header, *entries]
    widths = [max(len(r[key]) for r in rows) for key in ("name", "family", "task")]
    return [f"{r['name']:<{widths[0]}}  {r['family']:<{widths[1]}}  {r['task']:<{widths[2]}}  "
            f"{r['summary']}" for r in rows]


def format_info(entry: dict) -> list[str]:
    """`zoo info`'s lines for one catalog entry."""
    lines = [
        f"{entry['name']}: {entry['summary']}",
        f"  family     {entry['family']}",
        f"  task       {entry['task']}",
        f"  reference  {entry['reference']}",
        f"  defaults   {json.dumps(entry['defaults'])}",
        f"  training   optimizer={entry['optimizer']} learning_rate={entry['learning_rate']} "
        f"loss={entry['loss']} metrics={entry['metrics']}",
    ]
    if entry["searchable_optimizers"]:
        lines.append(f"  searchable optimizers {json.dumps(entry['searchable_optimizers'])}")
    options = _as_tuples(entry["dataset_options"])
    dataset = entry["dataset"] or "none built in: pass --data"
    lines.append(f"  dataset    {dataset} {options or ''}".rstrip())
    lines.append(f"  shapes     {entry['input_shape']} -> {entry['output_shape']}, "
                 f"{entry['parameters']:,} parameters")
    if entry["search_space"] is not None:
        lines.append("  search space:")
        lines += [f"    {p['name']}: {p['type']} {p['config']}" for p in entry["search_space"]]
    return lines


def _as_tuples(value):
    """JSON lists back to the tuples the registrations wrote (for printing)."""
    if isinstance(value, dict):
        return {k: _as_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


# ----------------------------------------------------------------- generating (live registry)


def _plain(value):
    """`value` as the catalog file stores it (a JSON round trip; str for the rest)."""
    return json.loads(json.dumps(value, default=str))


def spec_entry(spec) -> dict:
    """What a `ModelSpec` says without building the model: the `zoo list` columns and
    the spec lines of `zoo info`."""
    from zoo.tasks import get_task

    task = get_task(spec)
    return _plain({
        "name": spec.name, "family": spec.family, "task": spec.task, "summary": spec.summary,
        "reference": spec.reference, "defaults": dict(spec.defaults),
        "optimizer": spec.optimizer, "learning_rate": spec.learning_rate, "loss": task.loss_for(spec),
        "metrics": list(task.metrics_for(spec)),
        "searchable_optimizers": spec.learning_rates if spec.alternative_optimizers else None,
        "dataset": spec.dataset, "dataset_options": dict(spec.dataset_options),
        "large": spec.large,
    })


def model_entry(spec) -> dict:
    """`spec_entry` plus what building the model tells: its shapes, its parameter count
    and its search space's parameters (Keras Tuner)."""
    from zoo.registry import build

    model = build(spec.name)
    entry = {**spec_entry(spec), "input_shape": str(model.input_shape),
             "output_shape": str(model.output_shape), "parameters": model.count_params(),
             "search_space": None}
    if spec.search_space is not None:
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        spec.search_space(hp)
        entry["search_space"] = [
            {"name": p.name, "type": type(p).__name__, "config": _plain(p.get_config())}
            for p in hp.space]
    return _plain(entry)


def generate() -> dict:
    """The catalog of every registered model, as `write_catalog` stores it."""
    from zoo.registry import get_spec, list_models

    return {"sources": sources_digest(),
            "models": {name: model_entry(get_spec(name)) for name in list_models()}}


def write_catalog(path: Path = CATALOG_PATH) -> Path:
    """Generate the catalog and write it (atomically) to `path`."""
    from zoo._common import write_text_atomic

    write_text_atomic(path, json.dumps(generate(), indent=1) + "\n")
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo.catalog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate the catalog file")
    action.add_argument("--check", action="store_true",
                        help="exit 1 if the catalog file differs from the live registry")
    args = parser.parse_args(argv)
    if args.write:
        print(f"Wrote {write_catalog()}")
        return 0
    fresh = read_catalog() == generate()["models"]
    print(f"{CATALOG_PATH} is {'up to date' if fresh else 'stale: run python -m zoo.catalog --write'}")
    return 0 if fresh else 1


if __name__ == "__main__":
    sys.exit(main())
