"""In-graph preprocessing and augmentation of image and tabular features.

The preprocessing is a Keras model of serializable layers, so the exact same
graph goes into serving exports (`zoo.export`). Augmentations are seeded
random layers applied after it, on training splits only.
"""

from __future__ import annotations

import re
from typing import Callable

NORMALIZATIONS = ("unit", "caffe", "symmetric")

# Training-time augmentations for images, applied after preprocessing (on
# float images at the model's resolution), on training splits only.
AUGMENTATIONS = {
    "shift": "random translation by up to 8% of the height and width",
    "crop": "zero-pad by 1/8 of the size (4 pixels at 32), then random crop back",
    "flip": "random horizontal flip",
}


def augment_names(augment) -> tuple[str, ...]:
    """The requested augmentation names, checked against `AUGMENTATIONS`."""
    names = (augment,) if isinstance(augment, str) else tuple(augment or ())
    unknown = [a for a in names if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"Unknown augmentation(s) {', '.join(map(repr, unknown))}. "
            f"Expected any of: {', '.join(repr(a) for a in AUGMENTATIONS)}."
        )
    return names


def augmenter(names: tuple[str, ...], seed: int, image_shape):
    """A Keras Sequential of seeded random layers for (height, width) images."""
    import keras

    layers = []
    for name in names:
        if name == "shift":
            layers.append(keras.layers.RandomTranslation(
                0.08, 0.08, fill_mode="constant", seed=seed, name="augment_shift"))
        elif name == "crop":
            h, w = int(image_shape[0]), int(image_shape[1])
            pad_h, pad_w = max(1, round(h / 8)), max(1, round(w / 8))
            layers.append(keras.layers.ZeroPadding2D((pad_h, pad_w), name="augment_pad"))
            layers.append(keras.layers.RandomCrop(h, w, seed=seed, name="augment_crop"))
        elif name == "flip":
            layers.append(keras.layers.RandomFlip("horizontal", seed=seed, name="augment_flip"))
    return keras.Sequential(layers, name="augmentation")


def check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {', '.join(map(repr, NORMALIZATIONS))}. "
            f"Received: normalization={normalization!r}"
        )


def feature_preprocessor(name: str, info, image_size=None, channels=None,
                         normalization="unit", train_features: Callable | None = None):
    """The preprocessing of dataset `name`'s features (see `pipelines.preprocessor`), or None.

    `train_features` returns the training split's raw features; it is called
    only for datasets marked `standardize`, whose statistics come from them.
    """
    import keras

    from pipelines.layers import AdaptChannels, CaffeNormalization

    layers = []
    if info.is_image:
        # Cast to float first: eager Keras runs later layers on raw uint8 otherwise.
        scale, offset = {"unit": (1.0 / 255.0, 0.0), "symmetric": (2.0 / 255.0, -1.0)}.get(
            normalization, (1.0, 0.0))
        layers.append(keras.layers.Rescaling(scale, offset=offset, name="rescale"))
        if image_size is not None:
            h, w = (int(s) for s in image_size)
            if (h, w) != tuple(info.feature_shape[:2]):
                layers.append(keras.layers.Resizing(h, w, interpolation="bilinear", name="resize"))
        if channels is not None and channels != info.feature_shape[-1]:
            layers.append(AdaptChannels(int(channels), name="adapt_channels"))
        if normalization == "caffe":
            layers.append(CaffeNormalization(name="caffe_normalization"))
    elif image_size is not None or channels is not None:
        raise ValueError(
            f"Dataset {name!r} is not an image dataset; image_size/channels do not apply. "
            f"Its features have shape {info.feature_shape}."
        )
    if info.standardize:
        # One mean and variance per feature (the last axis), over examples and,
        # for sequences of shape (T, features), over time steps too.
        x = train_features()
        x = x.reshape(-1, x.shape[-1])
        layers.append(
            keras.layers.Normalization(mean=x.mean(axis=0), variance=x.var(axis=0),
                                       name="standardize")
        )
    if not layers:
        return None
    # A dataset given as a path names the model after its last part, Keras-safe.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name).rstrip("/").rsplit("/", 1)[-1])
    return keras.Sequential(layers, name=f"{safe}_preprocessing")
