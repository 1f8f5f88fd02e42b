"""Generative adversarial training: the model"s own train_step; samples scored each epoch."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class Gan(Task):
    name = "generative"
    loss = None
    metrics = ()
    output_name = "images"


register_task(Gan())
