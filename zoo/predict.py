"""`zoo predict`: run an exported SavedModel on a .npy file or an image."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def read_input(path: str | os.PathLike, shape, dtype: str) -> np.ndarray:
    """Read a batch matching the export's raw input `shape` (no batch dim).

    `.npy`: one example of `shape` or a batch of them. Images (PNG, JPEG, ...)
    are converted to the export's channels and resized to its height/width.
    """
    path = Path(path)
    shape = tuple(shape)
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)  # never unpickle user files
        if array.shape == shape:
            array = array[None]
        if array.shape[1:] != shape:
            raise ValueError(
                f"{path} holds an array of shape {array.shape}; the export expects "
                f"{shape} or (batch, {', '.join(map(str, shape))})."
            )
        return array.astype(dtype)
    if len(shape) != 3:
        raise ValueError(
            f"{path} is not a .npy file, and the export's input {shape} is not an image."
        )
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("L" if shape[2] == 1 else "RGB")
        image = image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    if shape[2] == 1:
        array = array[..., None]
    return array[None].astype(dtype)


def predict_file(saved_model_dir: str | os.PathLike, input_path: str | os.PathLike, top: int = 3):
    """Yield one printable line per example: the top classes, or the values."""
    import tensorflow as tf

    saved_model_dir = Path(saved_model_dir)
    manifest_path = saved_model_dir / "manifest.json"
    if not manifest_path.exists():
        raise ValueError(f"{saved_model_dir} is not a zoo export (no manifest.json).")
    manifest = json.loads(manifest_path.read_text())
    (input_name, input_spec), = manifest["inputs"].items()
    (output_name, _), = manifest["outputs"].items()
    batch = read_input(input_path, input_spec["shape"][1:], input_spec["dtype"])
    serve = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    outputs = serve(**{input_name: tf.constant(batch)})[output_name].numpy()
    names = manifest.get("class_names")
    for i, row in enumerate(outputs.reshape(len(outputs), -1)):
        if names and len(row) == len(names) and len(row) > 1:
            order = np.argsort(row)[::-1][:top]
            yield f"[{i}] " + ", ".join(f"{names[j]}: {row[j]:.4f}" for j in order)
        elif names and len(row) == 1 and len(names) == 2:
            yield f"[{i}] {names[int(row[0] > 0.5)]} ({output_name}={row[0]:.4f})"
        else:
            yield f"[{i}] {output_name}=" + ", ".join(f"{v:.4f}" for v in row)
