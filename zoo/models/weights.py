"""Pretrained weights: local files, or "imagenet" from the standard Keras cache.

"imagenet" files are the keras.applications ones, stored where Keras keeps
them (`$KERAS_HOME/models`, default `~/.keras/models`) and checked against
their published hash. Offline without the file, loading fails at once with
the file name, the folder to put it in and where to get it.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from pathlib import Path

import keras

KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are not cached and cannot be downloaded from here."""


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    file_name: str
    url: str
    md5: str


# Model -> (md5 with the top, md5 without), as published with keras.applications.
_IMAGENET_MD5 = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}


def _imagenet_file(arch: str, include_top: bool) -> WeightsFile:
    """keras.applications naming: `<arch>_weights_tf_dim_ordering_tf_kernels[_notop].h5`."""
    folder = "resnet" if arch.startswith("resnet") else arch
    file_name = f"{arch}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    md5 = _IMAGENET_MD5[arch][0 if include_top else 1]
    return WeightsFile(file_name, f"{KERAS_APPLICATIONS}{folder}/{file_name}", md5)


# (model, include_top) -> file.
IMAGENET = {
    (arch, top): _imagenet_file(arch, top) for arch in _IMAGENET_MD5 for top in (True, False)
}


def keras_cache_dir() -> Path:
    base = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return Path(base).expanduser() / "models"


def check_weights_arg(arch: str, weights, include_top: bool, classes: int) -> None:
    """Validate `weights` before the model is built."""
    if weights is None:
        return
    if weights == "imagenet":
        if (arch, include_top) not in IMAGENET:
            available = sorted({m for m, _ in IMAGENET})
            raise ValueError(
                f"No 'imagenet' weights for {arch}; they exist for {', '.join(available)}. "
                f"Received: weights='imagenet'"
            )
        if include_top and classes != 1000:
            raise ValueError(
                "weights='imagenet' with include_top=True needs classes=1000. "
                f"Received: classes={classes}"
            )
        return
    path = str(weights)
    if not path.endswith((".h5", ".keras")):
        raise ValueError(
            "`weights` must be None, 'imagenet' (where available) or the path to a "
            f"`.h5`, `.weights.h5` or `.keras` file. Received: weights={weights!r}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"Weights file {path} does not exist.")


def imagenet_path(arch: str, include_top: bool) -> str:
    """The cached "imagenet" file, downloaded (hash-checked) if reachable."""
    from pipelines.tfds_source import forced_offline, hosts_reachable

    entry = IMAGENET[(arch, include_top)]
    cached = keras_cache_dir() / entry.file_name
    host = urllib.parse.urlparse(entry.url).hostname
    if not cached.exists() and (forced_offline() or not hosts_reachable([host])):
        raise WeightsUnavailableError(
            f"ImageNet weights for {arch} are not cached and {host} cannot be reached. "
            f"Put the file {entry.file_name} in {cached.parent} (md5 {entry.md5}); "
            f"it is published at {entry.url}"
        )
    return keras.utils.get_file(
        entry.file_name, entry.url, cache_subdir="models", file_hash=entry.md5
    )
