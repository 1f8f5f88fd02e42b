"""Imports every architecture family so their builders register."""

from zoo import alexnet, convnet, googlenet, lenet, linear, mlp, resnet, vgg  # noqa: F401
