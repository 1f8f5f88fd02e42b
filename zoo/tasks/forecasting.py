"""Forecasting a series' next value from a window of its past (DA-RNN)."""

from __future__ import annotations

from zoo.tasks.base import register_task
from zoo.tasks.supervised import Regression


class Forecasting(Regression):
    """Regression on windows of a series: the same loss, metrics, checks and export."""

    name = "sequence_forecasting"


register_task(Forecasting())
