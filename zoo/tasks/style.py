"""Neural style transfer, the tasks: optimise an image (Gatys et al. 2015, task
"style_transfer") or a feed-forward network (Johnson et al. 2016, task "stylization").

Both tasks share the perceptual losses on a fixed VGG19 (`zoo.models.style_transfer`),
with G = F^T F / M, F the (M positions x N channels) features of a layer:

    content  mean((F - P)^2) on the content layer
    style    sum_l w_l mean((G_l - A_l)^2), w_l = 1 / L by default
    tv       sum |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]| over the [0, 1]
             image (`tf.image.total_variation`)

The paper's L_content = 1/2 sum (F - P)^2 and E_l = sum (F F^T - A)^2 / (4 N^2 M^2)
differ from these by constant factors, absorbed in the loss weights. The default
weights and Adam settings (content 1e4, style 1e-2, tv 30; lr 0.02, beta_1 0.99,
epsilon 0.1, pixels in [0, 1] clipped after each step) are those of the TensorFlow
style-transfer tutorial for keras.applications' ImageNet VGG19 at 512 pixels.

This module holds what the tasks define: the losses, VGG19's input convention
(`vgg_features`), the offline images, the weights check and the serving models
with their export arguments. The optimisation loops and the workflows behind
`zoo stylize` and `zoo train-style` are runtime: `zoo.runtime.style`.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import keras
import numpy as np
from keras import ops

from pipelines.layers import CaffeNormalization
from zoo.models.style_transfer import LEARNING_RATE, VGG19_NOTOP_FILE
from zoo.tasks.base import Task, register_task

# Loss weights of the TensorFlow tutorial (see the module docstring).
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1e4, 1e-2, 30.0

_GATYS = ("Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style, "
          "arXiv:1508.06576")
_JOHNSON = ("Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer "
            "and Super-Resolution, arXiv:1603.08155")


# ----------------------------------------------------------------- losses and features


def content_loss(features, target):
    """Mean squared difference of the content layer's features."""
    return ops.mean(ops.square(features - target))


def style_loss(grams: Mapping[str, Any], targets: Mapping[str, Any],
               layer_weights: Mapping[str, float] | None = None):
    """sum_l w_l mean((G_l - A_l)^2) over the layers of `targets` (keys "gram_<layer>");
    `layer_weights` by layer name, default 1 / L each."""
    keys = list(targets)
    total = 0.0
    for key in keys:
        layer = key[len("gram_"):]
        weight = 1.0 / len(keys) if layer_weights is None else float(layer_weights.get(layer, 0.0))
        total = total + weight * ops.mean(ops.square(grams[key] - targets[key]))
    return total


def total_variation_loss(images):
    """Sum of absolute differences of neighbouring pixels (B, H, W, C), as
    `tf.image.total_variation` summed over the batch."""
    down = ops.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
    right = ops.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
    return ops.sum(down) + ops.sum(right)


class VGGFeatures:
    """A `style_transfer` model applied to RGB images in [0, 255]: the keras.applications
    "caffe" normalisation (`pipelines.layers.CaffeNormalization`) and then the model,
    whose input is that convention (`input_normalization="caffe"`)."""

    def __init__(self, model):
        self.model = model
        self.normalize = CaffeNormalization(name="caffe_normalization")

    def __call__(self, images):
        return self.model(self.normalize(images))


def content_layer_of(model) -> str:
    """Name of the layer producing the model's "content" output."""
    # The producing layer, also after a .keras reload (`layer.output` would be its
    # first call, inside the VGG19 that held the weights).
    return model.output["content"]._keras_history.operation.name


# ----------------------------------------------------------------- weights and images


def resolve_weights(weights):
    """None/"none", "imagenet" or a file path -> what `style_transfer(weights=)` takes.

    "imagenet" is resolved at once to the cached keras.applications file, so a
    machine without it (and offline) fails here, in seconds, naming the file
    and the folder to put it in (`zoo.models.weights.WeightsUnavailableError`).
    """
    if weights is None or str(weights).lower() == "none":
        return None
    if weights == "imagenet":
        from zoo.models.weights import imagenet_path

        return imagenet_path("vgg19", include_top=False)
    if not os.path.exists(weights):
        raise FileNotFoundError(
            f"Weights file {weights} does not exist. Expected 'imagenet', 'none' or the path "
            f"of {VGG19_NOTOP_FILE} (or a .weights.h5/.keras file of `style_transfer`'s VGG19)."
        )
    return str(weights)


# ----------------------------------------------------------------- images


def load_image(path, max_size: int | None = None) -> np.ndarray:
    """A PNG/JPEG file as uint8 RGB (H, W, 3), shrunk so its longer side is at
    most `max_size` (never enlarged)."""
    from PIL import Image

    with Image.open(path) as image:
        return resize_image(np.asarray(image.convert("RGB")), max_size)


