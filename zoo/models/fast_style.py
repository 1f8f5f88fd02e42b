"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for
Real-Time Style Transfer and Super-Resolution).

One network per style: an image transformation network trained with the
perceptual losses of `zoo.models.style_transfer` (content features and Gram
matrices of a fixed VGG19) stylises an image in one forward pass.

    "forward pass"   image (B, H, W, 3) RGB in [0, 255], H and W multiples of 4
                     -> stylized image (B, H, W, 3) in [0, 1]
    "training step"  one Adam step on the network's weights over a batch of
                     content images (`FastStyleTrainer.train_step`): content
                     loss against each input, style loss against one style
                     image, total variation; VGG19 frozen.

Differences from the paper: instance normalisation (Ulyanov et al. 2016, as
in Johnson's released code) instead of batch normalisation, and nearest-
neighbour upsampling + convolution instead of fractionally strided
convolutions (no checkerboard artefacts; Odena et al. 2016).
"""

from __future__ import annotations

import keras
import numpy as np

from zoo._common import check_positive_int
from zoo.registry import register_model
from zoo.models.style_transfer import (
    CONTENT_WEIGHT,
    STYLE_WEIGHT,
    TV_WEIGHT,
    content_loss,
    sample_images,
    style_loss,
    total_variation_loss,
)

_PAPER = ("Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer "
          "and Super-Resolution, arXiv:1603.08155")


def apply_conv(x, filters, kernel_size, strides=1, activation="relu", name=""):
    """Conv -> instance norm (GroupNormalization with one group per channel) -> activation."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                            name=f"{name}_conv")(x)
    x = keras.layers.GroupNormalization(groups=-1, name=f"{name}_norm")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def apply_residual_block(x, filters, name=""):
    """Two 3x3 conv/norm layers and an identity shortcut (the paper's Figure 1 of its supplement)."""
    y = apply_conv(x, filters, 3, name=f"{name}_1")
    y = apply_conv(y, filters, 3, activation=None, name=f"{name}_2")
    return keras.layers.Add(name=f"{name}_add")([x, y])


@register_model(family="fast_style", task="stylization", reference=_PAPER, search_space=None,
                test_args={"filters": 8, "residual_blocks": 1})
def fast_style_network(input_shape=(None, None, 3), filters=32, residual_blocks=5,
                       name="fast_style_network"):
    """Johnson et al.'s image transformation network: stylises an image in one pass.

    9x9 conv, two stride-2 3x3 convs (x2, x4 filters), residual blocks,
    two x2 upsampling + 3x3 convs, 9x9 conv to RGB, sigmoid. Trained per
    style with `FastStyleTrainer` (`zoo train-style`); `search_space=None`:
    like `style_transfer` there is no dataset here to search over.

    Args:
        input_shape: (height, width, 3) RGB in [0, 255]; height and width
            multiples of 4 (None: any such size).
        filters: Filters of the first convolution (32 in the paper).
        residual_blocks: Number of residual blocks (5 in the paper).
        name: Model name.

    Returns:
        A `keras.Model`: image (B, H, W, 3) -> stylized image (B, H, W, 3) in [0, 1].

    Example:
        >>> model = fast_style_network(filters=8, residual_blocks=1)
        >>> tuple(model(np.zeros((1, 32, 48, 3), "float32")).shape)
        (1, 32, 48, 3)
    """
    check_positive_int("filters", filters)
    check_positive_int("residual_blocks", residual_blocks, minimum=0)
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 3 or any(d is not None and d % 4 for d in shape[:2]):
        raise ValueError(f"`input_shape` must be (height, width, 3) with height and width "
                         f"multiples of 4 or None. Received: input_shape={input_shape!r}")
    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(image)  # [0, 255] -> [0, 1]
    x = apply_conv(x, filters, 9, name="down1")  # (B, H, W, f)
    x = apply_conv(x, 2 * filters, 3, strides=2, name="down2")  # (B, H/2, W/2, 2f)
    x = apply_conv(x, 4 * filters, 3, strides=2, name="down3")  # (B, H/4, W/4, 4f)
    for i in range(1, residual_blocks + 1):
        x = apply_residual_block(x, 4 * filters, name=f"res{i}")
    for i, f in enumerate((2 * filters, filters), 1):
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}_upsample")(x)
        x = apply_conv(x, f, 3, name=f"up{i}")
    x = keras.layers.Conv2D(3, 9, padding="same", name="rgb_conv")(x)
    x = keras.layers.Activation("sigmoid", name="stylized")(x)  # (B, H, W, 3) in [0, 1]
    return keras.Model(image, x, name=name)


class FastStyleTrainer:
    """Trains a `fast_style_network` for one style with perceptual losses.

    Args:
        network: A `fast_style_network`.
        loss_model: A `style_transfer` model (its VGG19 weights set the losses).
        style: The style image, RGB (H, W, 3) uint8 or [0, 1] floats.
        content_weight, style_weight, tv_weight: Loss weights (`zoo.models.style_transfer`).
        learning_rate: Adam's learning rate (1e-3 in the paper).
    """

    def __init__(self, network, loss_model, style, content_weight=CONTENT_WEIGHT,
                 style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT, learning_rate=1e-3):
        style = np.asarray(style)
        style = style.astype("float32") * (255.0 if style.dtype != np.uint8 else 1.0)
        out = loss_model(style[None])
        self.network, self.loss_model = network, loss_model
        self.style_targets = {k: v for k, v in out.items() if k.startswith("gram_")}
        self.weights = {"content": float(content_weight), "style": float(style_weight),
                        "tv": float(tv_weight)}
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self._step = None

    def losses(self, images, training=False) -> dict:
        """Losses of the network's output on a batch of [0, 255] images."""
        from keras import ops

        stylized = self.network(images, training=training)  # (B, H, W, 3) in [0, 1]
        features = self.loss_model(stylized * 255.0)
        target = self.loss_model(images)["content"]
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


def content_crops(size: int = 64, count: int = 256, seed: int = 0) -> np.ndarray:
    """Random `size`x`size` crops (flipped at random) of the photos bundled with
    scikit-learn and matplotlib: offline training content, uint8 (count, size, size, 3).
    A stand-in for the paper's 80,000 COCO images; enough to exercise training."""
    from matplotlib import cbook

    from zoo.models.style_transfer import load_image

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


def serving_model(network, output_name="stylized"):
    """uint8 image (B, H, W, 3), H and W multiples of 4 -> stylized image in [0, 1]."""
    image = keras.Input(shape=tuple(network.input_shape[1:]), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(image)
    y = keras.layers.Identity(name=output_name)(network(x))
    return keras.Model(image, y, name=f"{network.name}_serving")


def export_fast_style(network, name: str = "fast_style_network", sample=None, **kwargs):
    """Export as a SavedModel whose `serving_default` stylises a uint8 image in one
    call, verified in a fresh process and under XLA (`zoo.runtime.exporter.export`)."""
    from zoo.runtime.exporter import export

    if sample is None:
        sample = content_crops(32, count=4)
    metadata = {"model": "fast_style_network", "family": "fast_style", "task": "stylization",
                "reference": _PAPER, **kwargs.pop("metadata", {})}
    # Two stride-2 convolutions down and two up: other sizes come back changed.
    return export(network, name, serving=serving_model(network), input_name="image",
                  output_name="stylized", sample=sample, metadata=metadata, size_multiple=4,
                  **kwargs)
