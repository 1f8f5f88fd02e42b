"""Sequence datasets, recurrent models and DA-RNN attention: behaviour checks."""

import re

import numpy as np
import pytest

import pipelines
import zoo
from pipelines import sequences
from zoo.models.darnn import darnn_attention


def test_adding_problem_has_two_marks_one_per_half_and_sums_them():
    for split in ("train", "validation", "test"):
        x, y = pipelines.load_arrays("adding_problem", split, length=20, examples=200)
        assert x.shape[1:] == (20, 2) and y.shape[1:] == (1,)
        assert x.dtype == np.float32 and y.dtype == np.float32
        values, marks = x[..., 0], x[..., 1]
        assert set(np.unique(marks)) == {0.0, 1.0}
        assert (marks[:, :10].sum(axis=1) == 1).all() and (marks[:, 10:].sum(axis=1) == 1).all()
        np.testing.assert_allclose(y[:, 0], (values * marks).sum(axis=1), rtol=1e-6)
        assert 0.0 <= values.min() and values.max() <= 1.0


def test_adding_problem_info_follows_the_length_option():
    info = pipelines.get_info("adding_problem", length=100, examples=100)
    assert info.feature_shape == (100, 2)
    assert info.splits == {"train": 70, "validation": 10, "test": 20}
    # The baseline the benchmark compares with: always predicting 1.0.
    _, y = pipelines.load_arrays("adding_problem", "train")
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


def test_temporal_order_classes_are_the_order_of_x_and_y():
    x, y = pipelines.load_arrays("temporal_order", "test", length=30, examples=100)
    symbols = x.argmax(axis=-1)  # (n, T) indices into TEMPORAL_ORDER_SYMBOLS
    relevant = [s[(s == 4) | (s == 5)] for s in symbols]  # X = 4, Y = 5
    assert all(len(r) == 2 for r in relevant)
    names = ["".join("XY"[i - 4] for i in r) for r in relevant]
    assert [sequences.TEMPORAL_ORDER_CLASSES[c] for c in y] == names
    assert (symbols[:, 0] == 6).all() and (symbols[:, -1] == 7).all()  # B ... E


def test_series_windows_split_by_time_and_never_straddle():
    steps, window = 100, 5
    t = np.arange(steps, dtype=float)
    splits = sequences.series_windows({"time": t, "y": 1000 + t}, target="y", window=window)
    # Split parts: steps [0, 70), [70, 80), [80, 100); the last column is the target's history.
    bounds = {"train": (0, 70), "validation": (70, 80), "test": (80, 100)}
    for split, (start, stop) in bounds.items():
        x, y = splits[split]
        assert len(x) == stop - start - window
        times = x[..., 0]  # (windows, T) time steps of each window
        assert times.min() == start and y.max() == 1000 + stop - 1  # target inside the part
        np.testing.assert_array_equal(np.diff(times, axis=1), 1.0)  # consecutive steps
        np.testing.assert_array_equal(y[:, 0], 1000 + times[:, -1] + 1)  # the next value
        np.testing.assert_array_equal(x[..., 1], 1000 + times)


def test_synthetic_series_scaling_comes_from_the_train_part_only():
    prep = pipelines.preprocessor("synthetic_series")
    layer = prep.get_layer("standardize")
    mean = np.asarray(layer.input_mean).reshape(-1)
    variance = np.asarray(layer.input_variance).reshape(-1)
    assert mean.shape == (sequences.SYNTHETIC_SERIES + 1,)  # one per series
    x_train, _ = pipelines.load_arrays("synthetic_series", "train")
    flat = x_train.reshape(-1, x_train.shape[-1])
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(variance, flat.var(axis=0), rtol=1e-5)
    # The raw train part (first 70% of the steps) gives nearly the same statistics.
    columns = sequences.synthetic_columns()
    names = [f"x{k + 1}" for k in range(sequences.SYNTHETIC_SERIES)] + ["y"]
    raw = np.stack([columns[n] for n in names], axis=1)
    np.testing.assert_allclose(mean, raw[:2800].mean(axis=0), atol=0.02)
    # Statistics over every split would differ: the test part is not used.
    everything = np.concatenate(
        [pipelines.load_arrays("synthetic_series", s)[0] for s in ("train", "validation", "test")]
    )
    assert not np.allclose(mean, everything.reshape(-1, everything.shape[-1]).mean(axis=0),
                           rtol=0, atol=1e-4)


