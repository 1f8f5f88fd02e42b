"""Language modelling: token ids -> next-token probabilities, text in at serving."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class LanguageModelling(Task):
    name = "language_model"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"

    def training_builder_args(self, spec, plan, batch_size: int, replicas: int) -> dict:
        """With data option stateful=True, the model's fixed batch size: contiguous
        batches, the recurrent state carried from batch to batch."""
        args = super().training_builder_args(spec, plan, batch_size, replicas)
        if not plan.data_options.get("stateful"):
            return args
        if "stateful_batch_size" not in spec.defaults:
            raise ValueError(
                f"Data option stateful=True carries recurrent state across batches; "
                f"{spec.name} has no stateful mode."
            )
        if replicas > 1:
            raise ValueError(
                f"Data option stateful=True carries state from batch to batch of one "
                f"device; it cannot be split across {replicas} replicas.")
        return {**args, "stateful_batch_size": batch_size}

    def training_callbacks(self, spec, model, plan, write_dir) -> list:
        """A stateful model's state is cleared where each pass over the data starts."""
        callbacks = super().training_callbacks(spec, model, plan, write_dir)
        if plan.data_options.get("stateful"):
            from zoo.models.language_models import StatefulReset

            callbacks = [*callbacks, StatefulReset()]
        return callbacks

    def run_files(self, spec, plan, run) -> None:
        """The vocabulary travels with the model (`zoo generate`, exports)."""
        run.write_vocabulary(plan.info.class_names)


register_task(LanguageModelling())
