"""Supervised learning from (features, labels): regression and classification.

A classifier refuses float targets and more classes than its head has; a
regressor refuses class ids. On labelled text (a dataset with a vocabulary) a
supervised model serves text: tokenized in the graph.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import get_task
from zoo.tasks.base import Task, register_task
from zoo.tasks.evaluation import ClassificationEvaluator, RegressionEvaluator

# Model tasks that learn class ids, or float values, and data tasks by target kind.
CLASSIFIER_TASKS = ("binary_classification", "classification", "image_classification")
REGRESSOR_TASKS = ("regression", "sequence_forecasting")
LABEL_DATA_TASKS = ("binary_classification", "classification")


class Supervised(Task):
    """(features, labels) pairs; text in at serving when the data is labelled text."""

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict:
        if plan.info.vocabulary is not None:
            return text_classifier_arguments(model, spec, plan, metadata)
        if plan.info.columns is not None:
            return table_arguments(model, spec, plan, metadata)
        return super().export_arguments(spec, model, plan, metadata)


class Regression(Supervised):
    """Float targets; on standardized targets (data option `scale_target`) the model
    learns and reports losses on the unit scale, and the export serves original units."""

    name = "regression"
    loss = "mse"
    metrics = ("mae",)
    output_name = "prediction"

    def check_data(self, spec, dataset, info, args: dict) -> None:
        check_regression_targets(spec, dataset, info)

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict:
        arguments = super().export_arguments(spec, model, plan, metadata)
        info = plan.info
        if info.target_mean is not None:
            arguments["model"] = unscaled_target_model(model, info.target_mean, info.target_std)
            arguments["metadata"] = {**arguments["metadata"], "target_scaling": {
                "mean": list(info.target_mean), "std": list(info.target_std)}}
        return arguments

    def evaluator(self, spec, plan):
        return RegressionEvaluator()


register_task(Regression())


class Classifier(Supervised):
    """A head of `classes` outputs (one for binary classification) learning class ids."""

    labelled_sample = True
    binary = False  # one sigmoid output for two classes

    def evaluator(self, spec, plan):
        classes = 2 if self.binary else plan.builder_args["classes"]
        names = plan.info.class_names or [str(i) for i in range(classes)]
        return ClassificationEvaluator(list(names)[:classes] + [
            str(i) for i in range(len(names), classes)], binary=self.binary)

    def check_data(self, spec, dataset, info, args: dict) -> None:
        binary = self.binary
        kind = "a binary classifier" if binary else "a classifier"
        classes = 2 if binary else args.get("classes")
        data = f"dataset {dataset!r} has {_target_kind(info)}"
        if info.task not in LABEL_DATA_TASKS or (binary and (info.num_classes or 0) > 2):
            raise ValueError(f"Model {spec.name!r} is {kind} (task {spec.task!r}), but "
                             f"{data}. {_models_for(info)}")
        if isinstance(classes, int) and info.num_classes and classes < info.num_classes:
            raise ValueError(
                f"Model {spec.name!r} has classes={classes} outputs, but {data}: labels "
                f"{classes}..{info.num_classes - 1} do not fit its head. Leave `classes` unset "
                f"(it follows the data) or set classes={info.num_classes}.")


class BinaryClassification(Classifier):
    name = "binary_classification"
    binary = True
    loss = "binary_crossentropy"
    # The squared error of the probability: the classic comparison with cross-entropy,
    # whose gradient does not vanish when the sigmoid saturates (Nielsen 2015, ch. 3).
    loss_choices = ("mse",)
    metrics = ("accuracy",)
    output_name = "probability"


register_task(BinaryClassification())


class Classification(Classifier):
    name = "classification"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"


register_task(Classification())


class ImageClassification(Classification):
    name = "image_classification"


register_task(ImageClassification())


def unscaled_target_model(model, mean, std):
    """`model` followed by the inverse of the target standardization: mean + std * output
    (`keras.layers.Normalization(invert=True)`), so it predicts in the target's units."""
    import keras

    unscale = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                                         invert=True, name="unscale_target")
    return keras.Model(model.inputs, unscale(model.outputs[0]), name=model.name)


