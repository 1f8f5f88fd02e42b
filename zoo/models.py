"""Imports every architecture family so their builders register."""

from zoo import convnet, lenet, linear, mlp, resnet, vgg  # noqa: F401
