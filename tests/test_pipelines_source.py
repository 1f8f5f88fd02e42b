"""Issue 13, pipelines: one `resolve` step decides a dataset's source kind, recorded as
`DatasetInfo.source`; no import cycles inside pipelines; `zoo datasets` without TensorFlow."""

import itertools
import json
import subprocess
import sys

import grimp
import numpy as np
import pytest

import pipelines
from pipelines import sources, tfds_source
from pipelines.builtin import ArrayDataset, ArraySource

from conftest import REPO_ROOT, zoo_env


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    return str(path)


def test_resolve_decides_each_kind_once(corpus):
    kinds = {
        ("digits", ()): "builtin",
        ("csv_series", ()): "csv_series",
        (corpus, ()): "text",
        (corpus, (("pairs", "cbow"),)): "word_pairs",
        ("lm1b", ()): "text",  # TFDS text alone: supervised keys ('text', 'text')
        ("tiny_shakespeare", (("pairs", "skipgram"),)): "word_pairs",
        ("imdb_reviews", ()): "labelled_text",
        ("imdb_reviews", (("corpus", True),)): "text",  # read for its text only
        ("mnist", ()): "tfds",
    }
    for (name, options), kind in kinds.items():
        assert pipelines.resolve(name, **dict(options)).kind == kind, (name, options)


def test_info_source_is_the_resolved_kind(corpus):
    for name in pipelines.list_datasets():
        assert pipelines.get_info(name).source == pipelines.resolve(name).kind, name
    assert pipelines.get_info(corpus, seq_len=4).source == "text"
    assert pipelines.get_info(corpus, pairs="skipgram").source == "word_pairs"
    assert pipelines.get_info("mnist").source == "tfds"


def test_the_tfds_catalog_is_asked_once_per_name(monkeypatch):
    import tensorflow_datasets as tfds

    calls = []
    real_builder = tfds.builder
    monkeypatch.setattr(tfds, "builder", lambda name, **kw: calls.append(name) or real_builder(
        name, **kw))
    tfds_source._catalog_kind.cache_clear()
    for options in ({}, {"seq_len": 5}, {"level": "word"}):
        assert pipelines.resolve("lm1b", **options).kind == "text"
    assert pipelines.resolve("imdb_reviews").kind == "labelled_text"
    assert calls == ["lm1b", "imdb_reviews"]


def test_unknown_name_is_one_error_naming_close_names():
    with pytest.raises(pipelines.UnknownDatasetError) as raised:
        pipelines.resolve("csv_serie")
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith(
        "Unknown dataset 'csv_serie': not built in and not in the TFDS catalog. "
        "Did you mean: csv_series")
    assert str(raised.value).endswith("? See pipelines.list_datasets().")


def test_in_memory_sources_are_the_array_ones(tmp_path):
    assert [s.kind for s in sources.SOURCES if s.in_memory] == ["builtin", "csv_series", "arrays"]
    assert pipelines.get_source("builtin").in_memory and not pipelines.get_source("tfds").in_memory
    with pytest.raises(ValueError, match=r"^Unknown source kind 'folder'\. Expected one of: "
                                         r"'builtin', 'csv_series', 'arrays', 'table', "
                                         r"'tf_data', 'image_folder', 'text_folder', "
                                         r"'word_pairs', 'text', "
                                         r"'labelled_text', 'tfds'\.$"):
        pipelines.get_source("folder")
    path = tmp_path / "series.csv"
    path.write_text("a,b\n" + "".join(f"{i},{2 * i}\n" for i in range(60)))
    x, y = pipelines.load_arrays("csv_series", "test", path=str(path), target="b", window=3)
    assert x.shape == (9, 3, 2) and y.shape == (9, 1)
    info = pipelines.get_info("csv_series", path=str(path), target="b", window=3)
    assert (info.source, info.feature_shape, info.splits["test"]) == ("csv_series", (3, 2), 9)


def test_a_new_kind_is_one_source_in_the_list(monkeypatch):
    """What issue 14 does: a Source added to SOURCES is resolved, described, loaded,
    listed and read as arrays with no other change."""
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = x.sum(axis=1, keepdims=True)
    toy = ArrayDataset(
        pipelines.DatasetInfo(name="toy", task="regression", feature_shape=(2,),
                              feature_dtype="float32", target_shape=(1,),
                              splits={"train": 10}, source="toy"),
        lambda: {"train": (x, y)}, {})
    monkeypatch.setattr(sources, "SOURCES", (ArraySource("toy", {"toy": toy}),
                                             *sources.SOURCES))
    assert pipelines.resolve("toy").kind == "toy" and "toy" in pipelines.list_datasets()
    assert pipelines.get_info("toy").source == "toy"
    features, targets = next(iter(pipelines.load("toy", batch_size=10, shuffle=False)))
    np.testing.assert_array_equal(features.numpy(), x)
    np.testing.assert_array_equal(pipelines.load_arrays("toy")[1], y)


def test_no_import_cycles_inside_pipelines_and_nothing_from_zoo_or_tuning():
    graph = grimp.build_graph("pipelines", include_external_packages=True, cache_dir=None)
    modules = sorted(m for m in graph.modules if m.startswith("pipelines"))
    cycles = [(a, b) for a, b in itertools.combinations(modules, 2)
              if graph.chain_exists(importer=a, imported=b)
              and graph.chain_exists(importer=b, imported=a)]
    assert cycles == []
    imported = {m for module in modules for m in graph.find_modules_directly_imported_by(module)}
    assert not {m for m in imported if m.split(".")[0] in ("zoo", "tuning")}


HEAVY = ("tensorflow", "keras", "tensorflow_datasets")


def _fresh_process(code: str) -> dict:
    """The JSON a fresh Python prints last. Its timings are CPU seconds (about a third of a
    second here), so that other processes on a busy machine do not slow them down."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=zoo_env(), cwd=REPO_ROOT, timeout=60, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_listing_and_describing_datasets_needs_no_tensorflow():
    result = _fresh_process(f"""
import json, sys, time
start = time.process_time()
import pipelines
kinds = {{n: (pipelines.resolve(n).kind, pipelines.get_info(n).task)
         for n in pipelines.list_datasets()}}
print(json.dumps({{"seconds": time.process_time() - start, "kinds": kinds,
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
""")
    assert result["heavy"] == [] and result["seconds"] < 1.0, result
    assert result["kinds"]["digits"] == ["builtin", "classification"]
    assert result["kinds"]["csv_series"] == ["csv_series", "regression"]


def test_zoo_datasets_answers_without_tensorflow_in_under_a_second():
    result = _fresh_process(f"""
import contextlib, io, json, sys, time
start = time.process_time()
from zoo.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["datasets"])
print(json.dumps({{"seconds": time.process_time() - start, "code": code,
                  "lines": out.getvalue().splitlines(),
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
""")
    assert result["code"] == 0 and result["heavy"] == [], result
    assert result["seconds"] < 1.0, result
    assert [line.split()[0] for line in result["lines"][:-1]] == pipelines.list_datasets()
