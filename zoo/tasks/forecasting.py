"""Forecasting a series" next value from a window of its past (DA-RNN)."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class Forecasting(Task):
    name = "sequence_forecasting"
    loss = "mse"
    metrics = ("mae",)
    output_name = "prediction"


register_task(Forecasting())
