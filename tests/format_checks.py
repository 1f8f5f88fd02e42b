"""The format harness's models and checks of one export (tests/test_models.py runs them
on every model, tests/test_export_formats.py on tables, benchmarks/serving.py measures
the same models)."""


# Why a numeric signature may not convert (docs/export-and-serving.md lists each case):
# the op each converter refuses. Anything else fails the harness.
UNCONVERTIBLE_OPS = {
    "onnx": (),  # every numeric signature converts
    # LiteRT builtins: recurrent layers' TensorListReserve (dynamic shapes).
    "litert": ("TensorListReserve",),
}


def check_formats(result, unconvertible=UNCONVERTIBLE_OPS, onnx_required=True):
    """Every signature of the export is in each extra format, verified within the
    SavedModel's tolerance, or skipped for strings or a known op; ONNX carries at least
    one signature; one warm-up record per signature."""
    from tensorflow_serving.apis import prediction_log_pb2
    import tensorflow as tf

    from zoo.runtime.warmup import WARMUP_FILE

    signatures = result.manifest["signatures"]
    for fmt, ops in unconvertible.items():
        entry = result.manifest["formats"][fmt]
        assert set(entry["signatures"]) | set(entry["skipped"]) == set(signatures)
        for sig, figures in entry["signatures"].items():
            assert (result.path / figures["file"]).is_file()
            integer = "int" in next(iter(figures["outputs"].values()))["dtype"]
            assert figures["max_abs_diff"] <= (1 if integer else 1e-5), (fmt, sig)
        for sig, reason in entry["skipped"].items():
            assert reason.startswith(("takes strings", "returns strings")) or any(
                f"op {op}" in reason for op in ops), (fmt, sig, reason)
    if onnx_required:
        assert result.manifest["formats"]["onnx"]["signatures"]
    # Text in the graph: its vocabulary beside it, for clients of the numeric signatures.
    tokenises = any(next(iter(e["inputs"].values()))["dtype"] == "string"
                    for e in signatures.values()) and not result.manifest.get("columns")
    assert (result.path / "vocabulary.txt").is_file() == tokenises
    records = tf.data.TFRecordDataset(str(result.path / WARMUP_FILE)).as_numpy_iterator()
    assert [prediction_log_pb2.PredictionLog.FromString(r).predict_log.request.model_spec
            .signature_name for r in records] == list(signatures)


def model_at_test_size(spec):
    """(plan, model): `spec`'s model at its test size (the plan's builder arguments; its
    test arguments without a dataset), seeded, residual blocks starting as identities
    (`zero_last_residual_gamma`)."""
    import keras

    from zoo.runtime.plan import plan_data

    keras.utils.set_random_seed(0)
    plan = None if spec.test_dataset is None else plan_data(spec, spec.test_dataset,
                                                            overrides=spec.test_args)
    model = spec.builder(**(spec.test_args if plan is None else plan.builder_args))
    zero_last_residual_gamma(model)
    return plan, model


def zero_last_residual_gamma(model) -> int:
    """Set to zero the scale of each batch normalisation that ends a residual branch (the
    last input of an `Add`), so that every residual block starts as the identity, as
    timm (`zero_init_last`) and torchvision (`zero_init_residual`) initialise ResNets.
    Returns how many it set.

    With Keras' initial values instead, an untrained network's inference normalises
    nothing and every block adds to the signal: an untrained ResNet-110's softmax
    saturates at 1 - 6e-8, and float32 rounding alone puts ONNX 3.0e-5 and LiteRT
    (ResNet-101) 1.2e-5 from TensorFlow, beyond the 1e-5 check. (Batch statistics
    taken from a batch of digits instead leave channels of near-zero variance, divided
    by sqrt(1e-5): XLA then differed by 1.6e-3 in ResNet-152.)
    """
    import keras

    count = 0
    for layer in all_layers(model):
        if not isinstance(layer, keras.layers.Add):
            continue
        branch = layer.input[-1]._keras_history.operation
        if isinstance(branch, keras.layers.BatchNormalization):
            branch.gamma.assign(keras.ops.zeros_like(branch.gamma))
            count += 1
    return count


def all_layers(model):
    """Every layer of `model`, the layers of nested models included."""
    import keras

    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)
