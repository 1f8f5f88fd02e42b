"""Neural style transfer (Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style).

The registered model `style_transfer` is the feature extractor: VGG19's
convolutional stack (`zoo.models.vgg.vgg19`, keras.applications layer names) mapping
an RGB image in [0, 255] to the features of one content layer and the Gram
matrices of the style layers. Stylizing does not train the model: it
optimises the pixels of an image so that its content features match those of
the content image and its Gram matrices those of the style image
(`StyleTransfer`, `stylize`, `zoo stylize`).

    "forward pass"   image (B, H, W, 3) in [0, 255] -> {"content": (B, h, w, C),
                     "gram_<layer>": (B, C_l, C_l) for each style layer}
    "training step"  one optimiser step on the image (VGG frozen):
                     `StyleTransfer.step()`, Adam, or one L-BFGS iteration.

Losses (keras.ops, so they run inside `tf.function` and XLA), with
G = F^T F / M, F the (M positions x N channels) features of a layer:
    content  mean((F - P)^2) on the content layer
    style    sum_l w_l mean((G_l - A_l)^2), w_l = 1 / L by default
    tv       sum |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]| over the [0, 1]
             image (`tf.image.total_variation`)
The paper's L_content = 1/2 sum (F - P)^2 and E_l = sum (F F^T - A)^2 / (4 N^2 M^2)
differ from these by constant factors, absorbed in the loss weights. The
default weights and Adam settings (content 1e4, style 1e-2, tv 30; lr 0.02,
beta_1 0.99, epsilon 0.1, pixels in [0, 1] clipped after each step) are
those of the TensorFlow style-transfer tutorial for keras.applications'
ImageNet VGG19 at 512 pixels.
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

from zoo._common import check_choice
from zoo.registry import register_model

_PAPER = ("Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style, "
          "arXiv:1508.06576")

# keras.applications VGG19 layer names, input to output.
VGG19_CONV_LAYERS = tuple(
    f"block{b}_conv{c}" for b, convs in enumerate((2, 2, 4, 4, 4), 1) for c in range(1, convs + 1)
)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYER = "block5_conv2"
VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Loss weights and Adam settings of the TensorFlow tutorial (see the module docstring).
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1e4, 1e-2, 30.0
LEARNING_RATE = 0.02


@keras.saving.register_keras_serializable(package="zoo")
class GramMatrix(keras.layers.Layer):
    """Features (B, H, W, C) -> Gram matrices (B, C, C) = F^T F / (H W)."""

    def call(self, features):
        return gram_matrix(features)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1], input_shape[-1])


def gram_matrix(features):
    """Channel correlations of (B, H, W, C) features, averaged over the H W positions."""
    shape = ops.shape(features)
    positions = ops.cast(shape[1] * shape[2], features.dtype)
    return ops.einsum("bijc,bijd->bcd", features, features) / positions


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


def _check_layers(content_layer, style_layers) -> tuple[str, ...]:
    if isinstance(style_layers, str):
        style_layers = (style_layers,)
    style_layers = tuple(style_layers)
    bad = [n for n in (content_layer, *style_layers) if n not in VGG19_CONV_LAYERS]
    if bad:
        raise ValueError(
            f"Unknown VGG19 layer(s) {', '.join(map(repr, bad))}. Valid layers: "
            f"{', '.join(VGG19_CONV_LAYERS)}. Received: content_layer={content_layer!r}, "
            f"style_layers={style_layers!r}"
        )
    if not style_layers or len(set(style_layers)) != len(style_layers):
        raise ValueError(f"`style_layers` must name distinct layers, at least one. "
                         f"Received: style_layers={style_layers!r}")
    return style_layers


def min_image_size(content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS) -> int:
    """The smallest height/width keeping one position at the deepest layer used."""
    deepest = max(int(n[len("block")]) for n in (content_layer, *style_layers))
    return 2 ** (deepest - 1)


@register_model(family="style_transfer", task="style_transfer", reference=_PAPER,
                search_space=None, learning_rate=LEARNING_RATE)
def style_transfer(input_shape=(None, None, 3), content_layer=CONTENT_LAYER,
                   style_layers=STYLE_LAYERS, pooling="max", weights=None,
                   name="style_transfer"):
    """VGG19 features for neural style transfer: content features and style Gram matrices.

    Stylizing optimises an image's pixels against these outputs
    (`StyleTransfer`); the network itself is never trained, so `zoo train`
    and `zoo tune` do not apply: there is no dataset, and nothing sensible to
    search (the loss weights define the objective; lower weights only mean a
    lower loss), hence `search_space=None`.

    Args:
        input_shape: (height, width, 3) RGB in [0, 255]; None for any size
            (the default: content and style images differ in size).
        content_layer: The VGG19 conv layer whose features carry content.
        style_layers: VGG19 conv layers whose Gram matrices carry style.
        pooling: "max" (VGG19 as trained) or "avg" (the paper's choice:
            "slightly more appealing results").
        weights: None (random), "imagenet" (the keras.applications notop
            file, local or in the Keras cache) or a local weights file.
        name: Model name.

    Returns:
        A `keras.Model`: image -> {"content": (B, h, w, C), "gram_<layer>":
        (B, C_l, C_l)}.

    Example:
        >>> model = style_transfer()
        >>> features = model(np.zeros((1, 64, 64, 3), "float32"))
        >>> tuple(features["gram_block1_conv1"].shape), tuple(features["content"].shape)
        ((1, 64, 64), (1, 4, 4, 512))
    """
    from pipelines.layers import CaffeNormalization
    from zoo.models.vgg import vgg19

    style_layers = _check_layers(content_layer, style_layers)
    check_choice("pooling", pooling, ("max", "avg"))
    shape = tuple(input_shape) if input_shape is not None else ()
    if len(shape) != 3 or shape[2] != 3 or any(
            d is not None and (not isinstance(d, int) or d < 1) for d in shape[:2]):
        raise ValueError(f"`input_shape` must be (height, width, 3), height and width ints or "
                         f"None. Received: input_shape={input_shape!r}")
    smallest = min_image_size(content_layer, style_layers)
    if any(d is not None and d < smallest for d in shape[:2]):
        raise ValueError(f"These layers need images of at least {smallest}x{smallest} pixels. "
                         f"Received: input_shape={shape}")
    # VGG19 at a fixed size only holds the weights: its convolutions apply to any size.
    vgg = vgg19(input_shape=(32, 32, 3), include_top=False, weights=weights)

    image = keras.Input(shape=shape, name="image")
    x = CaffeNormalization(name="caffe_normalization")(image)  # RGB [0, 255] -> BGR - mean
    wanted = {content_layer, *style_layers}
    outputs = {}
    for layer in vgg.layers[1:]:
        if not wanted:
            break  # nothing deeper is used
        if layer.name.endswith("_pool") and pooling == "avg":
            x = keras.layers.AveragePooling2D(2, strides=2, name=layer.name)(x)
        else:
            x = layer(x)
        if layer.name == content_layer:
            outputs["content"] = x  # (B, h, w, C)
        if layer.name in style_layers:
            outputs[f"gram_{layer.name}"] = GramMatrix(name=f"gram_{layer.name}")(x)  # (B, C, C)
        wanted.discard(layer.name)
    # Style layers in the caller's order, then the content features.
    ordered = {f"gram_{n}": outputs[f"gram_{n}"] for n in style_layers}
    ordered["content"] = outputs["content"]
    return keras.Model(image, ordered, name=name)


# ----------------------------------------------------------------- weights


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


# ----------------------------------------------------------------- optimisation


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
        >>> transfer = StyleTransfer(style_transfer(), content, style)
        >>> losses = transfer.step()  # one Adam step; losses before it
        >>> transfer.result().shape
        (43, 64, 3)
    """

    def __init__(self, model, content, style, content_weight=CONTENT_WEIGHT,
                 style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT,
                 layer_weights: Mapping[str, float] | None = None, init="content", seed=0):
        check_choice("init", init, ("content", "noise"))
        self.model = model
        content, style = _unit_image(content, "content"), _unit_image(style, "style")
        smallest = min(d for d in (*content.shape[:2], *style.shape[:2]))
        gram_keys = [k for k in model.output if k.startswith("gram_")] if isinstance(
            model.output, dict) else []
        if not gram_keys or "content" not in model.output:
            raise ValueError("`model` must be a `style_transfer` model (outputs 'content' and "
                             "'gram_<layer>').")
        style_layers = [k[len("gram_"):] for k in gram_keys]
        needed = min_image_size("block1_conv1", style_layers + [_content_layer(model)])
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
        self.content_target = model(content[None] * 255.0)["content"]
        style_out = model(style[None] * 255.0)
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
        features = self.model(image * 255.0)
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
        from zoo.runtime.images import to_uint8

        return to_uint8(np.asarray(self.image.numpy())[0], value_range=(0, 1))


