"""Dataset metadata: what a pipeline yields, known before loading it."""

from __future__ import annotations

import dataclasses
from typing import Mapping


class OptionError(TypeError):
    """Raised for a dataset option that the dataset does not take."""


def merge_options(kind: str, options: dict, accepted: dict) -> dict:
    """`options` over the `accepted` defaults; an unknown name fails listing the accepted ones."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise OptionError(
            f"{kind} got unknown option(s) {', '.join(unknown)}. "
            f"Accepted options: {', '.join(accepted)}."
        )
    return {**accepted, **options}


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """The data contract of one dataset.

    Attributes:
        name: Dataset name as given to `pipelines.load`.
        task: "classification", "binary_classification", "regression" or
            "unsupervised" (no supervised keys; yields feature dicts).
        feature_shape: Raw feature shape, without the batch dimension.
        feature_dtype: Raw feature dtype name ("uint8" for images).
        num_classes: Classes for classification tasks, else None.
        class_names: Class names, when known.
        target_shape: Target shape per example: () for class ids.
        splits: Split name -> number of examples.
        source: The kind of source that read it, decided once by
            `pipelines.resolve`: "builtin", "csv_series", "text" (a
            language-modelling corpus), "word_pairs" (a corpus read as
            word-vector pairs), "labelled_text" or "tfds".
        description, citation: Human-readable provenance.
        standardize: Whether the default preprocessing standardizes features
            with the training split's mean and variance.
        vocabulary: Token strings of token-id features (`[UNK]` first), for
            text datasets; the features are ids into it.
        text_level: "char" or "word": how the raw text was tokenized.
        columns: A table's feature columns as (name, dtype) pairs, dtype "float32" or
            "string": its raw input, one named tensor per column (`pipelines.tables`).
        target_mean, target_std: Per target column, the training split's mean and
            standard deviation when the targets are standardized (regression data
            loaded with `scale_target=True`), else None. A prediction p on that
            scale is `target_mean + target_std * p` in the original units.
    """

    name: str
    task: str
    feature_shape: tuple
    feature_dtype: str
    num_classes: int | None = None
    class_names: tuple | None = None
    target_shape: tuple = ()
    splits: Mapping[str, int] = dataclasses.field(default_factory=dict)
    source: str = "builtin"
    description: str = ""
    citation: str = ""
    standardize: bool = False
    vocabulary: tuple | None = None
    text_level: str | None = None
    columns: tuple | None = None
    target_mean: tuple | None = None
    target_std: tuple | None = None

    def signature(self) -> dict:
        """What a model trained on this data depends on: the feature shape, the classes and
        a table's columns (recorded with a run of own data, so other data is refused)."""
        return {"feature_shape": list(self.feature_shape),
                "classes": None if self.class_names is None else list(self.class_names),
                "columns": None if self.columns is None else [list(c) for c in self.columns]}

    @property
    def is_image(self) -> bool:
        return len(self.feature_shape) == 3 and self.feature_dtype == "uint8"
