"""Folders of images or texts, one subfolder per class (`keras.utils.image_dataset_from_directory`'s
layout, TFDS `ImageFolder`'s with split folders):

    photos/cat/1.png, photos/dog/2.jpg, ...                  one split: train
    photos/train/cat/..., photos/validation/..., photos/test/...

Class names are the subfolder names, sorted; files whose suffix is no image
(or, for texts, no `.txt`) are ignored, hidden ones too. Every image's header
is read once before training (a file that is no image is named then); the
pixels are decoded in parallel inside tf.data on every pass, so a folder of
any size streams. Images of mixed sizes are resized (bilinear) to the most
common size among them, and all get the channels of the colour images among
them (3) or 1 when all are greyscale; the raw size is the export's input
size. Texts must be UTF-8 (each file is checked once; a file that is not is
named) and are read inside tf.data on every pass, like images. They are
tokenized like labelled TFDS text (`pipelines.text_classification`): words, a
vocabulary from the training split, `seq_len` ids per text.
"""

from __future__ import annotations

import collections
import functools
import os
from pathlib import Path

import numpy as np

from pipelines.info import DatasetInfo
from pipelines.own import SPLITS, DataError, check_options, split_indices
from pipelines.source import LoadRequest, Source, TextSource, feature_pipeline

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_SUFFIXES = (".txt",)
TEXT_OPTIONS = {"level": "word", "seq_len": 200, "max_tokens": 20_000}
# Decoded images up to this size are cached in memory after the first pass.
CACHE_BYTES = 256 << 20


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def folder_kind(path: Path) -> str | None:
    """"images" or "texts" for a class-per-folder tree, else None (not such a folder)."""
    if not path.is_dir():
        return None
    if not any(_visible(p) for p in path.iterdir()):
        return "images"  # an empty folder: refused with the image folder's message
    root = path / "train" if (path / "train").is_dir() else path
    subfolders = [p for p in root.iterdir() if _visible(p) and p.is_dir()]
    if not subfolders or any(p.is_file() and _visible(p) for p in root.iterdir()):
        return None
    suffixes = {f.suffix.lower() for d in subfolders for f in d.iterdir() if f.is_file()}
    if suffixes & set(IMAGE_SUFFIXES):
        return "images"
    if suffixes & set(TEXT_SUFFIXES):
        # One subfolder of .txt files is more likely a corpus folder (ptb/ptb.train.txt)
        # one level too high than a one-class tree: the corpus error says what to give.
        return "texts" if len(subfolders) > 1 else None
    return "images"  # empty class folders: refused with the image folder's message


@functools.lru_cache(maxsize=16)
def _listing(path: str, suffixes: tuple, stamp) -> dict:
    """Split -> (files, labels) and the class names, from the folder tree."""
    root = Path(path)
    layout = [s for s in SPLITS if (root / s).is_dir()]
    split_roots = {s: root / s for s in layout} if "train" in layout else {"train": root}
    class_names = sorted(p.name for p in split_roots["train"].iterdir()
                         if p.is_dir() and _visible(p))
    if not class_names:
        raise DataError(f"{root} holds no class folders; put each class's files in a "
                        "subfolder named after the class.")
    splits = {}
    for split, folder in split_roots.items():
        files, labels = [], []
        for index, name in enumerate(class_names):
            class_dir = folder / name
            found = sorted(str(f) for f in class_dir.iterdir()
                           if f.is_file() and _visible(f) and f.suffix.lower() in suffixes
                           ) if class_dir.is_dir() else []
            if not found and split == "train":
                raise DataError(f"Class folder {class_dir} holds no "
                                f"{' or '.join(suffixes)} files.")
            files += found
            labels += [index] * len(found)
        extra = sorted(p.name for p in folder.iterdir()
                       if p.is_dir() and _visible(p) and p.name not in class_names)
        if extra:
            raise DataError(f"{folder} has class folders the training split lacks: "
                            f"{', '.join(extra)}.")
        splits[split] = (np.array(files), np.array(labels, np.int32))
    return {"splits": splits, "class_names": tuple(class_names)}


