"""Neural style transfer, the runtime: the optimisation loops and the workflows behind
`zoo stylize` and `zoo train-style`, each a Python function.

    stylize(content, style, ...)   Gatys et al. 2015: optimise the pixels of an image
                                   (`StyleTransfer`: Adam steps or L-BFGS iterations)
    train_style(style, ...)        Johnson et al. 2016: train a `fast_style_network`
                                   for one style (`FastStyleTrainer`) and export it
    export_style_transfer(model)   SavedModel exports of the two models, with the
    export_fast_style(network)     serving signatures of `zoo.tasks.style`

The losses, VGG19's input convention and the serving models belong to the tasks
(`zoo.tasks.style`); the architectures to `zoo.models.style_transfer` and
`zoo.models.fast_style`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import keras
import numpy as np
from keras import ops

from zoo._common import check_choice, check_positive_int
from zoo.models.style_transfer import min_image_size
from zoo.registry import build
from zoo.runtime.exporter import ExportResult, check_export_target, export
from zoo.images import save_png, to_uint8
from zoo.runtime.names import EXPORT_BASE_DIR
from zoo.tasks.style import (
    CONTENT_WEIGHT,
    LEARNING_RATE,
    STYLE_WEIGHT,
    TV_WEIGHT,
    VGGFeatures,
    content_crops,
    content_layer_of,
    content_loss,
    load_image,
    resize_image,
    resolve_weights,
    sample_images,
    style_export_arguments,
    style_loss,
    stylization_export_arguments,
    total_variation_loss,
)

LOSS_NAMES = ("loss", "content", "style", "tv")


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


@dataclasses.dataclass
class StylizeResult:
    image: np.ndarray  # uint8 (H, W, 3)
    history: list[dict]  # losses per step
    initial: dict  # losses at the starting image
    final: dict  # losses at the result
    seconds: float  # optimisation time, first step (tracing) included
    snapshots: list[Path]
    steady_seconds: float = float("nan")  # time of the steps after the first

    @property
    def steps_per_second(self) -> float:
        """Steps after the first (which traces the graph) per second."""
        steps = len(self.history) - 1
        return steps / self.steady_seconds if steps > 0 and self.steady_seconds > 0 else float("nan")


def stylize(content, style, *, steps: int = 300, content_weight=CONTENT_WEIGHT,
            style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT,
            layer_weights: Mapping[str, float] | None = None, size: int | None = 512,
            optimizer="adam", learning_rate=LEARNING_RATE, weights="imagenet",
            pooling="max", init="content", seed=0, every: int | None = None,
            snapshot_path: str | os.PathLike | None = None, verbose: int = 1,
            model=None) -> StylizeResult:
    """Render `content` in the style of `style` (Gatys et al. 2015).

    Args:
        content, style: Image files (PNG/JPEG) or uint8 RGB arrays.
        steps: Adam steps or L-BFGS iterations.
        content_weight, style_weight, tv_weight, layer_weights: Loss weights.
        size: Longer side of the images in pixels (never enlarged); the
            result has the (shrunk) content image's size.
        optimizer: "adam" or "lbfgs" (scipy's L-BFGS-B).
        learning_rate: Adam's step size on [0, 1] pixels.
        weights: "imagenet", None/"none" (random VGG19: a smoke run) or a file.
        pooling: "max" or "avg" (see `style_transfer`).
        init: "content" or "noise".
        every: Save the image every `every` steps to `snapshot_path` with
            `_step<N>` before its suffix (e.g. result_step00050.png).
        verbose: 1 shows a progress bar (keras.utils.Progbar), 2 one line at the end.
        model: A ready `style_transfer` model (else one is built).

    Returns:
        A `StylizeResult` (image, losses per step, initial and final losses,
        time, snapshot paths).
    """
    weights = resolve_weights(weights)  # first: offline without the file fails now
    if every is not None:
        check_positive_int("every", every)
        if snapshot_path is None:
            raise ValueError("`every` needs a `snapshot_path` to save the images to.")
    content, style = _read_image(content, size), _read_image(style, size)
    keras.utils.set_random_seed(seed)
    if model is None:
        model = build("style_transfer", pooling=pooling, weights=weights)
    transfer = StyleTransfer(model, content, style, content_weight, style_weight, tv_weight,
                             layer_weights, init=init, seed=seed)
    initial = {k: float(v) for k, v in transfer.losses().items()}
    bar = progress_bar(steps, verbose)
    snapshots: list[Path] = []

    def callback(step, losses):
        if step == 1:
            first_done[0] = time.perf_counter()
        if bar is not None:
            bar.update(step, [(k, losses[k]) for k in LOSS_NAMES])
        if every and step % every == 0:
            path = Path(snapshot_path)
            snapshots.append(save_png(transfer.result(),
                                      path.with_name(f"{path.stem}_step{step:05d}{path.suffix}")))

    first_done = [float("nan")]
    start = time.perf_counter()
    history = transfer.run(steps, optimizer, learning_rate, callback)
    end = time.perf_counter()
    final = {k: float(v) for k, v in transfer.losses().items()}
    return StylizeResult(transfer.result(), history, initial, final, end - start, snapshots,
                         end - first_done[0])


def _read_image(source, size: int | None) -> np.ndarray:
    """An image file (PNG/JPEG) or a uint8 RGB array, shrunk to `size` (`load_image`)."""
    if not isinstance(source, (str, os.PathLike)):
        return resize_image(source, size)
    if not Path(source).is_file():
        raise FileNotFoundError(f"image file {source} does not exist.")
    return load_image(source, size)


def progress_bar(steps: int, verbose: int):
    """A `keras.utils.Progbar` over `steps` showing the losses (None when `verbose` is 0:
    1 redraws one line, 2 prints one line at the end)."""
    if not verbose or not steps:
        return None
    return keras.utils.Progbar(steps, stateful_metrics=list(LOSS_NAMES), verbose=verbose)


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


@dataclasses.dataclass
class TrainStyleResult:
    network: Any  # the trained fast_style_network
    history: list[dict]  # losses per step
    export: ExportResult
    preview: Path | None  # the preview PNG, if one was asked for


def train_style(style, *, steps: int = 2000, batch_size: int = 4, size: int = 128,
                crops: int = 512, content_weight=CONTENT_WEIGHT, style_weight=STYLE_WEIGHT,
                tv_weight=TV_WEIGHT, learning_rate=1e-3, filters: int = 32,
                residual_blocks: int = 5, weights="imagenet",
                preview: str | os.PathLike | None = None, name: str = "fast_style_network",
                base_dir: str | os.PathLike = EXPORT_BASE_DIR, seed: int = 0,
                verbose: int = 1) -> TrainStyleResult:
    """Train a feed-forward style network for one style (Johnson et al. 2016) and export it.

    The network (`fast_style_network`) learns on random `size` x `size` crops of the
    offline photos (`content_crops`) against the perceptual losses of a VGG19 with
    `weights`; the export stylises a uint8 image in one call (`export_fast_style`).
    Everything that can be refused (export name and folder, weights, style image,
    size) is refused before anything is built.

    Args:
        style: The style image: a PNG/JPEG file or a uint8 RGB array.
        steps, batch_size, learning_rate: Adam steps, crops per step, step size.
        size: Crop size in pixels, a multiple of 4; crops: how many crops.
        content_weight, style_weight, tv_weight: Loss weights.
        filters, residual_blocks: The network's width and depth.
        weights: VGG19 weights of the loss: "imagenet", None/"none" (random: a smoke
            run) or a file.
        preview: Also write china.jpg stylized by the trained network to this PNG.
        name, base_dir: The export goes to `base_dir/name/<version>`.
        verbose: 1 shows a progress bar, 2 one line at the end, 0 nothing.

    Returns:
        A `TrainStyleResult` (network, losses per step, export, preview path).
    """
    check_export_target(base_dir, name)  # a bad name fails now, not after training
    weights = resolve_weights(weights)  # offline without the file fails now
    if isinstance(size, bool) or not isinstance(size, int) or size < 4 or size % 4:
        raise ValueError(f"`size` must be a multiple of 4. Received: size={size!r}")
    style_image = _read_image(style, size)
    keras.utils.set_random_seed(seed)
    network = build("fast_style_network", filters=filters, residual_blocks=residual_blocks)
    trainer = FastStyleTrainer(network, build("style_transfer", weights=weights), style_image,
                               content_weight=content_weight, style_weight=style_weight,
                               tv_weight=tv_weight, learning_rate=learning_rate)
    bar = progress_bar(steps, verbose)
    history = trainer.fit(content_crops(size, count=crops, seed=seed), steps,
                          batch_size=batch_size, seed=seed,
                          callback=None if bar is None else
                          lambda step, losses: bar.update(step, list(losses.items())))
    preview_path = None if preview is None else save_png(_preview(network, size), preview)
    return TrainStyleResult(network, history, export_fast_style(network, name, base_dir=base_dir),
                            preview_path)


def _preview(network, size: int) -> np.ndarray:
    """china.jpg at 4 x `size` pixels, cut to multiples of 4, stylized by `network` (uint8)."""
    content = sample_images(4 * size)[0]
    h, w = (d - d % 4 for d in content.shape[:2])
    return to_uint8(np.asarray(network(content[None, :h, :w].astype("float32")))[0],
                    value_range=(0, 1))


# ----------------------------------------------------------------- export


def export_style_transfer(model, name: str = "style_transfer", sample=None,
                          **kwargs) -> ExportResult:
    """Export a `style_transfer` model as a SavedModel whose `serving_default` maps a
    uint8 image to its style descriptor (`zoo.tasks.style.style_serving_model`),
    verified in a fresh process. `sample` defaults to the scikit-learn photos at 64
    pixels; `kwargs` go to `zoo.runtime.exporter.export`."""
    arguments = style_export_arguments(model, sample, kwargs.pop("metadata", None))
    return export(model, name, **arguments, **kwargs)


def export_fast_style(network, name: str = "fast_style_network", sample=None,
                      **kwargs) -> ExportResult:
    """Export a `fast_style_network` as a SavedModel whose `serving_default` stylises a
    uint8 image in one call, verified in a fresh process and under XLA."""
    arguments = stylization_export_arguments(network, sample, kwargs.pop("metadata", None))
    return export(network, name, **arguments, **kwargs)
