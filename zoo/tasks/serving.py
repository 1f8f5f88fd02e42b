"""Building blocks of a task's export: extra signatures, serving models, verification samples.

Tasks compose these into `zoo.runtime.exporter.export` arguments
(`Task.export_arguments`); the exporter writes and verifies what they describe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class Endpoint:
    """An extra serving signature: `model` maps `input_name` to `output_name`.

    `sample` are inputs to verify it with; `xla` says whether its function
    must also compile with XLA (string inputs cannot). The signature checks
    its input in the graph (`zoo.runtime.signature_checks`): the declared shape, not
    empty, floats finite, and integers in `value_range` = (low, high), i.e.
    [low, high), when given (ids); `size_multiple`: every open size but the
    batch's must be a multiple of it.
    """

    model: Any
    input_name: str
    output_name: str
    dtype: str
    sample: Any
    xla: bool = True
    value_range: tuple[int, int] | None = None
    size_multiple: int = 1
    # A table's signature: one (batch,) input per column, name -> dtype, given to `model`
    # as (batch, 1) tensors by name; `sample` is then a dict of columns.
    columns: dict | None = None
    # A classifier's class names: the signature also returns `class_name`, the name of the
    # likeliest class of each example (strings: no XLA).
    class_names: tuple | None = None


def serving_model(model, preprocessor=None, raw_shape=None, raw_dtype="float32",
                  input_name="inputs", output_name="outputs"):
    """One functional model: raw input -> preprocessing -> model -> named output."""
    import keras

    if raw_shape is None:
        raw_shape = tuple(model.input_shape[1:])
    raw = keras.Input(shape=tuple(raw_shape), dtype=raw_dtype, name=input_name)
    x = raw
    if preprocessor is not None:
        for layer in preprocessor.layers:
            x = layer(x)
    elif raw_dtype != "float32":
        x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(x)
    y = model(x)
    if isinstance(y, (list, tuple)):  # auxiliary training heads are not served
        y = y[0]
    y = keras.layers.Identity(name=output_name)(y)
    return keras.Model(raw, y, name=f"{model.name}_serving")


def table_serving_model(model, feature_space, output_name="outputs"):
    """Named columns, each (batch, 1) -> the `keras.utils.FeatureSpace` encoding -> `model`."""
    import keras

    inputs = feature_space.get_inputs()
    y = keras.layers.Identity(name=output_name)(model(feature_space.get_encoded_features()))
    return keras.Model(inputs, y, name=f"{model.name}_serving")


def string_serving_model(model, tokenize, read_out, input_name="text", suffix="serving"):
    """Strings (B,) -> `tokenize` (a layer: strings -> ids, or (ids, lengths)) ->
    `read_out(ids, lengths)` (the model's output for those ids) -> a Keras model.

    The one text-in recipe of every export that takes strings (text classifiers,
    language models, word vectors): tokenization and the vocabulary live in the graph.
    """
    import keras

    text = keras.Input(shape=(), dtype="string", name=input_name)
    tokens = tokenize(text)
    ids, lengths = tokens if isinstance(tokens, (tuple, list)) else (tokens, None)
    return keras.Model(text, read_out(ids, lengths), name=f"{model.name}_{suffix}")


def verification_sample(plan, count: int | None = None, **load_options):
    """(inputs, labels) to verify an export with, never shuffled: a built-in dataset's raw
    arrays of the test split (train when it has none); another dataset's first batch of
    `count` (8 by default) from its test split, else its validation split."""
    import pipelines

    if pipelines.get_source(plan.info.source).in_memory:
        x, y = pipelines.load_arrays(plan.dataset, plan.test_split or "train",
                                     **plan.dataset_options())
        return x[:count], y[:count]
    split = plan.test_split or plan.validation_split
    x, y = next(iter(plan.load(split, count or 8, shuffle=False, **load_options)))
    return np.asarray(x), np.asarray(y)