def _stamp(path: Path):
    """What changes when files are added or removed (folder modification times)."""
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in [path, *path.rglob("*")]
                        if p.is_dir()))


class _FolderSource(Source):
    own = True
    suffixes: tuple = ()
    folder_kind: str = ""

    def matches(self, name, data_dir, options: dict) -> bool:
        path = Path(os.path.expanduser(str(name)))
        return folder_kind(path) == self.folder_kind

    def splits(self, name, options: dict):
        """Split -> (files, labels), a seeded stratified validation split when none is given."""
        opts = self.options(options)
        path = Path(os.path.expanduser(str(name)))
        listed = _listing(str(path), self.suffixes, _stamp(path))
        splits = dict(listed["splits"])
        if "validation" not in splits:
            files, labels = splits["train"]
            if len(set(labels.tolist())) < 2:
                raise DataError(f"{path} has one class folder ({listed['class_names'][0]}); a "
                                "classifier needs at least two.")
            train, val = split_indices(len(files), labels, opts["validation_split"],
                                       opts["split_seed"])
            splits["train"], splits["validation"] = (files[train], labels[train]), (
                files[val], labels[val])
        return splits, listed["class_names"]

    def options(self, options: dict) -> dict:
        return check_options(f"{self.folder_kind.capitalize()} folders", options)

    def files(self, name, split: str, options: dict):
        splits, _ = self.splits(name, options)
        if split not in splits:
            raise ValueError(f"Dataset {name!r} has no split {split!r}. "
                             f"Available: {', '.join(splits)}.")
        return splits[split]


# --- images ---

@functools.lru_cache(maxsize=16)
def _image_sizes(files: tuple) -> tuple[tuple, bool]:
    """((width, height), count) of the raw images, most common first, and whether any is
    in colour: each header read once (PIL, lazily: no pixels decoded); a file that is no
    image is named."""
    from PIL import Image, UnidentifiedImageError

    sizes, colour = collections.Counter(), False
    for file in files:
        try:
            with Image.open(file) as image:
                sizes[image.size] += 1
                colour |= image.mode not in ("L", "LA", "I", "I;16", "1")
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"{file} is not a readable image ({exc}). Remove or replace it."
                            ) from None
    return tuple(sizes.most_common()), colour


def _image_shape(files: tuple) -> tuple[int, int, int]:
    """(height, width, channels): the most common size; colour if any image is."""
    sizes, colour = _image_sizes(files)
    (width, height), _ = sizes[0]
    return height, width, 3 if colour else 1


class ImageFolderSource(_FolderSource):
    """A class-per-folder tree of images (PNG, JPEG, BMP, GIF)."""

    kind = "image_folder"
    suffixes = IMAGE_SUFFIXES
    folder_kind = "images"

    def _all_files(self, name, options: dict) -> tuple:
        splits, _ = self.splits(name, options)
        return tuple(f for files, _ in splits.values() for f in files.tolist())

    def shape(self, name, options: dict):
        return _image_shape(self._all_files(name, options))

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        splits, class_names = self.splits(name, options)
        return DatasetInfo(
            name=str(name), task="classification", feature_shape=self.shape(name, options),
            feature_dtype="uint8", num_classes=len(class_names), class_names=class_names,
            splits={k: len(v[0]) for k, v in splits.items()}, source=self.kind,
            description=f"Own images ({name}), one folder per class.",
        )

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import dataclasses

        import tensorflow as tf

        files, labels = self.files(name, split, options)
        info = self.info(name, options)
        height, width, channels = info.feature_shape

        mixed = len(_image_sizes(self._all_files(name, options))[0]) > 1

        def resized(image):
            image = tf.image.resize(image, (height, width), method="bilinear")
            return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

        def decode(path, label):
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                       expand_animations=False)
            if mixed:  # only the images of another size are resized
                same = tf.reduce_all(tf.equal(tf.shape(image)[:2], (height, width)))
                image = tf.cond(same, lambda: image, lambda: resized(image))
            return tf.ensure_shape(image, (height, width, channels)), label

        ds = tf.data.Dataset.from_tensor_slices((files, labels))
        small = len(files) * height * width * channels <= CACHE_BYTES
        if not (small and request.cache) and request.shuffle:
            # Large folders: shuffle the file names (cheap), decode after, cache nothing.
            ds = ds.shuffle(len(files), seed=request.seed, reshuffle_each_iteration=True)
            request = dataclasses.replace(request, shuffle=False)
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=not request.shuffle)
        request = dataclasses.replace(request, cache=small and request.cache)
        prep = (self.preprocessor(name, options, request.image_size, request.channels,
                                  request.normalization) if request.preprocess else None)
        return feature_pipeline(ds, name, split, request, info, len(files), prep)

    def preprocessor(self, name, options: dict, image_size=None, channels=None,
                     normalization="unit", data_dir=None):
        from pipelines import preprocessing

        preprocessing.check_normalization(normalization)
        return preprocessing.feature_preprocessor(name, self.info(name, options), image_size,
                                                  channels, normalization)