def check_regression_targets(spec, dataset, info) -> None:
    """Class ids are no quantities; binary 0/1 targets may be regressed (a linear
    probability model)."""
    if info.task == "classification":
        raise ValueError(f"Model {spec.name!r} is a regressor (task {spec.task!r}), but "
                         f"dataset {dataset!r} has {_target_kind(info)}. {_models_for(info)}")


def _target_kind(info) -> str:
    """What a dataset's targets are, for error messages."""
    if info.task == "regression":
        return "float targets (task 'regression')"
    if info.task == "binary_classification":
        return "binary labels 0/1 (task 'binary_classification')"
    if info.task == "classification":
        return f"class labels (task 'classification', {info.num_classes} classes)"
    return f"targets of task {info.task!r}"


def _models_for(info) -> str:
    """Which models fit a dataset's targets, for error messages."""
    tasks = {"regression": REGRESSOR_TASKS, "classification": CLASSIFIER_TASKS[1:],
             "binary_classification": CLASSIFIER_TASKS}.get(info.task, (info.task,))
    names = " or ".join(filter(None, [", ".join(map(repr, tasks[:-1])), repr(tasks[-1])]))
    return f"Choose a model of task {names} for it (`zoo list` shows each model's task)."


def text_classifier_arguments(model, spec, plan, metadata: dict, batch: int = 8) -> dict:
    """`export` arguments of a text classifier: `serving_default` takes text
    (tokenized, looked up and cut to the model's length in the graph; no XLA)
    and `token_ids` takes the ids (XLA-compiled)."""
    import keras

    from pipelines.layers import TextToIds
    from zoo.tasks.serving import Endpoint, string_serving_model, verification_sample

    info, output_name = plan.info, get_task(spec).output_name_for(spec)
    ids, labels = verification_sample(plan, batch)
    tokens = np.array(info.vocabulary)
    joiner = "" if info.text_level == "char" else " "
    texts = np.array([joiner.join(tokens[row[row > 0]]) for row in ids])
    tokenize = TextToIds(info.vocabulary, info.text_level, length=model.input_shape[1],
                         name="tokenize")
    serving = string_serving_model(
        model, tokenize, lambda ids, _: keras.layers.Identity(name=output_name)(model(ids)))
    ids_model = keras.Model(model.inputs, keras.layers.Identity(name=output_name)(
        model.outputs[0]), name=f"{model.name}_ids")
    return dict(
        serving=serving,
        input_name="text",
        output_name=output_name,
        sample=texts,
        labels=labels,
        # Id 0 is `[UNK]` and the padding in front of short texts, as in training.
        endpoints={"token_ids": Endpoint(ids_model, "token_ids", output_name, "int32", ids,
                                         value_range=(0, len(info.vocabulary)))},
        class_names=info.class_names,
        metadata={**metadata, "level": info.text_level, "vocabulary_size": len(info.vocabulary)},
    )


def table_arguments(model, spec, plan, metadata: dict, batch: int = 8) -> dict:
    """`export` arguments of a model trained on a table: `serving_default` takes one named
    input per column (floats and strings; a served request is a JSON row), encoded in the
    graph by the table's `FeatureSpace`; verified on raw rows of a held-out split."""
    from zoo.tasks.serving import table_serving_model

    info, output_name = plan.info, get_task(spec).output_name_for(spec)
    serving = table_serving_model(model, plan.preprocessor(), output_name)
    split = plan.test_split or plan.validation_split
    rows, labels = next(iter(plan.load(split, batch, shuffle=False, preprocess=False)))
    sample = {name: np.asarray(values) for name, values in rows.items()}
    sample = {name: v.astype(str) if v.dtype == object else v for name, v in sample.items()}
    task = get_task(spec)
    return dict(
        serving=serving, input_name="row", output_name=output_name, sample=sample,
        labels=np.asarray(labels) if task.labelled_sample else None,
        class_names=info.class_names, columns=dict(info.columns),
        metadata={**metadata, "columns": [list(c) for c in info.columns]},
    )
