"""Forecasting a series' next value from a window of its past (DA-RNN)."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task
from zoo.tasks.supervised import check_regression_targets


class Forecasting(Task):
    name = "sequence_forecasting"
    loss = "mse"
    metrics = ("mae",)
    output_name = "prediction"

    def check_data(self, spec, dataset, info, args: dict) -> None:
        check_regression_targets(spec, dataset, info)


register_task(Forecasting())
