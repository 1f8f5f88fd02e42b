"""Train the best configuration a search found, and export it.

Training is `zoo.train` with the best trial's builder arguments, learning
rate and batch size, in `<project>/best_trial_<id>/` (so it resumes like any
run, and a resumed search that finds a better trial trains that one afresh).
Exporting is a thin hook over `zoo.runtime.exporter.export_trained`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

from zoo.runtime.callbacks import plateau_callbacks
from zoo.runtime.names import EXPORT_BASE_DIR
from zoo.runtime.training import TrainResult, train


@dataclasses.dataclass
class BestModel:
    """The best configuration, trained.

    Attributes:
        model: The trained `keras.Model`.
        builder_args: Its full builder arguments.
        hyperparameters: The best trial's hyperparameter values.
        train_result: The `zoo.train` result (history, run folder, spec, plan).
        export_result: What `zoo.runtime.exporter.export_trained` returned, when exported.
    """

    model: Any
    builder_args: dict
    hyperparameters: dict
    train_result: TrainResult
    export_result: Any = None

    @property
    def spec(self):
        return self.train_result.spec

    @property
    def plan(self):
        return self.train_result.plan

    @property
    def metrics(self) -> dict:
        """The metrics of the last training epoch."""
        last = self.train_result.history[-1] if self.train_result.history else {}
        return {k: v for k, v in last.items() if k != "epoch"}


def train_best(
    result,
    *,
    epochs: int | None = None,
    lr_schedule: str = "constant",
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
        lr_schedule: `zoo.train`'s schedule: "constant" or "cosine".
        run_dir: The `zoo.train` run folder (default `<project>/best_trial_<id>`);
            rerunning resumes or reloads that run like any `zoo.train` run.
        export: Export the trained model (`export_best`).
        export_name: The export's name (default: the model name).
        export_options: Keyword arguments passed through to
            `zoo.runtime.exporter.export_trained` (e.g. `base_dir`, `verify`).
        verbose: `fit` verbosity.

    Returns:
        A `BestModel` with the trained model and its builder arguments.

    The search's `early_stopping` and `reduce_lr_on_plateau` apply to this training too,
    on the search's objective; `reduce_lr_on_plateau` is refused with the "cosine" schedule.

    Example:
        >>> result = tuning.search("softmax_regression", tuner="random", max_trials=2, epochs=2)
        >>> best = tuning.train_best(result, epochs=5)
        >>> best.model.output_shape
        (None, 3)
    """
    if export:  # a bad name, base folder or format fails now, not after training
        check_export_options(export_name, export_options)
    check_plateau_schedule(lr_schedule, result.reduce_lr_on_plateau)
    if result.best_trial_id is None:
        raise ValueError(
            f"The search in {result.project_dir} has no completed trial; "
            f"there is no best configuration to train."
        )
    hypermodel = result.hypermodel
    hp = result.tuner.oracle.get_trial(result.best_trial_id).hyperparameters.copy()
    architecture = hypermodel.architecture_args(hp)
    config = hypermodel.trial_config(hp)
    trained = train(
        hypermodel.spec.name,
        hypermodel.plan.dataset,
        epochs=epochs or result.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        optimizer=config.optimizer,
        lr_schedule=lr_schedule,
        seed=result.seed,
        overrides={**result.overrides, **architecture},
        data_options=result.data_options,
        run_dir=run_dir or result.project_dir / f"best_trial_{result.best_trial_id}",
        callbacks=plateau_callbacks(
            result.objective, result.early_stopping, result.reduce_lr_on_plateau,
            mode=result.tuner.oracle.objective.direction) or None,
        verbose=verbose,
    )
    best = BestModel(
        model=trained.model,
        builder_args=dict(trained.plan.builder_args),
        hyperparameters=dict(result.best_hyperparameters),
        train_result=trained,
    )
    if export:
        best.export_result = export_best(best, export_name, **dict(export_options or {}))
    return best


def check_export_options(name: str | None, export_options: Mapping[str, Any] | None) -> None:
    """Refuse a bad export name, base folder, static batch or format before any training."""
    from zoo.runtime.exporter import check_export_target
    from zoo.runtime.formats import check_formats

    options = dict(export_options or {})
    check_export_target(options.get("base_dir", EXPORT_BASE_DIR), name,
                        options.get("static_batch"))
    check_formats(options.get("formats"), options.get("verify", True))


def export_best(best: BestModel, name: str | None = None, **kwargs):
    """Export a trained best configuration; `kwargs` pass through to `zoo.runtime.exporter.export_trained`.

    The export carries the data plan's preprocessing, the final metrics and
    the best hyperparameters in its manifest.
    """
    from zoo.runtime.exporter import export_trained

    return export_trained(
        best.model, best.spec, best.plan, name,
        metrics=best.metrics, hyperparameters=best.hyperparameters, **kwargs,
    )


def check_plateau_schedule(lr_schedule: str, reduce_lr_on_plateau: int | None) -> None:
    """Refuse `ReduceLROnPlateau` with the cosine schedule: the schedule sets the rate at
    every step, so there is no constant rate for the callback to lower."""
    if reduce_lr_on_plateau is not None and lr_schedule == "cosine":
        raise ValueError(
            "`reduce_lr_on_plateau` lowers a constant learning rate, but the final training's "
            "lr_schedule='cosine' sets the rate at every step; use lr_schedule='constant' "
            "(--lr-schedule constant). Received: lr_schedule='cosine', "
            f"reduce_lr_on_plateau={reduce_lr_on_plateau!r}")