# --- texts ---

@functools.lru_cache(maxsize=16)
def _check_utf8(files: tuple) -> None:
    """Refuse a file that is not UTF-8, naming it: each read once, none kept in memory."""
    for file in files:
        data = Path(file).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{file} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                            f"offset {exc.start}). Convert it to UTF-8.") from None


def _texts(files):
    """The files' texts, read inside tf.data (streamed, never all in memory)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(list(files)).map(
        tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE)


@functools.lru_cache(maxsize=16)
def _text_vocabulary(files: tuple, level: str, max_tokens: int) -> tuple[str, ...]:
    from pipelines.text import vocabulary_from_tokens
    from pipelines.tokens import tokenize

    _check_utf8(files)
    tokens = _texts(files).map(lambda t: tokenize(t, level)).unbatch()
    return vocabulary_from_tokens(tokens, max_tokens)


class TextFolderSource(_FolderSource, TextSource):
    """A class-per-folder tree of UTF-8 `.txt` files, read as fixed-length token ids."""

    kind = "text_folder"
    suffixes = TEXT_SUFFIXES
    folder_kind = "texts"
    described_as = "a folder of texts"

    def options(self, options: dict) -> dict:
        return check_options("Text folders", options, TEXT_OPTIONS)

    def vocabulary(self, name, options: dict) -> tuple[str, ...]:
        opts = self.options(options)
        files, _ = self.files(name, "train", options)
        return _text_vocabulary(tuple(files.tolist()), opts["level"], opts["max_tokens"])

    def info(self, name, options: dict, data_dir=None, manual_dir=None,
             offline=None) -> DatasetInfo:
        opts = self.options(options)
        splits, class_names = self.splits(name, options)
        for files, _ in splits.values():  # every file UTF-8, named if not
            _check_utf8(tuple(files.tolist()))
        return DatasetInfo(
            name=str(name), task="classification", feature_shape=(opts["seq_len"],),
            feature_dtype="int32", num_classes=len(class_names), class_names=class_names,
            splits={k: len(v[0]) for k, v in splits.items()}, source=self.kind,
            description=f"Own texts ({name}), one folder per class.",
            vocabulary=self.vocabulary(name, options), text_level=opts["level"],
        )

    def load(self, name, split: str, request: LoadRequest, options: dict):
        import tensorflow as tf

        from pipelines.layers import TextToIds

        self.refuse_image_arguments(name, request)
        opts = self.options(options)
        info = self.info(name, options)
        files, labels = self.files(name, split, options)
        ds = tf.data.Dataset.from_tensor_slices((files, labels))
        if request.shuffle:  # the file names (cheap); each text is read after, in parallel
            ds = ds.shuffle(max(len(files), 1), seed=request.seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda path, y: (tf.io.read_file(path), y),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        to_ids = TextToIds(info.vocabulary, opts["level"], length=opts["seq_len"])
        if request.batch_size is None:
            ds = ds.map(lambda t, y: (to_ids(t[None])[0][0], y))
        else:
            ds = ds.batch(request.batch_size, drop_remainder=request.drop_remainder)
            ds = ds.map(lambda t, y: (to_ids(t)[0], y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)
