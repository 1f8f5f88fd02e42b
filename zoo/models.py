"""Imports every architecture family so their builders register."""

from zoo import lenet, linear, mlp  # noqa: F401
