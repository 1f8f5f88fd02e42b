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


def float32_outputs(model) -> list[str]:
    """Make the layers that produce `model`'s outputs compute in float32.

    Nested models are followed to the layer that produces their output. Returns the
    paths of the layers changed (none when the model already computes in float32).
    """
    changed: list[str] = []
    seen: set[int] = set()

    def visit(tensor):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return
        layer, node_index, tensor_index = history
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if hasattr(layer, "outputs") and getattr(layer, "_is_graph_network", True) \
                and isinstance(getattr(layer, "outputs", None), list):
            # A nested functional model: its own output layers decide its output dtype.
            for inner in layer.outputs:
                visit(inner)
            return
        if layer.compute_dtype != "float32":
            layer.dtype_policy = "float32"
            changed.append(layer.name)

    for output in getattr(model, "outputs", None) or []:
        visit(output)
    return changed
