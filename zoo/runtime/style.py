"""Neural style transfer, the runtime: the optimisation loops and the workflows behind
`zoo stylize` and `zoo train-style`, each a Python function.

    stylize(content, style, ...)   Gatys et al. 2015: optimise the pixels of an image
                                   (`zoo.tasks.style.StyleTransfer`: Adam steps or
                                   L-BFGS iterations)
    train_style(style, ...)        Johnson et al. 2016: train a `fast_style_network`
                                   for one style (`zoo.tasks.style.FastStyleTrainer`)
                                   and export it
    export_style_transfer(model)   SavedModel exports of the two models, with the
    export_fast_style(network)     serving signatures of `zoo.tasks.style`

The losses, VGG19's input convention, the two training steps and the serving models
belong to the tasks (`zoo.tasks.style`); the architectures to `zoo.models.style_transfer` and
`zoo.models.fast_style`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Mapping

import keras
import numpy as np

from zoo._common import check_positive_int
from zoo.images import save_png, to_uint8
from zoo.registry import build
from zoo.runtime.exporter import ExportResult, check_export_target, export
from zoo.runtime.names import EXPORT_BASE_DIR
from zoo.tasks.style import (
    CONTENT_WEIGHT,
    LEARNING_RATE,
    STYLE_WEIGHT,
    TV_WEIGHT,
    FastStyleTrainer,
    StyleTransfer,
    content_crops,
    load_image,
    resize_image,
    resolve_weights,
    sample_images,
    style_export_arguments,
    stylization_export_arguments,
)

LOSS_NAMES = ("loss", "content", "style", "tv")


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
