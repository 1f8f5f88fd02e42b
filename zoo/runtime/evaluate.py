"""`zoo evaluate`: a trained run or an export, measured on one split of its data.

The split is streamed batch by batch: loss and metrics by `model.evaluate` (a
run), the task's own figures by its evaluator (`Task.evaluator`: for a
classifier accuracy, per-class precision, recall, F1 and support and a
confusion matrix; for a regressor RMSE, MAE and R²), which keeps running sums
only. An export (`saved_models/<name>/<version>`) is measured through its
`serving_default` signature on the split's raw inputs, as a server would be.

What is written (exports are never modified):

    <run folder>/evaluations/<dataset>-<split>/            for a run
    evaluations/<name>-<version>/<dataset>-<split>/        for an export
        evaluation.json       split, examples, loss, metrics, the task's figures
                              ("figures"), the files written ("files")
        confusion_matrix.png  classifiers
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np

import pipelines
from zoo._common import check_positive_int, jsonable, safe_folder_name, write_text_atomic
from zoo.registry import get_spec
from zoo.runtime.plan import OWN_DATA_OPTIONS, DataPlan, check_same_data, plan_data
from zoo.runtime.run import Run
from zoo.tasks import get_task

EVALUATION_JSON = "evaluation.json"
EVALUATIONS_DIR = "evaluations"  # beside a run's files, or in the current folder for exports
DEFAULT_BATCH_SIZE = 256


@dataclasses.dataclass
class Evaluation:
    """What `evaluate` measured, and where it wrote it.

    Attributes:
        report: The content of `evaluation.json`.
        folder: The folder holding `evaluation.json` and the figures.
    """

    report: dict
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / EVALUATION_JSON


def evaluate(source: str | os.PathLike, split: str = "test", data: str | None = None, *,
             out: str | os.PathLike | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
             checkpoint: str = "best") -> Evaluation:
    """Measure a run folder (`zoo train`) or an export folder on one split of its data.

    Args:
        source: A run folder (holding run.json) or an export version folder
            (holding manifest.json).
        split: A split of the dataset ("test", "validation", "train").
        data: Another dataset of the same shape (default: the one it was trained on).
        out: The folder to write into (default: see the module docstring).
        batch_size: Examples per batch. checkpoint: A run's "best" or "final" model.

    Returns:
        An `Evaluation`: the report written to `evaluation.json`, and its folder.

    Example:
        >>> zoo.evaluate("runs/mlp-digits").report["figures"]["accuracy"]
        0.9721448467966574
    """
    check_positive_int("batch_size", batch_size)
    folder = Path(source)
    if (folder / "manifest.json").is_file():
        report, evaluator, default_out = _evaluate_export(folder, split, data, batch_size)
    else:
        report, evaluator, default_out = _evaluate_run(Run(folder), split, data, batch_size,
                                                       checkpoint)
    out = Path(out) if out is not None else default_out
    out.mkdir(parents=True, exist_ok=True)
    if evaluator is not None:
        report["files"] = evaluator.write_figures(out)
    write_text_atomic(out / EVALUATION_JSON, json.dumps(jsonable(report), indent=2))
    return Evaluation(report, out)


def _evaluate_run(run: Run, split: str, data, batch_size: int, checkpoint: str):
    spec, plan = run.plan()  # refuses a folder that is no run folder
    plan = _other_data(spec, plan, data)
    _check_split(plan, split)
    task = get_task(spec)
    if task.loss_for(spec) is None:
        raise ValueError(f"Model {spec.name!r} (task {spec.task!r}) is not trained with a loss "
                         "on (inputs, targets) pairs: `zoo evaluate` has nothing to measure.")
    model = run.load(checkpoint)
    logs = model.evaluate(plan.load(split, batch_size, shuffle=False), verbose=0,
                          return_dict=True)
    evaluator = task.evaluator(spec, plan)
    examples = 0
    for inputs, targets in plan.load(split, batch_size, shuffle=False):
        outputs = model.predict_on_batch(inputs) if evaluator is not None else None
        if isinstance(outputs, (list, tuple)):  # auxiliary heads: the main output first
            outputs = outputs[0]
        examples += len(targets)
        if evaluator is not None:
            evaluator.update(np.asarray(targets), np.asarray(outputs))
    report = _report(spec, plan, split, examples, f"run {run.folder}", logs.pop("loss", None),
                     logs, evaluator)
    out = run.folder / EVALUATIONS_DIR / f"{safe_folder_name(plan.dataset)}-{split}"
    return report, evaluator, out


def _evaluate_export(folder: Path, split: str, data, batch_size: int):
    import keras
    import tensorflow as tf

    from zoo.runtime.predict import read_manifest

    manifest, input_spec = read_manifest(folder)
    if input_spec.dtype == "string":
        raise ValueError(f"{folder} serves text; `zoo evaluate` feeds an export the split's raw "
                         "arrays. Evaluate its run folder instead.")
    if "training_data" not in manifest:
        raise ValueError(f"{folder}/manifest.json records no training data (model "
                         f"{manifest.get('model')!r}): there is no split to evaluate it on.")
    spec = get_spec(manifest["model"])
    trained = manifest["training_data"]
    plan = plan_data(spec, trained["dataset"], _tuples(manifest.get("builder_args", {})),
                     _tuples(trained.get("options", {})))
    plan = _other_data(spec, plan, data)
    _check_split(plan, split)
    task = get_task(spec)
    evaluator = task.evaluator(spec, plan)
    if evaluator is None:
        raise ValueError(f"Model {spec.name!r} (task {spec.task!r}) has no evaluation of its "
                         "served outputs; evaluate its run folder instead.")
    serve = tf.saved_model.load(str(folder)).signatures[manifest.get("signature",
                                                                     "serving_default")]
    (output_name, _), = manifest["outputs"].items()
    loss_fn = keras.losses.get(task.loss_for(spec))
    examples, loss_sum = 0, 0.0
    for inputs, targets in plan.load(split, batch_size, shuffle=False, preprocess=False):
        inputs = tf.cast(inputs, input_spec.dtype)
        outputs = serve(**{input_spec.name: inputs})[output_name]
        loss_sum += float(np.sum(keras.ops.convert_to_numpy(loss_fn(targets, outputs))))
        examples += len(targets)
        evaluator.update(np.asarray(targets), outputs.numpy())
    loss = loss_sum / examples if examples else None
    report = _report(spec, plan, split, examples, f"export {folder}", loss, {}, evaluator)
    name = f"{manifest.get('name', folder.parent.name)}-{manifest.get('version', folder.name)}"
    out = Path(EVALUATIONS_DIR) / name / f"{safe_folder_name(plan.dataset)}-{split}"
    return report, evaluator, out


def _other_data(spec, plan: DataPlan, data) -> DataPlan:
    """The plan on other data of the same shape, classes and columns (a dataset name or
    path, or own data: arrays, a DataFrame...), the model's builder arguments and own-data
    options (target column, task) kept."""
    if data is None:
        return plan
    data = pipelines.dataset_name(data)
    if data == plan.dataset:
        return plan
    options = {k: v for k, v in plan.data_options.items() if k in OWN_DATA_OPTIONS}
    other = plan_data(spec, data, overrides=plan.builder_args, data_options=options)
    check_same_data(plan, other)
    return other


def _check_split(plan: DataPlan, split: str) -> None:
    splits = list(plan.info.splits)
    if split not in splits:
        raise ValueError(f"Dataset {plan.dataset!r} has no split {split!r}. Available splits: "
                         f"{', '.join(splits)}.")


def _report(spec, plan: DataPlan, split: str, examples: int, source: str, loss, metrics: dict,
            evaluator) -> dict:
    report = {"source": source, "model": spec.name, "task": spec.task, "dataset": plan.dataset,
              "split": split, "examples": examples, "loss": _number(loss),
              "metrics": {k: _number(v) for k, v in metrics.items()}}
    if evaluator is not None:
        report["figures"] = evaluator.result()
    return report


def _number(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _tuples(options: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def format_report(report: dict) -> str:
    """The report's headline figures as lines for a terminal."""
    lines = [f"{report['source']}: {report['model']} on {report['dataset']} "
             f"{report['split']} ({report['examples']} examples)"]
    figures = {"loss": report["loss"], **report["metrics"]}
    task = report.get("figures", {})
    figures.update({k: v for k, v in task.items() if isinstance(v, (int, float))})
    lines.append(", ".join(f"{k}={v:.4g}" for k, v in figures.items() if v is not None))
    for row in task.get("classes", []):
        cells = [f"{row[k]:.3f}" if row[k] is not None else "-"
                 for k in ("precision", "recall", "f1")]
        lines.append(f"  {row['class']:>12}  precision {cells[0]}  recall {cells[1]}  "
                     f"f1 {cells[2]}  support {row['support']}")
    return "\n".join(lines)
