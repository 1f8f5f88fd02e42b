"""Pipelines: shapes, dtypes, seeded determinism, TFDS offline behaviour."""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf

import pipelines
from pipelines import tfds_source


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_list_datasets_names_the_builtins():
    assert pipelines.list_datasets() == [
        "adding_problem", "blobs_4d3c", "csv_series", "digit_reversal", "digits", "gates",
        "iris", "linear_1d", "logistic_2d", "signals_1d", "synthetic_series", "temporal_order"]


@pytest.mark.parametrize("name, x_shape, x_dtype, y_shape, y_dtype", [
    ("digits", (8, 8, 1), tf.float32, (), tf.int32),
    ("iris", (4,), tf.float32, (), tf.int32),
    ("linear_1d", (1,), tf.float32, (1,), tf.float32),
    ("logistic_2d", (2,), tf.float32, (1,), tf.float32),
    ("gates", (2,), tf.float32, (1,), tf.float32),
    ("blobs_4d3c", (4,), tf.float32, (), tf.int32),
])
def test_builtin_shapes_and_dtypes(name, x_shape, x_dtype, y_shape, y_dtype):
    ds = pipelines.load(name, "train", batch_size=4)
    x_spec, y_spec = ds.element_spec
    assert tuple(x_spec.shape) == (None, *x_shape) and x_spec.dtype == x_dtype
    assert tuple(y_spec.shape) == (None, *y_shape) and y_spec.dtype == y_dtype
    info = pipelines.get_info(name)
    x, _ = _collect(pipelines.load(name, "train", batch_size=64))
    assert len(x) == info.splits["train"]


def test_builtin_sizes_match_their_definitions():
    assert pipelines.get_info("digits").splits == {"train": 1258, "validation": 180, "test": 359}
    assert sum(pipelines.get_info("linear_1d").splits.values()) == 200
    assert sum(pipelines.get_info("logistic_2d").splits.values()) == 200
    assert sum(pipelines.get_info("iris").splits.values()) == 150
    x, y = pipelines.load_arrays("linear_1d", "train")
    assert x.min() >= -4 and x.max() <= 4
    # y = x - 1 + N(0, 1): residuals have unit spread around the line.
    assert abs(np.std(y - (x - 1)) - 1.0) < 0.2


def test_logistic_2d_is_imbalanced_as_documented():
    ys = np.concatenate([pipelines.load_arrays("logistic_2d", s)[1] for s in ("train", "validation", "test")])
    positive = ys.mean()
    # x2 > x1 + 1 holds on 1/8 of the square: the positive class is rare.
    assert 0.05 < positive < 0.25
    assert "imbalanced" in pipelines.get_info("logistic_2d").description


def test_gates_truth_tables_and_bad_option():
    x, y = pipelines.load_arrays("gates", gate="xor")
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y[:, 0].tolist() == [0, 1, 1, 0]
    assert pipelines.load_arrays("gates", gate="nand")[1][:, 0].tolist() == [1, 1, 1, 0]
    with pytest.raises(ValueError, match=r"`gate` must be one of 'and', 'or', 'nand', 'xor'\. Received: gate='xnor'"):
        pipelines.load("gates", gate="xnor")
    with pytest.raises(pipelines.OptionError, match=r"Dataset 'gates' got unknown option\(s\) gat\. Accepted options: gate\."):
        pipelines.load("gates", gat="and")


def test_digits_is_normalized_in_the_graph_and_resized():
    x, y = _collect(pipelines.load("digits", "test", batch_size=50))
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    raw, labels = pipelines.load_arrays("digits", "test")
    assert raw.dtype == np.uint8 and raw.max() == 255
    np.testing.assert_allclose(x, raw / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    big = next(iter(pipelines.load("digits", "train", batch_size=8, image_size=(32, 32), channels=3)))[0]
    assert big.shape == (8, 32, 32, 3)


def test_standardization_uses_training_statistics():
    x, _ = _collect(pipelines.load("iris", "train", batch_size=200))
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-4)


