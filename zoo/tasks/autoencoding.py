"""Autoencoding: the input is its own target; reconstruction losses come with the model."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class Autoencoding(Task):
    name = "autoencoder"
    loss = None
    metrics = ()
    output_name = "reconstruction"
    targets = "features"


register_task(Autoencoding())
