"""Issue 12, pipelines: saved vocabularies never name files, lm1b is a text
corpus, and bad local corpus paths give one clear error."""

import json
import os
import threading
import time
import zipfile

import keras
import numpy as np
import pytest

import pipelines
import zoo
from pipelines import text
from pipelines.layers import TextToIds
from zoo.cli import main
from zoo.runtime.plan import plan_data
from zoo.tasks.word_vectors import WordLookup

TOKENS = ["[UNK]", "a", "b"]
LOAD_DEADLINE_S = 10  # a load takes about a second; a read of a FIFO never returns
REFUSAL = ("Requested the loading of a vocabulary file outside of the model archive. This "
           "carries a potential risk of loading arbitrary and sensitive files and thus it is "
           "disallowed: a saved {layer} carries its vocabulary as a list of tokens, and never "
           "reads a file, even with safe_mode=False. To use a vocabulary file, read it with "
           "`pipelines.text.read_vocabulary(path)` and pass the tokens. "
           "Received: vocabulary={path!r}")


# --- 1. a saved vocabulary is a token list, never a path --------------------------------


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """One small `.keras` per vocabulary layer: strings in, ids out."""
    folder = tmp_path_factory.mktemp("vocabulary_layers")
    paths = {}
    for layer in (TextToIds(TOKENS, "char"), WordLookup(TOKENS, "word")):
        inputs = keras.Input(shape=(), dtype="string")
        outputs = layer(inputs)
        model = keras.Model(inputs, outputs[0] if isinstance(outputs, tuple) else outputs)
        paths[type(layer).__name__] = folder / f"{type(layer).__name__}.keras"
        model.save(paths[type(layer).__name__])
    return paths


