"""Data binding shared by the tasks: shapes and vocabulary sizes that follow the data.

`Task.bind_data` calls these; a task overrides the hook where it binds otherwise.
"""

from __future__ import annotations

# Dataset tasks whose examples are token ids: the ids are the classes.
TOKEN_DATA_TASKS = ("language_model", "sequence_to_sequence", "embedding")


def check_corpus(spec, dataset, info, reads_text_corpus: bool) -> None:
    """Refuse a text corpus for a model that is no language model, or the other way round,
    and a dataset without (features, targets) pairs."""
    is_corpus = info.task == "language_model"
    if is_corpus != reads_text_corpus:
        raise ValueError(
            f"Model {spec.name!r} is {'a' if reads_text_corpus else 'not a'} language model; "
            f"dataset {dataset!r} is {'a' if is_corpus else 'not a'} text corpus."
        )
    if info.task == "unsupervised":
        raise ValueError(
            f"Dataset {dataset!r} has no (features, targets) pairs; model {spec.name!r} "
            f"cannot be trained on it."
        )


def bind_shapes(spec, info, args: dict, overrides: dict, image_size, channels) -> None:
    """`input_shape` follows the data unless overridden: tabular models take the feature
    shape; image models take the data's channels and the larger of the data's and the
    builder's default height/width (LeNet-5 needs 32x32, so 8x8 digits are resized up),
    or the asked-for `image_size`/`channels`."""
    if "input_shape" not in spec.defaults or "input_shape" in overrides:
        return
    default = tuple(spec.defaults["input_shape"])
    data_shape = tuple(info.feature_shape)
    if info.is_image and len(default) == 3:
        h = max(data_shape[0], default[0]) if image_size is None else image_size[0]
        w = max(data_shape[1], default[1]) if image_size is None else image_size[1]
        args["input_shape"] = (h, w, channels or data_shape[2])
    else:
        args["input_shape"] = data_shape


def bind_vocabulary(spec, dataset, info, args: dict, overrides: dict) -> None:
    """A token model's `vocab_size` follows the data's vocabulary; another is refused."""
    takes_tokens = info.task in TOKEN_DATA_TASKS
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