def _unit_image(image, what) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"The {what} image must be RGB (H, W, 3). Received: shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype("float32") / 255.0
    return np.clip(image.astype("float32"), 0.0, 1.0)


def _content_layer(model) -> str:
    """Name of the layer producing the model's "content" output."""
    # The producing layer, also after a .keras reload (`layer.output` would be its
    # first call, inside the VGG19 that held the weights).
    return model.output["content"]._keras_history.operation.name


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
        verbose: 1 shows a progress bar (keras.utils.Progbar).
        model: A ready `style_transfer` model (else one is built).

    Returns:
        A `StylizeResult` (image, losses per step, initial and final losses,
        time, snapshot paths).
    """
    from zoo.runtime.images import save_png

    weights = resolve_weights(weights)  # first: offline without the file fails now
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"`every` must be an integer >= 1. Received: every={every!r}")
    if every is not None and snapshot_path is None:
        raise ValueError("`every` needs a `snapshot_path` to save the images to.")
    content = load_image(content, size) if isinstance(content, (str, os.PathLike)) else \
        resize_image(content, size)
    style = load_image(style, size) if isinstance(style, (str, os.PathLike)) else \
        resize_image(style, size)
    keras.utils.set_random_seed(seed)
    if model is None:
        model = style_transfer(pooling=pooling, weights=weights)
    transfer = StyleTransfer(model, content, style, content_weight, style_weight, tv_weight,
                             layer_weights, init=init, seed=seed)
    initial = {k: float(v) for k, v in transfer.losses().items()}
    bar = keras.utils.Progbar(steps, stateful_metrics=["loss", "content", "style", "tv"],
                              verbose=verbose) if verbose and steps else None
    snapshots: list[Path] = []

    def callback(step, losses):
        if step == 1:
            first_done[0] = time.perf_counter()
        if bar is not None:
            bar.update(step, [(k, losses[k]) for k in ("loss", "content", "style", "tv")])
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


# ----------------------------------------------------------------- export


def serving_model(model, output_name="style"):
    """uint8 image (B, H, W, 3) of any size -> style descriptor (B, sum_l C_l^2).

    Each style layer's Gram matrix, flattened and scaled to unit length, in
    the model's layer order: the dot product of two descriptors, over L, is
    the mean cosine similarity of their Gram matrices. (Unit length also
    keeps the values O(1), so the export's checks hold for any weights.)
    """
    image = keras.Input(shape=tuple(model.input_shape[1:]), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0, dtype="float32", name="cast")(image)
    features = model(x)
    parts = [
        keras.layers.UnitNormalization(axis=-1, name=f"unit_{key}")(
            keras.layers.Flatten(name=f"flat_{key}")(features[key]))
        for key in features if key.startswith("gram_")
    ]
    style = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="concat")(parts)
    style = keras.layers.Identity(name=output_name)(style)
    return keras.Model(image, style, name=f"{model.name}_serving")


def export_style_transfer(model, name: str = "style_transfer", sample=None, **kwargs):
    """Export `model` as a SavedModel whose `serving_default` maps a uint8 image
    to its style descriptor (`serving_model`), verified in a fresh process.
    `sample` defaults to the scikit-learn photos at 64 pixels."""
    from zoo.runtime.exporter import export

    if sample is None:
        sample = np.stack(sample_images(64))
    spec_args = {"content_layer": _content_layer(model),
                 "style_layers": [k[len("gram_"):] for k in model.output if k.startswith("gram_")]}
    metadata = {"model": "style_transfer", "family": "style_transfer", "task": "style_transfer",
                "reference": _PAPER, "builder_args": spec_args, **kwargs.pop("metadata", {})}
    return export(model, name, serving=serving_model(model), input_name="image",
                  output_name="style", sample=sample, metadata=metadata, **kwargs)