def _with_vocabulary(source, target, vocabulary):
    """A copy of the `.keras` file `source` whose vocabulary layer config holds `vocabulary`."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layers = [c for c in config["config"]["layers"]
                          if c["class_name"] in ("TextToIds", "WordLookup")]
                assert len(layers) == 1
                layers[0]["config"]["vocabulary"] = vocabulary
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target


def _load_within_deadline(path, safe_mode):
    """`keras.saving.load_model` in a thread: (model or exception, seconds taken).

    A load that blocks on a FIFO is released by opening the FIFO for writing,
    so a regression fails the test instead of hanging the suite.
    """
    result = {}

    def load():
        try:
            result["value"] = keras.saving.load_model(path, safe_mode=safe_mode)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            result["value"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(LOAD_DEADLINE_S)
    took = time.monotonic() - start
    if thread.is_alive():
        for fifo in path.parent.glob("*.fifo"):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(LOAD_DEADLINE_S)
    return result.get("value"), took


@pytest.mark.parametrize("layer", ["TextToIds", "WordLookup"])
def test_saved_vocabulary_layer_round_trips_its_token_list(saved_models, layer):
    model = keras.saving.load_model(saved_models[layer])
    ids = np.asarray(model(np.array(["a", "b", "c"])))
    np.testing.assert_array_equal(ids.reshape(3, -1)[:, 0], [1, 2, 0])


@pytest.mark.parametrize("safe_mode", [True, False])
@pytest.mark.parametrize("kind", ["fifo", "json"])
@pytest.mark.parametrize("layer", ["TextToIds", "WordLookup"])
def test_saved_vocabulary_path_is_refused_and_never_opened(saved_models, tmp_path, layer,
                                                            kind, safe_mode):
    """A crafted `.keras` naming a file: refused in and out of safe mode, the file
    never opened (a FIFO would block the open until a writer comes)."""
    target = tmp_path / f"vocabulary.{kind}"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.write_text(json.dumps(TOKENS))  # a valid vocabulary outside the archive
    crafted = _with_vocabulary(saved_models[layer], tmp_path / "crafted.keras", str(target))
    outcome, took = _load_within_deadline(crafted, safe_mode)
    assert took < LOAD_DEADLINE_S, "the load opened the FIFO named in the config"
    assert type(outcome) is ValueError, outcome  # not wrapped in Keras' TypeError
    assert str(outcome) == REFUSAL.format(layer=layer, path=str(target))


def test_vocabulary_layers_read_no_files_and_cast_no_tokens(tmp_path):
    path = tmp_path / "vocabulary.json"
    text.write_vocabulary(TOKENS, path)
    for layer in (TextToIds, WordLookup):
        for vocabulary in (str(path), path):
            with pytest.raises(ValueError) as info:
                layer(vocabulary)
            assert str(info.value) == REFUSAL.format(layer=layer.__name__, path=str(path))
    with pytest.raises(ValueError) as info:
        TextToIds(["[UNK]", "a", 1])
    assert str(info.value) == ("A vocabulary must be a list of strings. Received: token 1 "
                               "(int) at position 2")
    with pytest.raises(ValueError) as info:
        TextToIds({"[UNK]": 0})
    assert str(info.value) == ("A vocabulary must be a list of strings. Received: "
                               "vocabulary={'[UNK]': 0}")
    assert text.read_vocabulary(path) == tuple(TOKENS)  # reading a file is explicit


def test_vocabulary_file_that_is_not_a_json_token_list_is_named(tmp_path):
    path = tmp_path / "vocabulary.json"
    path.write_text("[UNK]\na\n")
    with pytest.raises(ValueError) as info:
        text.read_vocabulary(path)
    assert str(info.value) == (f"Vocabulary file {str(path)!r} is not a JSON list of tokens: "
                               "Expecting value: line 1 column 2 (char 1)")


# --- 2. lm1b (supervised keys ('text', 'text')) is a text corpus -----------------------


def test_lm1b_is_a_text_corpus_offline(tmp_path, monkeypatch, capsys):
    """The TFDS catalog metadata alone says so: no download, no data."""
    assert pipelines.resolve("lm1b").kind == "text"
    assert pipelines.resolve("imdb_reviews").kind == "labelled_text"  # (text, label): not a corpus
    monkeypatch.chdir(tmp_path)
    code = main(["train", "lstm_lm", "--data", "lm1b", "--data-dir", str(tmp_path / "tfds"),
                 "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1  # one line, the TFDS file listing included
    assert err[0].startswith(f"zoo: error: Dataset 'lm1b' is not prepared in data_dir "
                             f"{tmp_path / 'tfds'}. Its source files cannot be downloaded "
                             f"(offline mode). ")
    assert not (tmp_path / "runs").exists()


def test_lm1b_trains_through_mock_data(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=20):
        plan = plan_data(zoo.get_spec("lstm_lm"), "lm1b", None, {"seq_len": 5})
        x, y = next(iter(pipelines.load("lm1b", "train", batch_size=2, seq_len=5)))
    assert plan.info.task == "language_model" and plan.info.num_classes > 2
    assert x.shape == (2, 5) and x.dtype == "int32"
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])


# --- 3. local corpus paths --------------------------------------------------------------

LOCAL_CORPUS = ("A local text corpus is a UTF-8 text file (split by position into 90/5/5% "
                "train/validation/test) or a folder holding *train*.txt, *valid*.txt and "
                "*test*.txt files (e.g. ptb.train.txt, ptb.valid.txt, ptb.test.txt).")


def _train_error(tmp_path, monkeypatch, capsys, data):
    """The last stderr line and exit code of `zoo train lstm_lm --data <data>`."""
    monkeypatch.chdir(tmp_path)
    code = main(["train", "lstm_lm", "--data", str(data), "--epochs", "1"])
    captured = capsys.readouterr()
    assert not (tmp_path / "runs").exists()
    return code, captured.err.strip().splitlines()[-1]


@pytest.mark.parametrize("data", ["data/ptb", "corpus.txt", "./ptb", "~/no-such-corpus-dir/ptb"])
def test_missing_local_corpus_is_one_clear_error(tmp_path, monkeypatch, capsys, data):
    code, last = _train_error(tmp_path, monkeypatch, capsys, data)
    assert (code, last) == (2, f"zoo: error: Text corpus {data!r} does not exist. {LOCAL_CORPUS}")


def test_local_corpus_that_is_no_file_is_one_clear_error(tmp_path, monkeypatch, capsys):
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)  # reading it would block until a writer comes
    code, last = _train_error(tmp_path, monkeypatch, capsys, fifo)
    assert (code, last) == (2, f"zoo: error: Text corpus {str(fifo)!r} is neither a file nor a "
                               f"folder. {LOCAL_CORPUS}")


def test_local_folder_without_training_file_is_one_clear_error(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "ptb.valid.txt").write_text("a b c\n")
    code, last = _train_error(tmp_path, monkeypatch, capsys, folder)
    assert (code, last) == (2, f"zoo: error: Text corpus folder {str(folder)!r} has no "
                               f"*train*.txt or *test*.txt file. {LOCAL_CORPUS}")


@pytest.mark.parametrize("layout", ["file", "folder"])
def test_non_utf8_corpus_file_is_named(tmp_path, monkeypatch, capsys, layout):
    bad = tmp_path / ("corpus.txt" if layout == "file" else "ptb/ptb.train.txt")
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    for split in ("valid", "test"):
        (bad.parent / f"ptb.{split}.txt").write_text("a b\n")
    data = bad if layout == "file" else bad.parent
    code, last = _train_error(tmp_path, monkeypatch, capsys, data)
    assert (code, last) == (2, f"zoo: error: Text corpus file {str(bad)!r} is not UTF-8 text "
                               f"(byte 0xe9 at offset 3). {LOCAL_CORPUS}")


def test_local_path_or_dataset_name(tmp_path, monkeypatch):
    """Paths: a separator, a leading `.`/`~`, a file suffix, or an existing file
    or folder. Names: built-in and TFDS names, with TFDS configs and versions."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "iris").mkdir()  # a folder named like a built-in dataset does not shadow it
    (tmp_path / "notes").write_text("a b\n")
    for path in ("data/ptb", "corpus.txt", "./ptb", "~/ptb", "../ptb", "notes", str(tmp_path)):
        assert text.is_local_corpus(path), path
    for name in ("iris", "mnist", "lm1b", "glue/cola", "wiki40b/en:1.3.0", "mnist:3.0.1"):
        assert not text.is_local_corpus(name), name
