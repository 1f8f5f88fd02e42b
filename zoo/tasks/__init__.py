"""Tasks: what differs between kinds of model, owned in one place per task.

A model's spec names its task (`ModelSpec.task`). The runtime (`zoo.runtime`)
and the test harness call the task object for everything task-specific: how
data binds to the builder, the default loss and metrics, training hooks
(pre-training, fitting without gradients, callbacks, stateful batches), the
export signatures and verification samples, and what a test should check.
They never branch on a task, family or model name.

Every module of this package is imported by `get_task`; a task module registers
its tasks with `register_task`, so a new task is a new module here. `serving`
(signatures, serving models, verification samples) and `data` (shapes and
vocabulary sizes that follow the data) are the building blocks tasks share.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Any

from zoo.registry import ModelSpec, make_optimizer

from zoo.tasks.base import Task, registered_tasks

__all__ = ["AUX_LOSS_WEIGHT", "Task", "compile_model", "get_task", "register_task", "registered_tasks"]

from zoo.tasks.base import register_task  # noqa: E402


def _import_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def get_task(spec_or_name) -> Task:
    """The task object of a `ModelSpec` (or of a task name)."""
    _import_all()
    name = getattr(spec_or_name, "task", spec_or_name)
    tasks = registered_tasks()
    if name not in tasks:
        close = difflib.get_close_matches(str(name), list(tasks), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown task {name!r}.{hint} Expected one of: "
                         f"{', '.join(sorted(tasks))}.")
    return tasks[name]


# Auxiliary heads (GoogLeNet's) weigh 0.3 in the loss, as in Szegedy et al. 2014.
AUX_LOSS_WEIGHT = 0.3


def compile_model(
    model,
    spec: ModelSpec,
    *,
    learning_rate=None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    jit_compile: Any = "auto",
    loss: str | None = None,
):
    """Compile `model` with the spec's default optimizer and its task's loss and metrics
    (the spec's own where it gives them).

    `loss` replaces the task's loss with one of its `loss_choices` (checked by
    `Task.check_loss`).
    `optimizer` overrides the spec's (see `make_optimizer`); without a
    `learning_rate`, the spec's default for that optimizer is used.
    `learning_rate` may be a float or a `keras.optimizers.schedules` schedule;
    `clipnorm` clips each gradient to that norm.
    """
    name = spec.optimizer if optimizer is None else optimizer
    if learning_rate is None:
        learning_rate = spec.default_learning_rate(name)
    opt = make_optimizer(name, learning_rate, weight_decay, clipnorm)
    task = get_task(spec)
    task.check_loss(spec, loss)
    loss = task.loss_for(spec) if loss is None else loss
    metrics, loss_weights = list(task.metrics_for(spec)), None
    n_outputs = len(model.outputs)
    if n_outputs > 1:
        # Auxiliary heads (e.g. GoogLeNet's) share the loss at weight 0.3, as in
        # Szegedy et al. 2014; only the main output reports metrics.
        loss = [loss] * n_outputs
        loss_weights = [1.0] + [AUX_LOSS_WEIGHT] * (n_outputs - 1)
        metrics = [metrics] + [[] for _ in range(n_outputs - 1)]
    model.compile(
        optimizer=opt,
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics,
        jit_compile=jit_compile,
    )
    return model
