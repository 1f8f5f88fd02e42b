"""The data plan: how a dataset is fed to a model, agreed from both sides' shapes.

The builder's `input_shape`, `classes` and `vocab_size` follow the data unless
the caller overrides them; targets the model's head cannot learn are refused
before any data is read.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from zoo.registry import ModelSpec
from zoo.tasks import get_task


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
    dataset: Any = None,
    overrides: Mapping[str, Any] | None = None,
    data_options: Mapping[str, Any] | None = None,
) -> DataPlan:
    """Agree on shapes between a model and a dataset.

    The builder's `input_shape` and `classes` follow the data unless the
    caller overrides them: tabular models take the feature shape; image
    models take the data's channels and the larger of the data's and the
    builder's default height/width (LeNet-5 needs 32x32, so 8x8 digits are
    resized up; an MLP on 28x28 MNIST takes 28x28). Images are then resized
    and channel-converted in the pipeline to what the model takes. The model's
    task (`zoo.tasks`) binds the data: it completes the options, refuses data it
    cannot learn and sets the builder arguments that follow the data.
    """
    import pipelines

    task = get_task(spec)
    # Own data (arrays, a DataFrame, a tf.data.Dataset, a dict of splits) gets its name here.
    dataset = spec.dataset if dataset is None else pipelines.dataset_name(dataset)
    if dataset is None:
        raise ValueError(f"Model {spec.name!r} has no default dataset; pass one.")
    overrides = dict(overrides or {})
    options = dict(spec.dataset_options) if dataset == spec.dataset else {}
    options.update(data_options or {})
    task.data_options(spec, dataset, options)
    image_size = options.pop("image_size", None)
    channels = options.pop("channels", None)
    # Text corpora build their vocabulary here, so they need the source folders too.
    # `normalization` (saved in image runs' settings) is the preprocessor's, not the dataset's.
    info_opts = {k: v for k, v in options.items()
                 if (k not in _LOAD_ONLY or k in ("manual_dir", "offline")) and k != "normalization"}
    info = pipelines.get_info(dataset, **info_opts)
    task.check_corpus(spec, dataset, info)
    args = spec.resolve_args(overrides)
    task.bind_data(spec, dataset, info, args, overrides, options, image_size, channels)

    splits = set(info.splits)
    if "validation" in splits:
        train_split, val_split = "train", "validation"
    else:
        train_split, val_split = "train[:90%]", "train[90%:]"
    test_split = "test" if "test" in splits else None
    return DataPlan(dataset, info, args, options, train_split, val_split, test_split, task.targets)


# Options of own data that say what the data means (`pipelines.own.OPTIONS`).
OWN_DATA_OPTIONS = ("target", "task", "validation_split", "split_seed")


def check_same_data(plan: DataPlan, other: DataPlan) -> None:
    """Refuse data whose features, classes or columns differ from what `plan`'s model was
    trained on, naming the difference."""
    before, now = plan.info, other.info
    for what, old, new in (("features of shape", tuple(before.feature_shape),
                            tuple(now.feature_shape)),
                           ("classes", before.class_names, now.class_names),
                           ("columns", before.columns, now.columns)):
        if old != new:
            raise ValueError(f"Dataset {other.dataset!r} has {what} {_listed(new)}; the model "
                             f"was trained on {plan.dataset!r}, with {what} {_listed(old)}.")


def _listed(value) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], (tuple, str)):
        return "(" + ", ".join(v if isinstance(v, str) else f"{v[0]}: {v[1]}" for v in value) + ")"
    return str(value)