def test_csv_series_dataset_scales_with_train_statistics(tmp_path):
    path = tmp_path / "series.csv"
    steps = 50
    t = np.arange(steps)
    level = np.where(t < 35, 1.0, 100.0)  # the validation and test parts sit far higher
    rows = [f"2024-01-{i % 28 + 1:02d},{level[i]},{i}" for i in t]
    path.write_text("date,load,temperature\n" + "\n".join(rows) + "\n")
    info = pipelines.get_info("csv_series", path=str(path), target="load", window=4)
    assert info.feature_shape == (4, 2)  # temperature, then the load's history
    assert info.splits == {"train": 31, "validation": 1, "test": 6}
    prep = pipelines.preprocessor("csv_series", path=str(path), target="load", window=4)
    mean = np.asarray(prep.get_layer("standardize").input_mean).reshape(-1)
    np.testing.assert_allclose(mean[1], 1.0)  # the load's train part is constant 1.0
    x, y = next(iter(pipelines.load("csv_series", "test", path=str(path), target="load",
                                    window=4, batch_size=None, preprocess=False)))
    assert x.shape == (4, 2) and float(y[0]) == 100.0


def test_window_longer_than_the_series_is_refused_with_the_values():
    series = {"x": np.zeros(30), "y": np.zeros(30)}
    with pytest.raises(ValueError, match=re.escape(
            "window T=40 is longer than the 30-step series: a window and the value after "
            "it need at least T + 1 steps.")):
        sequences.series_windows(series, target="y", window=40)
    with pytest.raises(ValueError, match=re.escape(
            "window T=5 is longer than the validation part of the 30-step series (3 steps)")):
        sequences.series_windows(series, target="y", window=5)


def test_unknown_target_column_lists_the_columns(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match=re.escape(
            "Unknown target column 'c'. Columns: 'a', 'b'.")):
        sequences.series_windows(path, target="c")
    with pytest.raises(ValueError, match=re.escape(
            "Dataset 'csv_series' needs the options `path` (a CSV file) and `target`")):
        pipelines.load_arrays("csv_series", "train", target="a")


def test_bad_cell_is_refused_with_the_value():
    with pytest.raises(ValueError, match=re.escape(
            "`cell` must be one of 'simple', 'lstm', 'gru'. Received: cell='transformer'")):
        zoo.build("rnn_regressor", cell="transformer")


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru"])
def test_stacked_bidirectional_cells_have_the_textbook_parameter_counts(cell):
    model = zoo.build("rnn_classifier", cell=cell, units=4, layers=2, bidirectional=True,
                      input_shape=(None, 8))
    gates = {"simple": 1, "lstm": 4, "gru": 3}[cell]
    biases = 2 if cell == "gru" else 1  # Keras' GRU (reset_after) keeps two bias vectors
    # Per direction: gates x (units x (inputs + units) + biases x units); both layers
    # read 8 inputs (8 features, then 2 directions x 4 units).
    per_direction = gates * (4 * (8 + 4) + biases * 4)
    assert model.count_params() == 2 * 2 * per_direction + (8 * 4 + 4)
    # Any length works with T=None.
    assert model(np.zeros((2, 13, 8), "float32")).shape == (2, 4)


