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

import importlib
import pkgutil

from zoo.tasks.base import Task, registered_tasks

__all__ = ["Task", "get_task", "register_task", "registered_tasks"]

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
        raise ValueError(f"Unknown task {name!r}. Expected one of: {', '.join(sorted(tasks))}.")
    return tasks[name]
