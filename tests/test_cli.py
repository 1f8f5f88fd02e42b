"""The `zoo` command: exit codes in a subprocess, as users run it; the longer
workflows in this process (`zoo_main`), to spare a TensorFlow start-up per call."""

import json

import numpy as np
import pytest


def test_zoo_list_shows_the_first_family(zoo_main):
    out = zoo_main("list").stdout
    for name in ("linear_regression", "logistic_regression", "softmax_regression",
                 "perceptron", "xor_mlp", "mlp", "lenet5"):
        assert f"\n{name} " in "\n" + out
    lines = zoo_main("list", "*regression").stdout.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == [
        "model", "linear_regression", "logistic_regression", "softmax_regression"]


def test_zoo_info_shows_shapes_and_search_space(zoo_main):
    out = zoo_main("info", "lenet5").stdout
    assert "(None, 32, 32, 1) -> (None, 10), 61,706 parameters" in out
    assert "activation: Choice" in out and "LeCun" in out


def test_unknown_model_exits_2_with_close_matches(zoo_cli):
    proc = zoo_cli("train", "lenet", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "zoo: error: Unknown model 'lenet'. Did you mean: lenet5?"


def test_bad_builder_argument_exits_2(zoo_main):
    proc = zoo_main("train", "mlp", "--set", "depht=3", check=False)
    assert proc.returncode == 2
    assert "mlp() got unexpected argument(s) depht. Did you mean: depth?" in proc.stderr


def test_missing_dataset_offline_fails_fast_with_manual_dir(zoo_cli, tmp_path):
    proc = zoo_cli("train", "lenet5", "--data", "mnist", "--data-dir", tmp_path / "tfds",
                   check=False, timeout=60)
    assert proc.returncode == 2
    assert f"manual_dir {tmp_path / 'tfds' / 'downloads' / 'manual'}" in proc.stderr
    assert "train-images-idx3-ubyte.gz" in proc.stderr


def test_train_export_predict_round_trip(zoo_main, tmp_path):
    out = zoo_main("train", "softmax_regression", "--epochs", "3", "--run-dir", "run").stdout
    assert "Run folder: run" in out
    out = zoo_main("export", "run").stdout
    assert "Exported " in out and "saved_models/softmax_regression/1" in out
    out = zoo_main("export", "run", "--checkpoint", "final").stdout
    assert "saved_models/softmax_regression/2" in out
    proc = zoo_main("export", "run", "--version", "1", check=False)
    assert proc.returncode == 2 and "already exists; exports are never overwritten" in proc.stderr
    sample = tmp_path / "x.npy"
    np.save(sample, np.zeros((2, 4), "float32"))
    out = zoo_main("predict", "saved_models/softmax_regression/1", sample).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[0] ")
    manifest = json.loads((tmp_path / "saved_models/softmax_regression/1/manifest.json").read_text())
    assert manifest["model"] == "softmax_regression"
    # A wrong shape names the expected one.
    np.save(tmp_path / "bad.npy", np.zeros((2, 5), "float32"))
    proc = zoo_main("predict", "saved_models/softmax_regression/1", tmp_path / "bad.npy", check=False)
    assert proc.returncode == 2
    assert "holds an array of shape (2, 5); the export expects (4,) or (batch, 4)" in proc.stderr


def test_predict_reads_an_image_file(zoo_main, tmp_path):
    from PIL import Image

    zoo_main("train", "lenet5", "--epochs", "2", "--run-dir", "run", "--export")
    image = np.zeros((40, 40), np.uint8)
    image[8:32, 18:22] = 255  # a "1"
    Image.fromarray(image).save(tmp_path / "one.png")
    out = zoo_main("predict", "saved_models/lenet5/1", tmp_path / "one.png", "--top", "2").stdout
    assert out.startswith("[0] ") and out.count(": ") == 2


def test_tune_writes_a_results_table(zoo_main, tmp_path):
    out = zoo_main("tune", "softmax_regression", "--tuner", "random", "--max-trials", "2",
                  "--epochs", "2").stdout
    assert "Best hyperparameters:" in out
    assert (tmp_path / "tuning_runs").is_dir()