def test_darnn_attention_is_a_distribution_over_series_and_over_steps():
    model = zoo.build("darnn", input_shape=(6, 5), encoder_units=8, decoder_units=8)
    x = np.random.default_rng(0).normal(size=(7, 6, 5)).astype("float32")
    input_attention, temporal_attention = darnn_attention(model, x)
    assert input_attention.shape == (7, 6, 4)  # (B, T, n): the 4 driving series
    assert temporal_attention.shape == (7, 6)  # (B, T)
    np.testing.assert_allclose(input_attention.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(temporal_attention.sum(axis=-1), 1.0, atol=1e-5)
    assert (input_attention > 0).all() and (temporal_attention > 0).all()
    assert len(model.outputs) == 1  # attention is not a training output


def test_darnn_attention_reads_a_reloaded_model(tmp_path):
    from zoo.runtime.run import load_model

    model = zoo.build("darnn", input_shape=(4, 3), encoder_units=4, decoder_units=4,
                      series_bias=True)
    x = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    bias = model.get_layer("darnn_encoder").b_series
    bias.assign([2.0, -1.0])  # a preference for the first series
    model.save(tmp_path / "darnn.keras")
    reloaded = load_model(tmp_path / "darnn.keras")
    for before, after in zip(darnn_attention(model, x), darnn_attention(reloaded, x)):
        np.testing.assert_allclose(before, after, atol=1e-6)
    assert (darnn_attention(reloaded, x)[0][..., 0] > 0.5).all()
    with pytest.raises(ValueError, match="must be a DA-RNN built by zoo.models.darnn.darnn"):
        darnn_attention(zoo.build("rnn_regressor", units=4), x)


def test_scale_target_standardizes_every_split_with_train_statistics():
    raw = {s: pipelines.load_arrays("synthetic_series", s, steps=400)[1] for s in ("train", "test")}
    info = pipelines.get_info("synthetic_series", steps=400, scale_target=True)
    assert pipelines.get_info("synthetic_series").target_mean is None  # off by default
    np.testing.assert_allclose(info.target_mean, [raw["train"].mean()], rtol=1e-6)
    np.testing.assert_allclose(info.target_std, [raw["train"].std()], rtol=1e-6)
    _, y_train = pipelines.load_arrays("synthetic_series", "train", steps=400, scale_target=True)
    _, y_test = pipelines.load_arrays("synthetic_series", "test", steps=400, scale_target=True)
    assert abs(y_train.mean()) < 1e-6 and abs(y_train.std() - 1.0) < 1e-5
    assert y_test.dtype == np.float32 and y_test.shape == raw["test"].shape
    np.testing.assert_allclose(info.target_mean[0] + info.target_std[0] * y_test, raw["test"],
                               atol=1e-5)
    with pytest.raises(ValueError, match=re.escape(
            "`scale_target` must be True or False. Received: scale_target='yes'")):
        pipelines.get_info("synthetic_series", scale_target="yes")


def test_a_scaled_target_trains_on_the_unit_scale_and_exports_original_units(tmp_path):
    import tensorflow as tf

    from zoo.runtime.exporter import export_trained

    # A load around 100 with a spread of about 35, driven by the temperature one step earlier.
    rng = np.random.default_rng(0)
    temperature = np.sin(np.arange(300) / 5.0) + rng.normal(0.0, 0.1, 300)
    load = 100.0 + 50.0 * np.roll(temperature, 1) + rng.normal(0.0, 5.0, 300)
    path = tmp_path / "load.csv"
    path.write_text("temperature,load\n" + "\n".join(f"{a},{b}" for a, b in zip(temperature, load)))
    options = {"path": str(path), "target": "load", "window": 8, "scale_target": True}
    result = zoo.train("rnn_regressor", "csv_series", epochs=2, overrides={"units": 8},
                       data_options=options, run_dir=tmp_path / "run", verbose=0)
    info = result.plan.info
    assert 90.0 < info.target_mean[0] < 110.0 and 20.0 < info.target_std[0] < 60.0
    # The loss is the MSE of standardized targets (about 1 at the start), not of the load
    # itself (a variance above 400).
    assert all(row["loss"] < 2.0 for row in result.history)
    export = export_trained(result.model, result.spec, result.plan,
                            base_dir=tmp_path / "exports", verify=False)
    assert export.manifest["target_scaling"] == {"mean": list(info.target_mean),
                                                 "std": list(info.target_std)}
    raw, _ = pipelines.load_arrays("csv_series", "test", **options)
    live = np.asarray(result.model(result.plan.preprocessor()(raw)))
    served = tf.saved_model.load(str(export.path)).signatures["serving_default"]
    predicted = served(features=tf.constant(raw))["prediction"].numpy()
    np.testing.assert_allclose(predicted, info.target_mean[0] + info.target_std[0] * live,
                               rtol=0, atol=1e-4)