def resize_image(image, max_size: int | None = None) -> np.ndarray:
    """uint8 (H, W, 3) with its longer side shrunk to `max_size` (aspect kept)."""
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    if max_size is None or max(h, w) <= max_size:
        return image
    scale = max_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def sample_images(max_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled photos (china.jpg, flower.jpg), uint8 427x640 RGB,
    shrunk to `max_size`: offline content and style images for examples and tests."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return resize_image(china, max_size), resize_image(flower, max_size)


def content_crops(size: int = 64, count: int = 256, seed: int = 0) -> np.ndarray:
    """Random `size`x`size` crops (flipped at random) of the photos bundled with
    scikit-learn and matplotlib: offline training content, uint8 (count, size, size, 3).
    A stand-in for the paper's 80,000 COCO images; enough to exercise training."""
    from matplotlib import cbook

    photos = list(sample_images(4 * size))
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photos.append(load_image(f, 4 * size))
    rng = np.random.default_rng(seed)
    crops = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        crop = photo[top:top + size, left:left + size]
        crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops


# ----------------------------------------------------------------- export


def style_serving_model(model, output_name="style"):
    """uint8 image (B, H, W, 3) of any size -> style descriptor (B, sum_l C_l^2).

    Each style layer's Gram matrix, flattened and scaled to unit length, in
    the model's layer order: the dot product of two descriptors, over L, is
    the mean cosine similarity of their Gram matrices. (Unit length also
    keeps the values O(1), so the export's checks hold for any weights.)
    """
    image = keras.Input(shape=tuple(model.input_shape[1:]), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(image)
    features = model(CaffeNormalization(name="caffe_normalization")(x))
    parts = [
        keras.layers.UnitNormalization(axis=-1, name=f"unit_{key}")(
            keras.layers.Flatten(name=f"flat_{key}")(features[key]))
        for key in features if key.startswith("gram_")
    ]
    style = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="concat")(parts)
    style = keras.layers.Identity(name=output_name)(style)
    return keras.Model(image, style, name=f"{model.name}_serving")


def stylization_serving_model(network, output_name="stylized"):
    """uint8 image (B, H, W, 3), H and W multiples of 4 -> stylized image in [0, 1]."""
    image = keras.Input(shape=tuple(network.input_shape[1:]), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(image)
    y = keras.layers.Identity(name=output_name)(network(x))
    return keras.Model(image, y, name=f"{network.name}_serving")


def style_export_arguments(model, sample=None, metadata: Mapping[str, Any] | None = None) -> dict:
    """`zoo.runtime.exporter.export` arguments of a `style_transfer` model: uint8 image ->
    style descriptor (`style_serving_model`). `sample` defaults to the scikit-learn
    photos at 64 pixels."""
    style_layers = [k[len("gram_"):] for k in model.output if k.startswith("gram_")]
    metadata = {"model": "style_transfer", "family": "style_transfer", "task": "style_transfer",
                "reference": _GATYS, "builder_args": {"content_layer": content_layer_of(model),
                                                      "style_layers": style_layers},
                **(metadata or {})}
    return {"serving": style_serving_model(model), "input_name": "image",
            "output_name": "style", "metadata": metadata,
            "sample": np.stack(sample_images(64)) if sample is None else sample}


def stylization_export_arguments(network, sample=None,
                                 metadata: Mapping[str, Any] | None = None) -> dict:
    """`zoo.runtime.exporter.export` arguments of a `fast_style_network`: uint8 image ->
    stylized image, checked at sizes that are multiples of 4 (two stride-2
    convolutions down and two up: other sizes come back changed)."""
    metadata = {"model": "fast_style_network", "family": "fast_style", "task": "stylization",
                "reference": _JOHNSON, **(metadata or {})}
    return {"serving": stylization_serving_model(network), "input_name": "image",
            "output_name": "stylized", "metadata": metadata, "size_multiple": 4,
            "sample": content_crops(32, count=4) if sample is None else sample}


# ----------------------------------------------------------------- the tasks


class StyleTransferTask(Task):
    """Gatys et al.: the model is a fixed feature extractor; stylizing optimises an image."""

    name = "style_transfer"
    loss = None
    metrics = ()
    output_name = "style"

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any]:
        return style_export_arguments(model, metadata=metadata)


register_task(StyleTransferTask())


class StylizationTask(Task):
    """Johnson et al.: a feed-forward network trained per style on perceptual losses."""

    name = "stylization"
    loss = None
    metrics = ()
    output_name = "stylized"

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any]:
        return stylization_export_arguments(model, metadata=metadata)


register_task(StylizationTask())
