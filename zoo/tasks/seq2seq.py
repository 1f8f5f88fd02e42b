"""Sequence to sequence: source and decoder tokens -> output tokens (the Transformer)."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class SequenceToSequence(Task):
    name = "sequence_to_sequence"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"


register_task(SequenceToSequence())