def test_same_seed_same_order_other_seed_other_order():
    a = _collect(pipelines.load("digits", "train", batch_size=32, seed=1))[1]
    b = _collect(pipelines.load("digits", "train", batch_size=32, seed=1))[1]
    c = _collect(pipelines.load("digits", "train", batch_size=32, seed=2))[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Evaluation splits are not shuffled.
    t1 = _collect(pipelines.load("digits", "test", batch_size=32))[1]
    np.testing.assert_array_equal(t1, pipelines.load_arrays("digits", "test")[1])


def test_pipeline_order_is_cache_shuffle_batch_map_prefetch():
    ds = pipelines.load("digits", "train", batch_size=32)
    chain = []
    while ds is not None:
        chain.append(type(ds).__name__.strip("_").replace("Dataset", ""))
        ds = getattr(ds, "_input_dataset", None)
    assert chain[:5] == ["Prefetch", "ParallelMap", "Batch", "Shuffle", "Cache"]


def test_unknown_dataset_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnsit'.*Did you mean: mnist"):
        pipelines.load("mnsit")


def test_missing_tfds_dataset_fails_fast_offline_with_manual_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(pipelines.DatasetUnavailableError) as info:
        pipelines.load("mnist", data_dir=tmp_path)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert f"Dataset 'mnist' is not prepared in data_dir {tmp_path}." in message
    assert f"manual_dir {tmp_path / 'downloads' / 'manual'}" in message
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in message


def test_missing_tfds_dataset_fails_fast_when_the_network_is_unreachable(tmp_path, monkeypatch):
    """No offline flag: the real probe runs against an unreachable network."""
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.monotonic()
    with pytest.raises(pipelines.DatasetUnavailableError, match="unreachable: storage.googleapis.com"):
        pipelines.load("mnist", data_dir=tmp_path, manual_dir=tmp_path / "manual")
    assert time.monotonic() - start < 5


def test_probe_gives_up_on_a_hanging_lookup(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(3)  # outlives the probe's deadline
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert tfds_source.hosts_reachable(["example.invalid"], timeout=0.5) is False
    assert time.monotonic() - start < 2


def test_tiny_shakespeare_prepares_offline_from_manual_dir(tmp_path, shakespeare_dir):
    start = time.monotonic()
    ds = pipelines.load("tiny_shakespeare", "train", batch_size=None, shuffle=False,
                        seq_len=14, data_dir=tmp_path, manual_dir=shakespeare_dir)
    x, y = next(iter(ds))
    assert time.monotonic() - start < 60
    info = pipelines.get_info("tiny_shakespeare", data_dir=tmp_path)
    assert info.task == "language_model" and info.source == "text"
    assert info.num_classes == 66  # 65 characters + [UNK]
    tokens = np.array(info.class_names)
    assert "".join(tokens[x.numpy()]) == "First Citizen:"
    assert "".join(tokens[y.numpy()]) == "irst Citizen:\n"


def test_tfds_image_dataset_through_mock_data(monkeypatch):
    import tensorflow_datasets as tfds

    # mock_data replaces the data, not the prepared-on-disk check: say prepared.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=20):
        info = pipelines.get_info("mnist")
        assert info.feature_shape == (28, 28, 1) and info.num_classes == 10
        ds = pipelines.load("mnist", "train", batch_size=5, image_size=(32, 32), channels=3)
        x, y = next(iter(ds))
    assert x.shape == (5, 32, 32, 3) and x.dtype == tf.float32
    assert float(tf.reduce_max(x)) <= 1.0
    assert y.shape == (5,)


def test_augmentation_is_seeded_and_applies_to_training_splits_only():
    def first(split, **kw):
        return next(iter(pipelines.load("digits", split, batch_size=16, image_size=(32, 32), **kw)))[0].numpy()

    a = first("train", augment=("shift",), seed=3)
    b = first("train", augment=("shift",), seed=3)
    plain = first("train", seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - plain).max() > 0.1
    np.testing.assert_array_equal(first("test", augment="shift"), first("test"))
    with pytest.raises(ValueError, match=r"Unknown augmentation\(s\) 'rotate'\. Expected any of: 'shift', 'crop', 'flip'\."):
        pipelines.load("digits", augment=("rotate",))
    with pytest.raises(ValueError, match="Augmentation applies to image datasets; 'iris' is not one."):
        pipelines.load("iris", augment="flip")


def _no_network_prefix():
    """`unshare` into a network namespace without interfaces, if permitted."""
    import shutil
    import subprocess

    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


def test_offline_failure_is_fast_in_a_namespace_without_network(tmp_path):
    """The real probe, no patching, no ZOO_OFFLINE: the process has no network at all."""
    import subprocess
    import sys

    prefix = _no_network_prefix()
    if prefix is None:
        pytest.skip("needs `unshare -n` (root or user namespaces) for a process without network")
    script = (
        # Imports first: the probe is timed, not TensorFlow's import on a busy machine.
        "import time, pipelines, tensorflow, tensorflow_datasets\n"
        "start = time.monotonic()\n"
        "try:\n"
        f"    pipelines.load('mnist', data_dir={str(tmp_path)!r})\n"
        "except pipelines.DatasetUnavailableError as e:\n"
        "    print('SECONDS', time.monotonic() - start)\n"
        "    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ZOO_OFFLINE"}
    proc = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=120, env=env)
    assert "SECONDS" in proc.stdout, proc.stderr[-2000:]
    seconds = float(proc.stdout.split("SECONDS ")[1].split()[0])
    assert seconds < 5
    assert "unreachable: storage.googleapis.com" in proc.stdout
    assert f"manual_dir {tmp_path / 'downloads' / 'manual'}" in proc.stdout


def test_crop_augmentation_pads_then_crops_back_to_size():
    ds = pipelines.load("digits", "train", batch_size=16, image_size=(32, 32), augment=("crop", "flip"), seed=5)
    x = next(iter(ds))[0].numpy()
    plain = next(iter(pipelines.load("digits", "train", batch_size=16, image_size=(32, 32), seed=5)))[0].numpy()
    assert x.shape == plain.shape == (16, 32, 32, 1)
    assert not np.array_equal(x, plain)
    again = next(iter(pipelines.load("digits", "train", batch_size=16, image_size=(32, 32), augment=("crop", "flip"), seed=5)))[0].numpy()
    np.testing.assert_array_equal(x, again)
    # Cropping moves pixels but adds none: every augmented value is a zero or an original one.
    assert set(np.unique(x)) <= set(np.unique(plain)) | {0.0}
