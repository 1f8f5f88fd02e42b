"""Image grids as PNG files: autoencoder hidden units, GAN samples, style grids; and the
training curves of a run (matplotlib).

Images are NumPy arrays; this module only arranges and writes them (Pillow).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoo._common import atomic_path


def to_uint8(images, value_range=None) -> np.ndarray:
    """Images as uint8 [0, 255].

    Args:
        images: An array of floats or uint8.
        value_range: `(low, high)` mapped to 0..255 (values outside are
            clipped), e.g. `(-1, 1)` for a tanh generator or `(0, 1)` for
            unit pixels. None: uint8 is kept as is; floats are min-max
            scaled per image (for weights, whose range has no meaning).
    """
    images = np.asarray(images)
    if images.dtype == np.uint8 and value_range is None:
        return images
    images = images.astype(np.float64)
    if value_range is None:
        axes = tuple(range(1, images.ndim))
        low = images.min(axis=axes, keepdims=True)
        high = images.max(axis=axes, keepdims=True)
    else:
        low, high = (float(v) for v in value_range)
    scaled = (images - low) / np.maximum(high - low, 1e-12)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)


def tile_grid(images, columns: int | None = None, padding: int = 1, pad_value: int = 255,
              value_range=None) -> np.ndarray:
    """Tile a batch of images (N, H, W[, C]) into one uint8 image, row by row.

    `columns` defaults to the smallest square grid. Returns (rows*(H+p)-p,
    columns*(W+p)-p, C) uint8 with C = 1 or 3.

    Example:
        >>> tile_grid(np.zeros((10, 8, 8, 1)), columns=5).shape
        (17, 44, 1)
    """
    images = to_uint8(images, value_range)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected images of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3). "
            f"Received: shape {images.shape}"
        )
    n, h, w, c = images.shape
    if n == 0:
        raise ValueError("No images to tile.")
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + padding) - padding, columns * (w + padding) - padding, c),
                   pad_value, dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * (h + padding): r * (h + padding) + h,
             col * (w + padding): col * (w + padding) + w] = image
    return grid


def save_png(image, path: str | os.PathLike, scale: int = 1) -> Path:
    """Write one uint8 image (H, W[, 1 or 3]) as PNG, atomically; `scale` enlarges
    it by pixel repetition so small grids stay readable. Returns the path."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_png takes uint8 images. Received: dtype {image.dtype}")
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path


def save_grid(images, path: str | os.PathLike, columns: int | None = None,
              value_range=None, scale: int = 1) -> Path:
    """`tile_grid` then `save_png`: a batch of images as one PNG file."""
    return save_png(tile_grid(images, columns, value_range=value_range), path, scale=scale)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """A PNG (or JPEG) file as a uint8 array (H, W) or (H, W, C)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def save_curves(rows: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Plot a training history as PNG, atomically: one panel per quantity (loss, then each
    metric) against epoch, the training value and its `val_` counterpart as two lines.

    `rows` are history rows (`{"epoch": 0, "loss": ..., "val_loss": ...}`). matplotlib's
    Agg canvas is used directly (no pyplot state, no display needed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    keys = [k for row in rows for k in row if k != "epoch"]
    names = list(dict.fromkeys(k[4:] if k.startswith("val_") else k for k in keys))
    names.sort(key=lambda k: (k != "loss", k))  # loss first
    if not names:
        raise ValueError("No quantities to plot: the history has no rows with values.")
    columns = min(len(names), 3)
    panels = -(-len(names) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.2 * panels), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            points = [(row["epoch"], row[key]) for row in rows if key in row]
            if points:
                epochs, values = zip(*points)
                ax.plot(epochs, values, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=72)
    return Path(path)
