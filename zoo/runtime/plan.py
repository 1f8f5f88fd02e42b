"""The data plan: how a dataset is fed to a model, agreed from both sides' shapes.

The builder's `input_shape`, `classes` and `vocab_size` follow the data unless
the caller overrides them; targets the model's head cannot learn are refused
before any data is read.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from zoo.registry import ModelSpec


@dataclasses.dataclass
class DataPlan:
    """How a dataset is fed to a model: shapes agreed by both sides."""

    dataset: str
    info: Any  # pipelines.DatasetInfo
    builder_args: dict  # full builder arguments, defaults included
    data_options: dict  # options for pipelines.load / pipelines.preprocessor
    train_split: str
    validation_split: str
    test_split: str | None
    # "labels": (features, labels) pairs; "features": (features, features), the
    # preprocessed input as its own target (autoencoders).
    targets: str = "labels"

    def load(self, split: str, batch_size: int, seed: int = 0, **kwargs):
        import pipelines

        ds = pipelines.load(
            self.dataset, split, batch_size=batch_size, seed=seed,
            **{**self.data_options, **kwargs},
        )
        if self.targets == "features":
            ds = ds.map(lambda x, y: (x, x))
        return ds

    def dataset_options(self) -> dict:
        """Only the dataset's own options (e.g. `gate`), for `pipelines.load_arrays`."""
        generic = _LOAD_ONLY | {"image_size", "channels", "data_dir", "normalization"}
        return {k: v for k, v in self.data_options.items() if k not in generic}

    def preprocessor(self):
        """The in-graph preprocessing for this plan (None when there is none)."""
        import pipelines

        opts = {k: v for k, v in self.data_options.items() if k not in _LOAD_ONLY}
        return pipelines.preprocessor(self.dataset, **opts)


# pipelines.load arguments that the preprocessor does not take.
_LOAD_ONLY = {
    "manual_dir", "offline", "cache", "drop_remainder", "shuffle", "preprocess", "augment",
}


def plan_data(
    spec: ModelSpec,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_options: Mapping[str, Any] | None = None,
) -> DataPlan:
    """Agree on shapes between a model and a dataset.

    The builder's `input_shape` and `classes` follow the data unless the
    caller overrides them: tabular models take the feature shape; image
    models take the data's channels and the larger of the data's and the
    builder's default height/width (LeNet-5 needs 32x32, so 8x8 digits are
    resized up; an MLP on 28x28 MNIST takes 28x28). Images are then resized
    and channel-converted in the pipeline to what the model takes.
    """
    import pipelines

    dataset = dataset or spec.dataset
    if dataset is None:
        raise ValueError(f"Model {spec.name!r} has no default dataset; pass one.")
    overrides = dict(overrides or {})
    options = dict(spec.dataset_options) if dataset == spec.dataset else {}
    options.update(data_options or {})
    if spec.task == "embedding":
        _word_pair_options(spec, dataset, options)
    if spec.task == "language_model" and pipelines.resolve(
            dataset, options.get("data_dir")).kind == "labelled_text":
        options.setdefault("corpus", True)  # labelled text (imdb_reviews) read as a corpus
    image_size = options.pop("image_size", None)
    channels = options.pop("channels", None)
    # Text corpora build their vocabulary here, so they need the source folders too.
    # `normalization` (saved in image runs' settings) is the preprocessor's, not the dataset's.
    info_opts = {k: v for k, v in options.items()
                 if (k not in _LOAD_ONLY or k in ("manual_dir", "offline")) and k != "normalization"}
    info = pipelines.get_info(dataset, **info_opts)
    is_lm, takes_text = info.task == "language_model", spec.task == "language_model"
    if is_lm != takes_text:
        raise ValueError(
            f"Model {spec.name!r} is {'a' if takes_text else 'not a'} language model; "
            f"dataset {dataset!r} is {'a' if is_lm else 'not a'} text corpus."
        )
    if info.task == "unsupervised":
        raise ValueError(
            f"Dataset {dataset!r} has no (features, targets) pairs; model {spec.name!r} "
            f"cannot be trained on it."
        )

    args = spec.resolve_args(overrides)
    if "input_shape" in spec.defaults and "input_shape" not in overrides:
        default = tuple(spec.defaults["input_shape"])
        data_shape = tuple(info.feature_shape)
        if info.is_image and len(default) == 3:
            h = max(data_shape[0], default[0]) if image_size is None else image_size[0]
            w = max(data_shape[1], default[1]) if image_size is None else image_size[1]
            args["input_shape"] = (h, w, channels or data_shape[2])
        else:
            args["input_shape"] = data_shape
    if "classes" in spec.defaults and "classes" not in overrides and info.num_classes:
        args["classes"] = info.num_classes
    _check_targets(spec, dataset, info, args)
    _vocabulary_size(spec, dataset, info, overrides, args)
    if info.is_image:
        _image_options(spec, info, args, overrides, options, image_size, channels)

    splits = set(info.splits)
    if "validation" in splits:
        train_split, val_split = "train", "validation"
    else:
        train_split, val_split = "train[:90%]", "train[90%:]"
    test_split = "test" if "test" in splits else None
    targets = "features" if spec.task == "autoencoder" else "labels"
    return DataPlan(dataset, info, args, options, train_split, val_split, test_split, targets)


