"""Train the best configuration a search found, and export it.

Training is `zoo.train` with the best trial's builder arguments, learning
rate and batch size, in `<project>/best_model/` (so it resumes like any run).
Exporting is a thin hook over `zoo.export.export`.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any, Mapping

from zoo.training import TrainResult, train


@dataclasses.dataclass
class BestModel:
    """The best configuration, trained.

    Attributes:
        model: The trained `keras.Model`.
        builder_args: Its full builder arguments.
        hyperparameters: The best trial's hyperparameter values.
        train_result: The `zoo.train` result (history, run folder).
        export_result: What `zoo.export.export` returned, when exported.
    """

    model: Any
    builder_args: dict
    hyperparameters: dict
    train_result: TrainResult
    export_result: Any = None


def train_best(
    result,
    *,
    epochs: int | None = None,
    run_dir: str | os.PathLike | None = None,
    export: bool = False,
    export_name: str | None = None,
    export_options: Mapping[str, Any] | None = None,
    verbose: int | str = "auto",
) -> BestModel:
    """Train the best configuration of a search from scratch, and optionally export it.

    Args:
        result: A `tuning.SearchResult`.
        epochs: Training epochs (default: the search's `epochs`).
        run_dir: The `zoo.train` run folder (default `<project>/best_model`).
        export: Export the trained model with `zoo.export.export`.
        export_name: The export's name (default: the model name).
        export_options: Keyword arguments passed through to `zoo.export.export`
            (e.g. `base_dir`, `verify`); they take precedence over the
            preprocessing and metadata filled in from the search.
        verbose: `fit` verbosity.

    Returns:
        A `BestModel` with the trained model and its builder arguments.

    Example:
        >>> result = tuning.search("softmax_regression", tuner="random", max_trials=2, epochs=2)
        >>> best = tuning.train_best(result, epochs=5)
        >>> best.model.output_shape
        (None, 3)
    """
    if result.best_trial_id is None:
        raise ValueError(
            f"The search in {result.project_dir} has no completed trial; "
            f"there is no best configuration to train."
        )
    hypermodel = result.hypermodel
    hp = result.tuner.oracle.get_trial(result.best_trial_id).hyperparameters.copy()
    architecture = hypermodel.architecture_args(hp)
    learning_rate, batch_size = hypermodel.training_choices(hp)
    trained = train(
        hypermodel.spec.name,
        hypermodel.plan.dataset,
        epochs=epochs or result.epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=result.seed,
        overrides={**result.overrides, **architecture},
        data_options=result.data_options,
        run_dir=run_dir or result.project_dir / "best_model",
        verbose=verbose,
    )
    best = BestModel(
        model=trained.model,
        builder_args=dict(trained.plan.builder_args),
        hyperparameters=dict(result.best_hyperparameters),
        train_result=trained,
    )
    if export:
        suggested = _export_defaults(best, trained)
        options = {**_accepted(suggested), **dict(export_options or {})}
        best.export_result = export_model(
            best.model, export_name or hypermodel.spec.name, **options
        )
    return best


def export_model(model, name: str, **kwargs):
    """Export `model` under `name` with `zoo.export.export`, passing `kwargs` through.

    Raises:
        RuntimeError: when `zoo.export` is not available.
    """
    try:
        from zoo.export import export
    except ImportError as e:
        raise RuntimeError(f"Exporting needs zoo.export, which cannot be imported: {e}") from e
    return export(model, name, **kwargs)


def _export_defaults(best: BestModel, trained: TrainResult) -> dict:
    """What the search knows about the model that an export should carry."""
    plan, info = trained.plan, trained.plan.info
    last_epoch = trained.history[-1] if trained.history else {}
    metrics = {k: v for k, v in last_epoch.items() if k != "epoch"}
    return {
        # Served models take raw inputs: the data's own shape and dtype.
        "preprocessor": plan.preprocessor(),
        "raw_shape": tuple(info.feature_shape),
        "raw_dtype": info.feature_dtype,
        "class_names": info.class_names,
        "builder_args": best.builder_args,
        "dataset": plan.dataset,
        "metrics": metrics,
        "metadata": {
            "builder_args": best.builder_args,
            "dataset": plan.dataset,
            "metrics": metrics,
            "hyperparameters": best.hyperparameters,
        },
    }


def _accepted(suggested: dict) -> dict:
    """The suggested keywords that `zoo.export.export` takes (its signature is still settling)."""
    try:
        from zoo.export import export
    except ImportError:
        return suggested  # export_model reports the missing module
    params = inspect.signature(export).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = dict(suggested)
    else:
        accepted = {k: v for k, v in suggested.items() if k in params}
    if "builder_args" in accepted and "metadata" in accepted:
        # Said once: metadata keeps only what has no keyword of its own.
        accepted["metadata"] = {"hyperparameters": suggested["metadata"]["hyperparameters"]}
    return accepted
