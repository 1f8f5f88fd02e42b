"""Supervised learning from (features, labels): regression and classification."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class Regression(Task):
    name = "regression"
    loss = "mse"
    metrics = ("mae",)
    output_name = "prediction"


register_task(Regression())


class BinaryClassification(Task):
    name = "binary_classification"
    loss = "binary_crossentropy"
    metrics = ("accuracy",)
    output_name = "probability"


register_task(BinaryClassification())


class Classification(Task):
    name = "classification"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"


register_task(Classification())


class ImageClassification(Task):
    name = "image_classification"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"


register_task(ImageClassification())
