"""Export: TF Serving layout, versions, atomicity, manifest, predict."""

import json

import numpy as np
import pytest

import pipelines
import zoo
from zoo.runtime import exporter as export_module
from zoo.runtime.exporter import ExportError, export, export_trained, next_version
from zoo.runtime.plan import plan_data


@pytest.fixture(scope="module")
def lenet_digits():
    """A LeNet-5 trained briefly on digits, with its data plan."""
    import keras

    keras.utils.set_random_seed(0)
    spec = zoo.get_spec("lenet5")
    plan = plan_data(spec)
    model = spec.builder(**plan.builder_args)
    zoo.compile_model(model, spec)
    model.fit(plan.load("train", 64), epochs=2, verbose=0, shuffle=False)
    return spec, plan, model


def test_export_layout_manifest_and_versions(lenet_digits, tmp_path):
    spec, plan, model = lenet_digits
    first = export_trained(model, spec, plan, base_dir=tmp_path, metrics={"val_accuracy": 0.9})
    second = export_trained(model, spec, plan, base_dir=tmp_path, verify=False)
    assert (first.version, second.version) == (1, 2)
    assert next_version(tmp_path, "lenet5") == 3
    folder = tmp_path / "lenet5" / "1"
    assert (folder / "saved_model.pb").exists() and (folder / "variables").is_dir()
    assert (folder / "model.keras").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == "lenet5" and manifest["version"] == 1
    assert manifest["model"] == "lenet5"
    assert manifest["builder_args"]["input_shape"] == [32, 32, 1]
    assert manifest["inputs"] == {"image": {"shape": [None, 8, 8, 1], "dtype": "uint8"}}
    assert manifest["outputs"] == {"probabilities": {"shape": [None, 10], "dtype": "float32"}}
    assert manifest["preprocessing"] == ["rescale", "resize"]
    assert manifest["training_data"]["dataset"] == "digits"
    assert manifest["metrics"] == {"val_accuracy": 0.9}
    assert manifest["class_names"] == [str(i) for i in range(10)]
    assert manifest["tensorflow_version"] and manifest["keras_version"].startswith("3.")
    check = manifest["verification"]
    assert check["max_abs_diff"] <= 1e-5 and check["xla_max_abs_diff"] <= 1e-4
    assert 0.0 <= check["accuracy"] <= 1.0
    # Only version folders remain: no temporary folder is left behind.
    assert sorted(p.name for p in (tmp_path / "lenet5").iterdir()) == ["1", "2"]


def test_export_takes_raw_uint8_images_and_matches_the_pipeline(lenet_digits, tmp_path):
    import tensorflow as tf

    spec, plan, model = lenet_digits
    result = export_trained(model, spec, plan, base_dir=tmp_path, verify=False)
    raw, _ = pipelines.load_arrays("digits", "test")
    served = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    probs = served(image=tf.constant(raw[:16]))["probabilities"].numpy()
    x, _ = next(iter(plan.load("test", 16)))
    np.testing.assert_allclose(probs, np.asarray(model(x)), atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_an_existing_version_is_never_overwritten(lenet_digits, tmp_path):
    spec, plan, model = lenet_digits
    export_trained(model, spec, plan, base_dir=tmp_path, verify=False)
    marker = tmp_path / "lenet5" / "1" / "manifest.json"
    before = marker.read_text()
    with pytest.raises(FileExistsError) as info:
        export_trained(model, spec, plan, base_dir=tmp_path, version=1, verify=False)
    assert str(info.value) == (
        f"Export {tmp_path / 'lenet5' / '1'} already exists; exports are never overwritten. "
        "The next free version is 2."
    )
    assert marker.read_text() == before


def test_a_failed_verification_leaves_nothing_behind(lenet_digits, tmp_path, monkeypatch):
    spec, plan, model = lenet_digits

    def broken(*args, **kwargs):
        raise ExportError("The reloaded export differs from the live model: max abs difference 1 > 1e-05.")

    monkeypatch.setattr(export_module, "verify_export", broken)
    with pytest.raises(ExportError, match="differs from the live model"):
        export_trained(model, spec, plan, base_dir=tmp_path)
    assert list((tmp_path / "lenet5").iterdir()) == []


def test_static_batch_export_for_tpu(tmp_path):
    spec = zoo.get_spec("softmax_regression")
    plan = plan_data(spec)
    model = spec.builder(**plan.builder_args)
    result = export_trained(model, spec, plan, base_dir=tmp_path, static_batch=4)
    assert result.manifest["inputs"]["features"]["shape"] == [4, 4]
    assert result.manifest["verification"]["xla_max_abs_diff"] <= 1e-4


def test_export_rejects_bad_names_and_samples(tmp_path):
    model = zoo.build("linear_regression")
    with pytest.raises(ValueError, match=r"`name` must be a plain folder name: .* Received: name='\.\./x'"):
        export(model, "../x", base_dir=tmp_path)
    with pytest.raises(ValueError, match=r"`sample` must have shape \(batch, 1\)\. Received: shape \(2, 3\)"):
        export(model, "lin", base_dir=tmp_path, sample=np.zeros((2, 3)))


def test_keras_copy_reloads_in_safe_mode(lenet_digits, tmp_path):
    spec, plan, model = lenet_digits
    result = export_trained(model, spec, plan, base_dir=tmp_path, verify=False)
    serving = zoo.load_model(result.path / "model.keras")
    raw, _ = pipelines.load_arrays("digits", "test")
    x, _ = next(iter(plan.load("test", 8)))
    np.testing.assert_allclose(np.asarray(serving(raw[:8])), np.asarray(model(x)), atol=1e-6)


def test_zoo_export_is_the_export_function():
    import zoo.runtime.exporter

    assert zoo.export is zoo.runtime.exporter.export
    assert zoo.train is zoo.runtime.training.train
