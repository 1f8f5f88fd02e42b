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
(`VGGFeatures`), the offline images, the weights check, the training steps of the
two tasks (`StyleTransfer` optimises an image, `FastStyleTrainer` a network) and the
serving models with their export arguments. The workflows behind `zoo stylize` and
`zoo train-style` are runtime: `zoo.runtime.style`.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import keras
import numpy as np
from keras import ops

from pipelines.layers import CaffeNormalization
from zoo._common import check_choice, check_positive_int
from zoo.images import to_uint8
from zoo.models.style_transfer import LEARNING_RATE, VGG19_NOTOP_FILE, feature_shape, min_image_size
from zoo.registry import build
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
    whose input is that convention (`input_normalization="caffe"`); float32 outputs."""

    def __init__(self, model):
        self.model = model
        self.normalize = CaffeNormalization(name="caffe_normalization")

    def __call__(self, images):
        # float32 features whatever the model computes in (mixed precision): the losses
        # add them to float32 terms.
        return {k: ops.cast(v, "float32") for k, v in self.model(self.normalize(images)).items()}


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


# ----------------------------------------------------------------- Gatys: optimise an image


class StyleTransfer:
    """Optimises an image so that `model`'s content features match `content`'s
    and its Gram matrices match `style`'s.

    Args:
        model: A `style_transfer` model (weights as it was built with).
        content, style: RGB images (H, W, 3), uint8 or floats in [0, 1].
        content_weight, style_weight, tv_weight: Loss weights.
        layer_weights: Style-layer name -> weight (default 1 / L each).
        init: "content" (start from the content image) or "noise" (white
            noise, as in the paper).
        seed: Seeds the noise.

    Example:
        >>> content, style = sample_images(64)
        >>> transfer = StyleTransfer(zoo.build("style_transfer"), content, style)
        >>> losses = transfer.step()  # one Adam step; losses before it
        >>> transfer.result().shape
        (43, 64, 3)
    """

    def __init__(self, model, content, style, content_weight=CONTENT_WEIGHT,
                 style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT,
                 layer_weights: Mapping[str, float] | None = None, init="content", seed=0):
        check_choice("init", init, ("content", "noise"))
        self.model, self.features = model, VGGFeatures(model)
        content, style = _unit_image(content, "content"), _unit_image(style, "style")
        smallest = min(d for d in (*content.shape[:2], *style.shape[:2]))
        gram_keys = [k for k in model.output if k.startswith("gram_")] if isinstance(
            model.output, dict) else []
        if not gram_keys or "content" not in model.output:
            raise ValueError("`model` must be a `style_transfer` model (outputs 'content' and "
                             "'gram_<layer>').")
        style_layers = [k[len("gram_"):] for k in gram_keys]
        needed = min_image_size("block1_conv1", style_layers + [content_layer_of(model)])
        if smallest < needed:
            raise ValueError(f"Images must be at least {needed}x{needed} pixels for these layers. "
                             f"Received: content {content.shape[:2]}, style {style.shape[:2]}")
        if layer_weights is not None:
            unknown = sorted(set(layer_weights) - set(style_layers))
            if unknown:
                raise ValueError(f"`layer_weights` names layers that are not style layers: "
                                 f"{', '.join(unknown)}. Style layers: {', '.join(style_layers)}.")
        self.weights = {"content": float(content_weight), "style": float(style_weight),
                        "tv": float(tv_weight)}
        self.layer_weights = dict(layer_weights) if layer_weights is not None else None
        self.content_target = self.features(content[None] * 255.0)["content"]
        style_out = self.features(style[None] * 255.0)
        self.style_targets = {k: style_out[k] for k in gram_keys}
        if init == "noise":
            start = np.random.default_rng(seed).uniform(0, 1, content.shape).astype("float32")
        else:
            start = content
        self.image = keras.Variable(start[None], name="stylized_image")  # (1, H, W, 3) in [0, 1]
        self.optimizer = None
        self._step = None

    def losses(self, image=None) -> dict:
        """Weighted total and unweighted parts at `image` (default: the current one)."""
        image = self.image if image is None else image
        features = self.features(image * 255.0)
        parts = {
            "content": content_loss(features["content"], self.content_target),
            "style": style_loss(features, self.style_targets, self.layer_weights),
            "tv": total_variation_loss(image),
        }
        total = sum(self.weights[k] * parts[k] for k in parts)
        return {"loss": total, **parts}

    def step(self, learning_rate=LEARNING_RATE) -> dict:
        """One Adam step on the image (pixels clipped to [0, 1]); the losses before it."""
        import tensorflow as tf

        if self._step is None:
            self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.99,
                                                   epsilon=0.1)

            @tf.function
            def adam_step():
                with tf.GradientTape() as tape:
                    losses = self.losses()
                grad = tape.gradient(losses["loss"], self.image.value)
                self.optimizer.apply_gradients([(grad, self.image)])
                self.image.assign(ops.clip(self.image, 0.0, 1.0))
                return losses

            self._step = adam_step
        return {k: float(v) for k, v in self._step().items()}

    def run(self, steps: int, optimizer="adam", learning_rate=LEARNING_RATE,
            callback: Callable[[int, dict], None] | None = None) -> list[dict]:
        """`steps` Adam steps or L-BFGS iterations; `callback(step, losses)` after each
        (step counts from 1; losses are those at the image after that step for
        L-BFGS, before it for Adam). Returns the history, one dict per step."""
        check_choice("optimizer", optimizer, ("adam", "lbfgs"))
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"`steps` must be an integer >= 0. Received: steps={steps!r}")
        history = []

        def record(step, losses):
            history.append({"step": step, **losses})
            if callback is not None:
                callback(step, losses)

        if optimizer == "adam":
            for step in range(1, steps + 1):
                record(step, self.step(learning_rate))
        elif steps:
            self._lbfgs(steps, record)
        return history

    def _lbfgs(self, steps: int, record) -> None:
        """L-BFGS-B (scipy) on the pixels, bounded to [0, 1]; one record per iteration."""
        import scipy.optimize
        import tensorflow as tf

        shape = tuple(self.image.shape)

        @tf.function
        def value_and_grad(flat):
            image = tf.reshape(flat, shape)
            with tf.GradientTape() as tape:
                tape.watch(image)
                losses = self.losses(image)
            return losses, tf.reshape(tape.gradient(losses["loss"], image), [-1])

        last = {}

        def fun(x):
            losses, grad = value_and_grad(tf.constant(x, tf.float32))
            last.update({k: float(v) for k, v in losses.items()})
            last["x"] = x
            return last["loss"], grad.numpy().astype(np.float64)

        def on_iteration(intermediate_result):
            self.image.assign(np.reshape(intermediate_result.x, shape).astype("float32"))
            record(len(iterations) + 1, {k: v for k, v in last.items() if k != "x"})
            iterations.append(1)

        iterations: list[int] = []
        x0 = np.asarray(self.image.numpy(), np.float64).ravel()
        scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                bounds=scipy.optimize.Bounds(0.0, 1.0), callback=on_iteration,
                                options={"maxiter": steps, "maxfun": steps * 4})

    def result(self) -> np.ndarray:
        """The current image as uint8 (H, W, 3)."""
        return to_uint8(np.asarray(self.image.numpy())[0], value_range=(0, 1))


def _unit_image(image, what) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"The {what} image must be RGB (H, W, 3). Received: shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype("float32") / 255.0
    return np.clip(image.astype("float32"), 0.0, 1.0)



# ----------------------------------------------------------------- Johnson: train a network


class FastStyleTrainer:
    """Trains a `fast_style_network` for one style with perceptual losses.

    Args:
        network: A `fast_style_network`.
        loss_model: A `style_transfer` model (its VGG19 weights set the losses).
        style: The style image, RGB (H, W, 3) uint8 or [0, 1] floats.
        content_weight, style_weight, tv_weight: Loss weights (`zoo.tasks.style`).
        learning_rate: Adam's learning rate (1e-3 in the paper).
    """

    def __init__(self, network, loss_model, style, content_weight=CONTENT_WEIGHT,
                 style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT, learning_rate=1e-3):
        style = np.asarray(style)
        style = style.astype("float32") * (255.0 if style.dtype != np.uint8 else 1.0)
        self.network, self.loss_model = network, loss_model
        self.features = VGGFeatures(loss_model)
        out = self.features(style[None])
        self.style_targets = {k: v for k, v in out.items() if k.startswith("gram_")}
        self.weights = {"content": float(content_weight), "style": float(style_weight),
                        "tv": float(tv_weight)}
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self._step = None

    def losses(self, images, training=False) -> dict:
        """Losses of the network's output on a batch of [0, 255] images."""
        stylized = self.network(images, training=training)  # (B, H, W, 3) in [0, 1]
        features = self.features(stylized * 255.0)
        target = self.features(images)["content"]
        batch = ops.shape(images)[0]
        # The style target's Gram matrices, repeated over the batch.
        grams = {k: ops.repeat(v, batch, axis=0) for k, v in self.style_targets.items()}
        parts = {"content": content_loss(features["content"], target),
                 "style": style_loss(features, grams),
                 "tv": total_variation_loss(stylized) / ops.cast(batch, "float32")}
        return {"loss": sum(self.weights[k] * parts[k] for k in parts), **parts}

    def train_step(self, images) -> dict:
        """One Adam step on the network's weights; the losses before it."""
        import tensorflow as tf

        if self._step is None:
            variables = self.network.trainable_variables

            @tf.function
            def step(batch):
                with tf.GradientTape() as tape:
                    losses = self.losses(batch, training=True)
                grads = tape.gradient(losses["loss"], variables)
                self.optimizer.apply_gradients(zip(grads, variables))
                return losses

            self._step = step
        images = np.asarray(images, dtype="float32")
        return {k: float(v) for k, v in self._step(images).items()}

    def fit(self, images, steps: int, batch_size: int = 4, seed: int = 0, callback=None):
        """`steps` steps on random batches of `images` (N, H, W, 3) in [0, 255];
        `callback(step, losses)` after each. Returns the losses per step."""
        check_positive_int("steps", steps)
        check_positive_int("batch_size", batch_size)
        rng = np.random.default_rng(seed)
        history = []
        for step in range(1, steps + 1):
            batch = images[rng.choice(len(images), size=batch_size, replace=len(images) < batch_size)]
            losses = self.train_step(batch)
            history.append({"step": step, **losses})
            if callback is not None:
                callback(step, losses)
        return history



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


