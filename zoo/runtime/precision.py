"""Mixed precision for training: the Keras dtype policy, with float32 outputs and losses.

Under a mixed policy layers compute in bfloat16 (CPU, TPU) or float16 (GPU) and keep
their variables in float32 (Micikevicius et al. 2018, "Mixed Precision Training").
The layers that produce a model's outputs are switched back to float32, so
probabilities, reconstructions and the losses computed from them stay float32 (a
bfloat16 softmax has 8 bits of mantissa). The switch is a layer dtype policy, so it is
saved in the layer's config and survives `.keras` round trips and exports.
"""

from __future__ import annotations

import contextlib


def mixed_policy_name() -> str:
    """"mixed_float16" on GPU (tensor cores; Keras adds loss scaling), else "mixed_bfloat16"
    (TPU, and CPUs with AVX-512 BF16 / AMX)."""
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


@contextlib.contextmanager
def dtype_policy(name: str | None):
    """Set the global Keras dtype policy for the block (None: leave it), then restore it."""
    import keras

    if name is None:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def saved_policy(path) -> str | None:
    """The mixed policy a `.keras` file was saved under (None: float32 or not a .keras zip)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = archive.read("config.json").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    for name in ("mixed_bfloat16", "mixed_float16"):
        if f'"{name}"' in config:
            return name
    return None


def float32_outputs(model) -> list[str]:
    """Make the layers that produce `model`'s outputs compute in float32.

    The same for every functional model nested in it, inside its graph or held as an
    attribute (e.g. a GAN's discriminator, whose logits feed its losses). Returns the
    names of the layers changed (none when the model already computes in float32).
    """
    import keras

    changed: list[str] = []
    seen: set[int] = set()

    def visit(tensor):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return
        layer = history[0]
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, keras.Model) and isinstance(getattr(layer, "outputs", None), list):
            for inner in layer.outputs:  # a nested functional model: its own output layers
                visit(inner)
        elif layer.compute_dtype != "float32":
            layer.dtype_policy = "float32"
            changed.append(layer.name)

    # Every layer Keras tracks, attributes included (a Functional model's `layers` lists
    # only those of its own graph).
    nested = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.Model)]
    for m in [model, *nested]:
        for output in getattr(m, "outputs", None) or []:
            visit(output)
    return changed
