"""Language modelling: token ids -> next-token probabilities, text in at serving."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class LanguageModelling(Task):
    name = "language_model"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"


register_task(LanguageModelling())
