"""The `Task` interface: one object per task, called by the runtime and the harness.

The default implementation of every hook is the plain supervised case (a
gradient-trained model, no extra callbacks, nothing to pre-train); a task
overrides only what differs. Hooks receive the `ModelSpec` and the
`zoo.runtime.plan.DataPlan` rather than importing the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import pipelines

from zoo.tasks import data
from zoo.tasks.serving import verification_sample

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
        loss_choices: Other losses a training may choose instead (`zoo.train(loss=...)`),
            e.g. "mse" on a classifier's probabilities, to compare with cross-entropy.
        output_name: The output tensor's name in serving signatures.
        targets: "labels" for (features, labels) pairs; "features" when the
            preprocessed input is its own target (autoencoders).
        trained_by_gradients: False for a model set by `fit_without_gradients`.
        reads_text_corpus: The model learns from a text corpus (next-token ids).
        labelled_sample: The export's verification sample keeps its labels, so the
            fresh-process check reports accuracy (classifiers).
        trains_on_text: The model learns from a text corpus (language models, word
            vectors), so a short text file is data enough for a quick search.
    """

    name: str = ""
    loss: str | None = None
    loss_choices: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    output_name: str = "outputs"
    targets: str = "labels"
    trained_by_gradients: bool = True
    reads_text_corpus: bool = False
    labelled_sample: bool = False
    trains_on_text: bool = False

    # --- defaults a spec may override ---

    def loss_for(self, spec) -> str | None:
        """The loss `spec` trains with: its own, else this task's."""
        return self.loss if spec.loss is None else spec.loss

    def check_loss(self, spec, loss: str | None) -> None:
        """Refuse a training loss this task cannot train `spec` with (None: its own)."""
        allowed = (self.loss_for(spec), *self.loss_choices)
        if loss is not None and loss not in allowed:
            raise ValueError(
                f"Model {spec.name!r} ({self.name}) trains with the loss "
                f"{' or '.join(map(repr, allowed))}. Received: loss={loss!r}")

    def metrics_for(self, spec) -> tuple[str, ...]:
        """The metrics `spec` reports: its own, else this task's."""
        return tuple(self.metrics if spec.metrics is None else spec.metrics)

    def output_name_for(self, spec) -> str:
        """The serving output name of `spec`: its own, else this task's."""
        return spec.output_name or self.output_name

    # --- training hooks: called by the one fit path (zoo.train and every search trial) ---

    def training_builder_args(self, spec, plan, batch_size: int, replicas: int) -> dict:
        """Builder arguments for training (e.g. a stateful model's fixed batch size)."""
        return dict(plan.builder_args)

    def training_callbacks(self, spec, model, plan, write_dir: Path | None) -> list:
        """Extra Keras callbacks of a fit, put before the run folder's own (so values they
        log reach the checkpoint and the history). `write_dir` is None in a search trial."""
        return []

    def fit_without_gradients(self, spec, model, plan, seed: int = 0) -> dict | None:
        """Fit a model not trained by gradient descent and return its figures; None (the
        default) means the model is trained with `model.fit`."""
        return None

    def pretrain(self, spec, model, plan, seed: int = 0, batch_size: int = 32) -> dict | None:
        """Run once before gradient training of a new run or trial (None: nothing to do)."""
        return None

    def run_files(self, spec, plan, run) -> None:
        """Write what a run folder needs beside the model (e.g. the vocabulary), through
        `run`, the `zoo.runtime.run.Run` (e.g. `run.write_vocabulary(tokens)`)."""

    # --- data binding: called by zoo.runtime.plan.plan_data ---

    def data_options(self, spec, dataset, options: dict) -> None:
        """Complete or refuse the data options (in place) before the dataset is read."""

    def check_corpus(self, spec, dataset, info) -> None:
        """Refuse, before the builder arguments are bound, a text corpus for a model that
        is no language model or the other way round, and data without targets."""
        data.check_corpus(spec, dataset, info, self.reads_text_corpus)

    def check_data(self, spec, dataset, info, args: dict) -> None:
        """Refuse data whose targets the model's head cannot learn, read from the dataset's
        info (no data is read); `args` are the builder arguments bound so far."""

    def bind_data(self, spec, dataset, info, args: dict, overrides: dict, options: dict,
                  image_size=None, channels=None) -> None:
        """Builder arguments (in place) that follow the data unless overridden, and the
        pipeline options that follow the model: input shape, classes, vocabulary size, the
        image size (`image_size`, `channels`: asked for in the data options), channels and
        normalization."""
        data.bind_shapes(spec, info, args, overrides, image_size, channels)
        if "classes" in spec.defaults and "classes" not in overrides and info.num_classes:
            args["classes"] = info.num_classes
        self.check_data(spec, dataset, info, args)
        data.bind_vocabulary(spec, dataset, info, args, overrides)
        if info.is_image:
            self.image_options(spec, info, args, overrides, options, image_size, channels)
            options.setdefault("normalization", spec.input_normalization)

    def image_options(self, spec, info, args: dict, overrides: dict, options: dict,
                      image_size, channels) -> None:
        """The pipeline's image size and channels: the model's input (see `bind_data`)."""
        shape = tuple(args["input_shape"])
        if len(shape) == 3:
            options["image_size"] = shape[:2]
            options["channels"] = shape[2]

    # --- evaluation: called by zoo.runtime.evaluate ---

    def evaluator(self, spec, plan):
        """A `zoo.tasks.evaluation.Evaluator` of this task's figures on a split (None: the
        task is measured by its loss and metrics only)."""
        return None

    # --- export ---

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any]:
        """`zoo.runtime.exporter.export` arguments for a trained model (a "model" entry
        replaces the model served). The default: raw tensors in (preprocessing in the
        graph), named outputs out, verified on a built-in dataset's test split."""
        info = plan.info
        sample = labels = None
        if pipelines.get_source(info.source).in_memory:
            sample, labels = verification_sample(plan)
            labels = labels if self.labelled_sample else None
        return dict(
            preprocessor=plan.preprocessor(), raw_shape=tuple(info.feature_shape),
            raw_dtype=info.feature_dtype, input_name=self.serving_input_name(plan),
            output_name=self.output_name_for(spec), class_names=info.class_names, metadata=metadata,
            sample=sample, labels=labels, endpoints=self.export_endpoints(spec, model, plan),
            value_range=self.serving_value_range(plan),
        )

    def export_endpoints(self, spec, model, plan) -> dict | None:
        """Extra serving signatures (`zoo.tasks.serving.Endpoint` by name) beside
        `serving_default` in the default export."""
        return None

    def serving_value_range(self, plan) -> tuple[int, int] | None:
        """The [low, high) range `serving_default` accepts for integer inputs (None: any)."""
        return None

    def serving_input_name(self, plan) -> str:
        """The input tensor's name of `serving_default`."""
        return "image" if plan.info.is_image else "features"

    # --- what the test harness checks (tests/test_models.py) ---

    def example_batch(self, spec, model, batch: int = 3, steps: int = 12):
        """Random inputs for the model's input spec (a dict by name for several inputs):
        token ids below the default vocabulary for int inputs, unknown lengths `steps`."""
        rng = np.random.default_rng(0)

        def random(tensor):
            shape = (batch, *(steps if d is None else d for d in tensor.shape[1:]))
            if "int" in str(tensor.dtype):
                return rng.integers(0, spec.defaults["vocab_size"], size=shape).astype("int32")
            return rng.normal(size=shape).astype("float32")

        if len(model.inputs) > 1:
            return {tensor.name: random(tensor) for tensor in model.inputs}
        return random(model.inputs[0])

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """The model's output shape for inputs of `input_shape`, built with `args`."""
        if "classes" in args:
            return (input_shape[0], args["classes"])
        if "outputs" in args:
            return (input_shape[0], args["outputs"])
        return (input_shape[0], 1)

    def training_step(self, spec, model, inputs):
        """For a task whose training is no `model.fit` (style transfer): a function making
        one training step on `inputs` (from `example_batch`) and returning its logs, with
        a "loss". None (the default): the model trains by `compile` and `fit`."""
        return None

    def forward_inputs(self, spec, model, data_inputs):
        """The inputs of the model's forward pass for a batch of its data's inputs."""
        return data_inputs

    def fit_loss_key(self, model) -> str:
        """The training log a few steps on a fixed batch must lower (after preparing
        `model` for that check)."""
        return "loss"
