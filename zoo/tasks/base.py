"""The `Task` interface: one object per task, called by the runtime and the harness.

The default implementation of every hook is the plain supervised case (a
gradient-trained model, no extra callbacks, nothing to pre-train); a task
overrides only what differs. Hooks receive the `ModelSpec` and the
`zoo.runtime.plan.DataPlan` rather than importing the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_TASKS: dict[str, "Task"] = {}


def register_task(task: "Task") -> "Task":
    """Register a task object under its `name` (once)."""
    if task.name in _TASKS:
        raise ValueError(f"Task {task.name!r} is registered twice.")
    _TASKS[task.name] = task
    return task


def registered_tasks() -> dict[str, "Task"]:
    return dict(_TASKS)


class Task:
    """What differs between tasks. Subclasses set the attributes and override hooks.

    Attributes:
        name: The task name a spec gives (`register_model(task=...)`).
        loss, metrics: Default Keras loss and metric identifiers.
        output_name: The output tensor's name in serving signatures.
        targets: "labels" for (features, labels) pairs; "features" when the
            preprocessed input is its own target (autoencoders).
    """

    name: str = ""
    loss: str | None = None
    metrics: tuple[str, ...] = ()
    output_name: str = "outputs"
    targets: str = "labels"

    # --- training hooks: called by the one fit path (zoo.train and every search trial) ---

    def training_builder_args(self, spec, plan, batch_size: int, replicas: int) -> dict:
        """Builder arguments for training (e.g. a stateful model's fixed batch size)."""
        return dict(plan.builder_args)

    def training_callbacks(self, spec, model, plan, write_dir: Path | None) -> list:
        """Extra Keras callbacks of a fit, put before the run folder's own (so values they
        log reach the checkpoint and the history). `write_dir` is None in a search trial."""
        if spec.callbacks is None or write_dir is None:
            return []
        return spec.callbacks(model, plan, write_dir)

    def fit_without_gradients(self, spec, model, plan, seed: int = 0) -> dict | None:
        """Fit a model not trained by gradient descent and return its figures; None (the
        default) means the model is trained with `model.fit`."""
        if spec.fit is None:
            return None
        return spec.fit(model, plan, seed=seed)

    def pretrain(self, spec, model, plan, seed: int = 0, batch_size: int = 32) -> dict | None:
        """Run once before gradient training of a new run or trial (None: nothing to do)."""
        if spec.pretrain is None:
            return None
        return spec.pretrain(model, plan, seed=seed, batch_size=batch_size)

    def run_files(self, spec, plan, run) -> None:
        """Write what a run folder needs beside the model (e.g. the vocabulary), through
        `run`, the `zoo.runtime.run.Run` (e.g. `run.write_vocabulary(tokens)`)."""

    # --- export ---

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any] | None:
        """`zoo.runtime.exporter.export` arguments for a trained model (None: the runtime's
        generic tensor-in, tensor-out export)."""
        return None
