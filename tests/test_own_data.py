"""Your own data (issue 14): arrays, DataFrames, CSV/Parquet, .npz, tf.data, image and text
folders through train, search and export, on scikit-learn's real datasets, and every bad
input refused with a message naming the file, column or row."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import pipelines
from pipelines import DataError



def _tf_call(export_dir, inputs: dict, signatures=("serving_default",)) -> dict:
    """Call signatures in one fresh process importing TensorFlow only (as TF Serving
    would): `inputs` is a JSON-like dict of lists, by input name. Returns
    {signature: {output: list}}."""
    code = (
        "import json, sys, tensorflow as tf\n"
        "loaded = tf.saved_model.load(sys.argv[1])\n"
        "result = {}\n"
        "for name in json.loads(sys.argv[3]):\n"
        "    f = loaded.signatures[name]\n"
        "    spec = f.structured_input_signature[1]\n"
        "    inputs = {k: tf.constant(v, spec[k].dtype) for k, v in json.loads(sys.argv[2]).items()}\n"
        "    out = {k: v.numpy().tolist() for k, v in f(**inputs).items()}\n"
        "    result[name] = {k: [x.decode() if isinstance(x, bytes) else x for x in v] "
        "for k, v in out.items()}\n"
        "print(json.dumps(result))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(export_dir), json.dumps(inputs),
                          json.dumps(list(signatures))],
                         capture_output=True, text=True, timeout=300,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _wine_frame():
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    # A string column, so the table has both kinds of column.
    frame["colour"] = np.where(frame["color_intensity"] > 5, "deep", "pale")
    return frame


# --- tables ---

def _cancer_frame():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


# Each real table, as a DataFrame and as a CSV file, through train -> search (2 trials)
# -> export from its run folder -> a plain-TF call with a JSON-like row dict. Wine has a
# string column too; breast cancer has column names with spaces.
# Its held-out rows: every 10th row of each class (the exact counts are pinned).
TABLES = {"wine": (_wine_frame, {"epochs": 15, "learning_rate": 3e-3}, 0.85, [0, 100, 170],
                   {"train": 159, "validation": 19}),
          "breast_cancer": (_cancer_frame, {"epochs": 5}, 0.9, [0, 19, 300],
                            {"train": 512, "validation": 57})}


# The default suite runs each table once and each form once; the slow suite the other pair.
TABLE_FORMS = [("breast_cancer", "dataframe"), ("wine", "csv"),
               pytest.param("breast_cancer", "csv", marks=pytest.mark.slow),
               pytest.param("wine", "dataframe", marks=pytest.mark.slow)]


@pytest.mark.parametrize("table, form", TABLE_FORMS)
def test_real_tables_train_search_export_and_serve_a_json_row(table, form, tmp_path):
    import pandas as pd
    import tuning
    import zoo
    from pipelines.tables import input_name

    make_frame, fit, min_accuracy, picked, splits = TABLES[table]
    frame = make_frame()
    data = frame
    if form == "csv":
        data = str(tmp_path / f"{table}.csv")
        frame.to_csv(data, index=False)
    options = {"target": "target"}
    classes = sorted(str(c) for c in frame["target"].unique())
    info = pipelines.get_info(pipelines.dataset_name(data), **options)
    assert info.task == "classification" and list(info.class_names) == classes
    assert info.splits == splits
    result = zoo.train("mlp", data, data_options=options, runs_root=tmp_path / "runs",
                       verbose=0, **fit)
    assert result.history[-1]["val_accuracy"] >= min_accuracy
    assert result.history[-1]["loss"] < result.history[0]["loss"]

    search = tuning.search("mlp", data, tuner="random", max_trials=2, epochs=1,
                           data_options=options, directory=tmp_path / "tune", verbose=0)
    assert [r["status"] for r in search.rows] == ["COMPLETED", "COMPLETED"]

    if form == "dataframe":  # Python data is given again to export from its run folder
        with pytest.raises(ValueError, match=r"^The data given is 'table-[0-9a-f]{12}', but "
                                             r".* was trained on 'table-[0-9a-f]{12}'\. Give "
                                             r"the same data \(the same content\), or none\.$"):
            zoo.export_run(result.run_dir, table, data=frame.iloc[:100],
                           base_dir=tmp_path / "saved")
    exported = zoo.export_run(result.run_dir, table, base_dir=tmp_path / "saved",
                              data=frame.copy() if form == "dataframe" else None)
    manifest = exported.manifest
    features = [c for c in frame.columns if c != "target"]
    assert sorted(manifest["inputs"]) == sorted(input_name(c) for c in features)
    for column in features:
        dtype = "float32" if pd.api.types.is_numeric_dtype(frame[column]) else "string"
        assert manifest["inputs"][input_name(column)] == {"shape": [None], "dtype": dtype}
    assert manifest["class_names"] == classes
    assert manifest["verification"]["max_abs_diff"] <= 1e-5

    rows = frame.drop(columns="target").iloc[picked].to_dict("records")  # JSON rows
    request = {input_name(k): [row[k] for row in rows] for k in rows[0]}
    served = _tf_call(exported.path, request, ("serving_default", "classify"))
    probabilities = np.array(served["serving_default"]["probabilities"])
    assert probabilities.shape == (3, len(classes))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    truth = [str(frame["target"].iloc[i]) for i in picked]
    assert served["classify"]["class_name"] == truth
    assert [classes[i] for i in probabilities.argmax(axis=1)] == truth
    np.testing.assert_allclose(served["classify"]["probabilities"], probabilities, atol=1e-6)
    if table == "wine":
        assert ("colour", "string") in info.columns


def test_breast_cancer_dataframe_and_parquet_agree(tmp_path):
    frame = _cancer_frame()
    name = pipelines.dataset_name(frame)
    assert name == pipelines.dataset_name(frame.copy())  # the same content, the same name
    parquet = tmp_path / "cancer.parquet"
    frame.to_parquet(parquet)
    infos = [pipelines.get_info(d, target="target") for d in (name, str(parquet))]
    assert infos[0].splits == infos[1].splits == {"train": 512, "validation": 57}
    assert infos[0].feature_shape == infos[1].feature_shape == (30,)
    batches = [next(iter(pipelines.load(d, "validation", batch_size=57, target="target")))
               for d in (name, str(parquet))]
    np.testing.assert_allclose(batches[0][0], batches[1][0], atol=1e-5)
    np.testing.assert_array_equal(batches[0][1], batches[1][1])
    # Normalised with the training rows' statistics: near zero mean, unit variance there.
    train = next(iter(pipelines.load(name, "train", batch_size=1000, target="target")))[0]
    assert np.abs(np.mean(train, axis=0)).max() < 1e-4
    assert np.abs(np.std(train, axis=0) - 1).max() < 1e-3


def test_diabetes_regression_from_arrays_lowers_the_error(tmp_path):
    import zoo
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    info = pipelines.get_info(pipelines.dataset_name((x, y)))
    assert (info.task, info.target_shape, info.splits) == (
        "regression", (1,), {"train": 398, "validation": 44})
    result = zoo.train("linear_regression", (x, y / 100.0), epochs=8, verbose=0,
                       runs_root=tmp_path)
    assert result.history[-1]["val_loss"] < 0.7 * result.history[0]["val_loss"]


def test_numpy_arrays_and_tf_data_through_a_search(tmp_path):
    import tensorflow as tf
    import tuning
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    dataset = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y)).batch(16)
    for data in ((x, names), dataset):
        result = tuning.search("mlp", data, tuner="random", max_trials=2, epochs=2,
                               directory=tmp_path / "tune", verbose=0)
        assert len(result.rows) == 2 and all(r["status"] == "COMPLETED" for r in result.rows)
    info = pipelines.get_info(pipelines.dataset_name((x, names)))
    assert info.class_names == ("setosa", "versicolor", "virginica")
    assert info.splits == {"train": 135, "validation": 15}
    # Stratified: 5 of each class held out.
    _, y_val = pipelines.load_arrays(pipelines.dataset_name((x, names)), "validation")
    assert np.bincount(y_val).tolist() == [5, 5, 5]
    tf_name = pipelines.dataset_name(dataset)
    tf_info = pipelines.get_info(tf_name)
    assert tf_info.feature_shape == (4,) and tf_info.num_classes == 3
    held = np.concatenate([y for _, y in pipelines.load(tf_name, "validation", batch_size=64)])
    assert tf_info.splits == {"train": 150 - len(held), "validation": len(held)}
    assert np.bincount(held).tolist() == [5, 5, 5]  # every 10th of each class
    with pytest.raises(ValueError, match=re.escape(
            f"Dataset {tf_name!r} has no split 'test'. Available: train, validation.")):
        pipelines.load(tf_name, "test")


def test_a_dict_of_splits_keeps_its_test_split_and_npz_files_read_the_same(tmp_path):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    splits = {"train": (x[:100], y[:100]), "validation": (x[100:120], y[100:120]),
              "test": (x[120:], y[120:])}
    info = pipelines.get_info(pipelines.dataset_name(splits))
    assert info.splits == {"train": 100, "validation": 20, "test": 30}
    path = tmp_path / "iris.npz"
    np.savez(path, x_train=x[:100], y_train=y[:100], x_val=x[100:120], y_val=y[100:120],
             x_test=x[120:], y_test=y[120:])
    assert pipelines.get_info(str(path)).splits == info.splits
    np.testing.assert_array_equal(pipelines.load_arrays(str(path), "test")[1], y[120:])


# --- folders ---

def _digits_folder(root, per_class=None):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * 255 / 16).astype(np.uint8)
    for i, (image, label) in enumerate(zip(images, digits.target)):
        if per_class is not None and i >= per_class * 10:
            break
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    return images, digits.target


def test_a_png_folder_trains_exports_and_predicts_a_png(tmp_path):
    import zoo
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.predict import predict_file

    images, labels = _digits_folder(tmp_path / "digits")
    info = pipelines.get_info(str(tmp_path / "digits"))
    assert (info.source, info.feature_shape, info.num_classes) == ("image_folder", (8, 8, 1), 10)
    assert info.class_names == tuple(str(i) for i in range(10))
    result = zoo.train("mlp", str(tmp_path / "digits"), epochs=4, verbose=0,
                       runs_root=tmp_path / "runs")
    assert result.history[-1]["val_accuracy"] > 0.85
    exported = export_trained(result.model, result.spec, result.plan, "digits_png",
                              base_dir=tmp_path / "saved")
    assert exported.manifest["inputs"]["image"] == {"shape": [None, 8, 8, 1], "dtype": "uint8"}
    lines = list(predict_file(exported.path, tmp_path / "digits" / "3" / "3.png", top=1))
    assert re.search(r"\b3\b", lines[-1]), lines


def test_a_text_folder_trains_a_classifier_that_serves_strings(tmp_path):
    import zoo
    from zoo.runtime.exporter import export_trained

    words = {"sport": "goal match team score league player win", "food": "bread cheese soup "
             "salad pasta bake taste"}
    rng = np.random.default_rng(0)
    for label, vocabulary in words.items():
        folder = tmp_path / "texts" / label
        folder.mkdir(parents=True)
        for i in range(40):
            text = " ".join(rng.choice(vocabulary.split(), size=8))
            (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    info = pipelines.get_info(str(tmp_path / "texts"), seq_len=12)
    assert (info.source, info.class_names, info.feature_shape) == (
        "text_folder", ("food", "sport"), (12,))
    result = zoo.train("rnn_classifier", str(tmp_path / "texts"), epochs=6, verbose=0,
                       data_options={"seq_len": 12}, runs_root=tmp_path / "runs",
                       learning_rate=1e-2)
    assert result.history[-1]["val_accuracy"] == 1.0
    exported = export_trained(result.model, result.spec, result.plan, "texts",
                              base_dir=tmp_path / "saved")
    served = np.array(_tf_call(exported.path, {"text": [
        "bread cheese soup salad pasta bake taste soup", "goal match team score league "
        "player win goal"]})["serving_default"]["probabilities"])
    assert served.argmax(axis=1).tolist() == [0, 1]


# --- bad input: a clear error, naming what is wrong ---

def _error(data, **options):
    with pytest.raises((DataError, ValueError, FileNotFoundError)) as caught:
        pipelines.get_info(pipelines.dataset_name(data), **options)
    return str(caught.value)


def test_bad_arrays_are_refused_naming_the_row():
    x = np.arange(12, dtype=float).reshape(6, 2)
    assert _error((x, np.arange(5))) == ("arrays, split 'train': x has 6 rows but y has 5; "
                                         "they must have one row per example each.")
    bad = x.copy()
    bad[3, 1] = np.nan
    assert _error((bad, np.arange(6) % 2)) == (
        "arrays, split 'train': feature row 3, position (1,) is nan. Remove or fill missing "
        "and infinite values first.")
    assert _error((x, np.array([0.5, np.inf, 1, 2, 3, 4]))) == (
        "arrays, split 'train': target row 1 is inf. Remove or fill missing and infinite "
        "values first.")
    assert _error((x, np.zeros(6, int))) == (
        "arrays, split 'train': every label is 0; a classifier needs at least two classes.")
    assert _error((x, np.array(["a", 1, "b", 2, "a", 1], dtype=object))) == (
        "arrays, split 'train': labels of mixed types (int, str). Use one type: all strings, "
        "all integers or all floats.")
    assert _error({"train": (x, np.arange(6) % 2), "holdout": (x, np.arange(6) % 2)}) == (
        "A dict of splits takes the keys 'train', 'validation', 'test'. Received unknown "
        "key(s): 'holdout'.")
    with pytest.raises(DataError, match=r"^Data must be a dataset name or path, numpy arrays "):
        pipelines.dataset_name(42)


def test_bad_tables_are_refused_naming_the_column_and_row(tmp_path):
    frame = _wine_frame()
    assert _error(frame, target="class") == (
        f"the DataFrame: no column 'class'. Columns: {', '.join(frame.columns)}.")
    missing = frame.copy()
    missing.loc[7, "hue"] = np.nan
    assert _error(missing, target="target") == (
        "the DataFrame: column 'hue', row 7, is nan. Remove or fill missing and infinite "
        "values first.")
    objects = frame.copy()
    objects["colour"] = [{"c": 1}] * len(frame)
    assert _error(objects, target="target") == (
        "the DataFrame: column 'colour' holds dict values (row 0: {'c': 1}), which are "
        "neither strings nor numbers. Convert the column to strings or numbers first.")
    csv = tmp_path / "wine.csv"
    frame.to_csv(csv, index=False)
    assert _error(str(csv)) == (
        f"{csv}: a table needs its target column: target=NAME (--target NAME). Columns: "
        f"{', '.join(frame.columns)}.")
    assert _error(str(tmp_path / "none.csv"), target="t") == f"{tmp_path / 'none.csv'} does not exist."


def test_bad_folders_are_refused_naming_the_file(tmp_path):
    _digits_folder(tmp_path / "digits", per_class=3)
    (tmp_path / "digits" / "4" / "broken.png").write_bytes(b"not an image")
    message = _error(str(tmp_path / "digits"))
    assert message.startswith(f"{tmp_path / 'digits' / '4' / 'broken.png'} is not a readable "
                              "image (")
    (tmp_path / "nothing").mkdir()
    assert _error(str(tmp_path / "nothing")) == (
        f"{tmp_path / 'nothing'} holds no class folders; put each class's files in a "
        "subfolder named after the class.")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "b").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "x.png").write_bytes(b"")
    assert _error(str(tmp_path / "empty")) == (
        f"Class folder {tmp_path / 'empty' / 'b'} holds no .png or .jpg or .jpeg or .bmp or "
        ".gif files.")
    texts = tmp_path / "texts"
    for label in ("a", "b"):
        (texts / label).mkdir(parents=True)
        (texts / label / "1.txt").write_text("fine text", encoding="utf-8")
    (texts / "b" / "2.txt").write_bytes(b"caf\xe9")
    assert _error(str(texts)) == (f"{texts / 'b' / '2.txt'} is not UTF-8 text (byte 0xe9 at "
                                  "offset 3). Convert it to UTF-8.")


def test_mixed_image_sizes_are_resized_to_the_most_common(tmp_path):
    from PIL import Image

    for label, sizes in (("a", [(8, 6)] * 3), ("b", [(8, 6), (16, 12)])):
        (tmp_path / label).mkdir()
        for i, size in enumerate(sizes):
            Image.new("RGB", size, (200, 10, 10)).save(tmp_path / label / f"{i}.png")
    info = pipelines.get_info(str(tmp_path))
    assert info.feature_shape == (6, 8, 3)  # (height, width, channels) of 4 of the 5
    x, _ = next(iter(pipelines.load(str(tmp_path), "train", batch_size=8, preprocess=False)))
    assert x.shape[1:] == (6, 8, 3) and x.dtype.name == "uint8"


def test_a_run_of_python_arrays_in_another_process_asks_for_the_data_again():
    from pipelines.own import unknown_memory_name

    assert str(unknown_memory_name("arrays-0123456789ab")) == (
        "Dataset 'arrays-0123456789ab' was given as Python objects to another process: the "
        "data itself is not saved with the run. Pass the same data again (e.g. `data=(x, y)`), "
        "or save it as a file (.npz, .csv, .parquet, a folder) and give its path.")
    with pytest.raises(DataError, match=r"^Dataset 'arrays-0123456789ab' was given as Python"):
        pipelines.get_info("arrays-0123456789ab")


# --- the experiment loop on own data ---

def test_a_csv_run_resumes_after_sigkill_and_refuses_changed_data(tmp_path):
    import subprocess

    from conftest import sigkill_after_epochs, zoo_env
    from zoo.runtime.run import read_history

    frame = _wine_frame()
    csv = tmp_path / "wine.csv"
    frame.to_csv(csv, index=False)
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "zoo.cli", "train", "mlp", "--data", str(csv), "--target",
           "target", "--epochs", "40", "--batch-size", "4", "--run-dir", str(run_dir)]
    env = zoo_env()
    seen = sigkill_after_epochs(cmd, run_dir, 3, cwd=tmp_path, env=env, timeout=120)
    assert seen >= 3
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert int(rerun.stdout.split("resuming after epoch ")[1].split(")")[0]) >= seen
    assert [r["epoch"] for r in read_history(run_dir / "history.csv")] == list(range(40))
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert settings["data"]["classes"] == ["0", "1", "2"]
    assert ["colour", "string"] in settings["data"]["columns"]
    # The same file name holding other columns is other data: refused in this run folder.
    frame.drop(columns="colour").to_csv(csv, index=False)
    changed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert changed.returncode != 0
    assert "holds a run with other settings (differs in: builder_args, data)" in changed.stderr


def test_evaluate_and_predict_rows_of_a_table_run(tmp_path):
    import zoo
    from zoo.runtime.exporter import export_trained
    from zoo.runtime.predict import predict_file

    frame = _wine_frame()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frame))
    splits = {"train": frame.iloc[order[:120]], "validation": frame.iloc[order[120:148]],
              "test": frame.iloc[order[148:]]}
    result = zoo.train("mlp", splits, epochs=15, learning_rate=3e-3, verbose=0,
                       data_options={"target": "target"}, runs_root=tmp_path / "runs")
    report = zoo.evaluate(result.run_dir, split="test", out=tmp_path / "eval").report
    evaluated = result.model.evaluate(result.plan.load("test", 64), verbose=0,
                                      return_dict=True)
    assert report["examples"] == 30
    assert abs(report["metrics"]["accuracy"] - evaluated["accuracy"]) < 1e-6
    assert np.sum(report["figures"]["confusion_matrix"]) == 30
    assert (tmp_path / "eval" / "confusion_matrix.png").stat().st_size > 1000
    # Other data with other columns is refused, naming the difference.
    other = {k: v.drop(columns="colour") for k, v in splits.items()}
    with pytest.raises(ValueError, match=r"has features of shape \(13,\); the model was "
                                         r"trained on 'table-[0-9a-f]{12}', with features of "
                                         r"shape \(16,\)\.$"):
        zoo.evaluate(result.run_dir, split="test", data=other, out=tmp_path / "eval2")
    exported = export_trained(result.model, result.spec, result.plan, "wine_rows",
                              base_dir=tmp_path / "saved")
    rows = tmp_path / "rows.csv"
    splits["test"].iloc[:3].to_csv(rows, index=False)  # the target column is ignored
    lines = list(predict_file(exported.path, rows, top=1))
    assert len(lines) == 3 and all(re.fullmatch(r"\[\d\] [012]: \d\.\d{4}", ln) for ln in lines)
    bad = splits["test"].iloc[:3].copy()
    bad["hue"] = ["0.5", "high", "0.7"]
    bad.to_csv(rows, index=False)
    with pytest.raises(ValueError, match=re.escape(f"{rows}: column 'hue', row 1, is 'high'; "
                                                   "the export takes finite numbers there.")):
        list(predict_file(exported.path, rows))