def _vocabulary_size(spec: ModelSpec, dataset, info, overrides: dict, args: dict) -> None:
    """A token model's `vocab_size` follows the data's vocabulary; another is refused."""
    takes_tokens = info.task in ("language_model", "sequence_to_sequence", "embedding")
    if (takes_tokens or info.vocabulary is not None) and "vocab_size" in spec.defaults:
        # Text classifiers: ids into info.vocabulary; the others: ids are the classes.
        tokens = len(info.vocabulary) if info.vocabulary is not None else info.num_classes
        if "vocab_size" in overrides and overrides["vocab_size"] != tokens:
            raise ValueError(
                f"Vocabulary mismatch: {spec.name} was given vocab_size="
                f"{overrides['vocab_size']}, but the vocabulary of {dataset!r} has "
                f"{tokens} tokens ([UNK] included). Leave vocab_size unset, or "
                f"set max_tokens={overrides['vocab_size']} in the data options."
            )
        args["vocab_size"] = tokens


def _image_options(spec: ModelSpec, info, args: dict, overrides: dict, options: dict,
                   image_size, channels) -> None:
    """Image size, channels and normalization of the pipeline, from the model's input."""
    if spec.task == "generative" and "image_size" in spec.defaults:
        # A generator's output is the data's image: size (square) and channels follow it.
        size = overrides.get("image_size", info.feature_shape[0])
        if image_size is not None and "image_size" not in overrides:
            if len(set(image_size)) != 1:
                raise ValueError(
                    f"{spec.name} makes square images. Received: image_size={tuple(image_size)}")
            size = image_size[0]
        args["image_size"] = int(size)
        args["channels"] = overrides.get("channels", channels or info.feature_shape[-1])
        options["image_size"] = (args["image_size"], args["image_size"])
        options["channels"] = args["channels"]
    else:
        shape = tuple(args["input_shape"])
        if len(shape) == 3:
            options["image_size"] = shape[:2]
            options["channels"] = shape[2]
    options.setdefault("normalization", spec.input_normalization)


# Model tasks that learn class ids, or float values, and data tasks by target kind.
CLASSIFIER_TASKS = ("binary_classification", "classification", "image_classification")


REGRESSOR_TASKS = ("regression", "sequence_forecasting")


LABEL_DATA_TASKS = ("binary_classification", "classification")


def _check_targets(spec: ModelSpec, dataset, info, args: dict) -> None:
    """Refuse data whose targets the model's head cannot learn, read from the
    dataset's info (no data is read): float targets for a classifier, more
    classes than its head has, class labels for a regressor."""
    data = f"dataset {dataset!r} has {_target_kind(info)}"
    if spec.task in CLASSIFIER_TASKS:
        kind = "a binary classifier" if spec.task == "binary_classification" else "a classifier"
        classes = 2 if spec.task == "binary_classification" else args.get("classes")
        if info.task not in LABEL_DATA_TASKS or (
                spec.task == "binary_classification" and (info.num_classes or 0) > 2):
            raise ValueError(f"Model {spec.name!r} is {kind} (task {spec.task!r}), but "
                             f"{data}. {_models_for(info)}")
        if isinstance(classes, int) and info.num_classes and classes < info.num_classes:
            raise ValueError(
                f"Model {spec.name!r} has classes={classes} outputs, but {data}: labels "
                f"{classes}..{info.num_classes - 1} do not fit its head. Leave `classes` unset "
                f"(it follows the data) or set classes={info.num_classes}.")
    elif spec.task in REGRESSOR_TASKS and info.task == "classification":
        # Class ids are no quantities; binary 0/1 targets may be regressed (a linear
        # probability model).
        raise ValueError(f"Model {spec.name!r} is a regressor (task {spec.task!r}), but "
                         f"{data}. {_models_for(info)}")


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


def _word_pair_options(spec: ModelSpec, dataset, options: dict) -> None:
    """Word vectors read a text corpus as word pairs (`pipelines.word_pairs`); the
    pairing (skip-gram or CBOW) is the model's own, whatever the corpus."""
    import pipelines

    if pipelines.resolve(str(dataset), options.get("data_dir")).kind != "text":
        raise ValueError(
            f"Model {spec.name!r} learns word vectors; dataset {dataset!r} is not a text corpus."
        )
    pairing = spec.dataset_options.get("pairs", "skipgram")
    if options.setdefault("pairs", pairing) != pairing:
        raise ValueError(
            f"Model {spec.name!r} trains on {pairing!r} pairs. Received: pairs={options['pairs']!r}"
        )