def _example_images(batch: int) -> np.ndarray:
    """Random RGB images in [0, 255], (batch, 32, 48, 3): both style models take any
    size (48 and 32 are multiples of 4, as the feed-forward network needs)."""
    return np.random.default_rng(0).uniform(0, 255, (batch, 32, 48, 3)).astype("float32")


class _StyleTask(Task):
    """What the two style tasks share: no compile/fit loss, RGB images in, no dataset."""

    loss = None
    metrics = ()

    def serving_input_name(self, plan) -> str:
        return "image"

    def example_batch(self, spec, model, batch: int = 2, steps: int = 12):
        return _example_images(batch)


class StyleTransferTask(_StyleTask):
    """Gatys et al.: the model is a fixed feature extractor; stylizing optimises an image."""

    name = "style_transfer"
    output_name = "style"

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any]:
        return style_export_arguments(model, metadata=metadata)

    def output_shape(self, args: dict, input_shape: tuple) -> dict:
        """{"gram_<layer>": (B, C, C) per style layer, "content": (B, h, w, C)}."""
        batch, height, width = input_shape[:3]
        shapes = {}
        for layer in args["style_layers"]:
            channels = feature_shape(layer, height, width)[-1]
            shapes[f"gram_{layer}"] = (batch, channels, channels)
        shapes["content"] = (batch, *feature_shape(args["content_layer"], height, width))
        return shapes

    def training_step(self, spec, model, inputs) -> Callable[[], dict]:
        """One Adam step on the image stylizing scikit-learn's china.jpg after flower.jpg at
        48 pixels (`StyleTransfer.step`): the model's weights never train."""
        return StyleTransfer(model, *sample_images(48)).step


register_task(StyleTransferTask())


class StylizationTask(_StyleTask):
    """Johnson et al.: a feed-forward network trained per style on perceptual losses."""

    name = "stylization"
    output_name = "stylized"

    def export_arguments(self, spec, model, plan, metadata: dict) -> dict[str, Any]:
        return stylization_export_arguments(model, metadata=metadata)

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """An image of the input's shape."""
        return tuple(input_shape)

    def training_step(self, spec, model, inputs) -> Callable[[], dict]:
        """One Adam step of the network on `inputs` ([0, 255] images) against the perceptual
        losses of a random-weight `style_transfer` VGG19 for flower.jpg's style
        (`FastStyleTrainer.train_step`)."""
        trainer = FastStyleTrainer(model, build("style_transfer"), sample_images(32)[1])
        return lambda: trainer.train_step(inputs)


register_task(StylizationTask())
