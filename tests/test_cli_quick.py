"""A quick, quiet, thin `zoo` command (issue 13): the listing commands start without
TensorFlow, from a generated catalog that must equal the live registry; help shows the
defaults; piped output has no progress bars; outputs go under the run folder or runs/;
every command has a Python API; the style architecture files hold architectures only."""

import ast
import json
import subprocess
import sys

import pytest

import zoo
from conftest import REPO_ROOT, zoo_env
from zoo import catalog
from zoo.cli import main, make_parser

HEAVY_MODULES = ("tensorflow", "keras", "keras_tuner", "tensorflow_datasets")

_QUICK_SCRIPT = """
import json, sys, time
start = time.perf_counter()
from zoo.cli import main
code = main(sys.argv[1:])
seconds = time.perf_counter() - start
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"code": code, "seconds": seconds, "heavy": heavy}}), file=sys.stderr)
"""


def _run_quick(*args) -> tuple[str, dict]:
    """`zoo ARGS` in a fresh interpreter: its stdout, and the exit code, seconds from
    importing zoo.cli to the answer, and which heavy modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _QUICK_SCRIPT.format(heavy=HEAVY_MODULES), *args],
        capture_output=True, text=True, timeout=120, env=zoo_env(), cwd=REPO_ROOT)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.stdout, report


def _pipelines_imports_tensorflow() -> bool:
    code = "import sys, pipelines; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=zoo_env(), cwd=REPO_ROOT, timeout=120).stdout
    return out.strip() == "True"


@pytest.mark.parametrize("args", [("list",), ("list", "resnet*"), ("info", "resnet50"),
                                  ("info", "lenet5"), ("runs", "tests")])
def test_listing_commands_answer_without_tensorflow_in_under_a_second(args):
    out, report = _run_quick(*args)
    assert report["code"] == 0 and out
    assert report["heavy"] == []
    assert report["seconds"] < 1.0


def test_help_answers_without_tensorflow_in_under_a_second():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, time; t = time.perf_counter()\n"
         "from zoo.cli import main\n"
         "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
         f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules], "
         "time.perf_counter() - t, file=sys.stderr)"],
        capture_output=True, text=True, timeout=120, env=zoo_env(), cwd=REPO_ROOT)
    heavy, seconds = proc.stderr.strip().splitlines()[-1].rsplit(" ", 1)
    assert "train-style" in proc.stdout and heavy == "[]" and float(seconds) < 1.0


@pytest.mark.skipif(_pipelines_imports_tensorflow(),
                    reason="`import pipelines` still imports TensorFlow (the pipelines part of "
                           "issue 13 makes it TensorFlow-free)")
def test_datasets_answers_without_tensorflow_in_under_a_second():
    out, report = _run_quick("datasets")
    assert report["code"] == 0 and "digits" in out
    assert report["heavy"] == []
    assert report["seconds"] < 1.0


def test_unknown_model_from_the_catalog_is_one_line_with_close_matches(zoo_main):
    proc = zoo_main("info", "lenet", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "zoo: error: Unknown model 'lenet'. Did you mean: lenet5?\n"


# ----------------------------------------------------------------- the catalog


def test_the_committed_catalog_is_fresh_and_equals_the_registry():
    """`python -m zoo.catalog --write` regenerates it after a model changes."""
    entries = catalog.read_catalog()
    assert entries is not None, "zoo/models/catalog.json is stale: python -m zoo.catalog --write"
    assert sorted(entries) == zoo.list_models()
    for name, entry in entries.items():
        spec_entry = catalog.spec_entry(zoo.get_spec(name))
        assert {k: entry[k] for k in spec_entry} == spec_entry, name


def test_catalog_shapes_and_search_spaces_equal_the_built_models():
    entries = catalog.read_catalog()
    for name in zoo.list_models():
        if not zoo.get_spec(name).large:  # all of them in the slow suite (next test)
            assert entries[name] == catalog.model_entry(zoo.get_spec(name)), name


@pytest.mark.slow
def test_catalog_equals_every_built_model():
    assert catalog.read_catalog() == catalog.generate()["models"]


def test_a_stale_catalog_is_not_used(monkeypatch):
    monkeypatch.setattr(catalog, "sources_digest", lambda: "changed sources")
    assert catalog.read_catalog() is None
    names = [e["name"] for e in catalog.list_entries("*regression")]
    assert names == ["linear_regression", "logistic_regression", "softmax_regression"]


def test_info_prints_the_spec_shapes_and_search_space(zoo_main):
    lines = zoo_main("info", "lenet5").stdout.splitlines()
    assert lines[0] == f"lenet5: {zoo.get_spec('lenet5').summary}"
    assert lines[5] == ("  training   optimizer=adam learning_rate=0.001 "
                        "loss=sparse_categorical_crossentropy metrics=['accuracy']")
    assert lines[6] == "  dataset    digits {'image_size': (32, 32)}"
    assert lines[7] == "  shapes     (None, 32, 32, 1) -> (None, 10), 61,706 parameters"
    assert lines[9] == ("    activation: Choice {'name': 'activation', 'default': 'tanh', "
                        "'conditions': [], 'values': ['tanh', 'relu'], 'ordered': False}")


def test_imagenet_models_name_no_dataset_and_train_asks_for_one(zoo_main):
    for name in ("resnet50", "resnet18", "vgg16", "alexnet", "googlenet"):
        info = zoo_main("info", name).stdout
        assert "  dataset    none built in: pass --data\n" in info and "digits" not in info
        assert zoo.get_spec(name).dataset is None and zoo.get_spec(name).test_dataset == "digits"
    proc = zoo_main("train", "resnet50", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "zoo: error: Model 'resnet50' has no default dataset; pass one.\n"
    assert zoo.get_spec("lenet5").test_dataset == "digits"  # defaults to the model's dataset


# ----------------------------------------------------------------- help, output, layout


def _print_help(command: str) -> None:
    with pytest.raises(SystemExit):
        make_parser().parse_args([command, "--help"])


def test_help_shows_the_defaults(capsys):
    _print_help("train")
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("epochs to train (default: 10)", "examples per step (default: 32)",
                  "learning-rate schedule (default: constant)",
                  "exports go to BASE_DIR/<name>/<version> (default: saved_models)",
                  "folder of the run folders (default: runs)", "(default: auto)"):
        assert shown in text
    assert "(default: None)" not in text and "(default: False)" not in text
    _print_help("stylize")
    text = " ".join(capsys.readouterr().out.split())
    assert "weight of the content loss (default: 10000.0)" in text
    assert "Adam step size on [0, 1] pixels (default: 0.02)" in text


def test_choices_come_from_the_library(capsys):
    from pipelines import AUGMENTATIONS
    from zoo.runtime.distribute import STRATEGIES
    from zoo.runtime.names import LR_SCHEDULES
    from zoo.runtime.run import CHECKPOINTS

    _print_help("train")
    text = capsys.readouterr().out
    assert "{" + ",".join(STRATEGIES) + "}" in text
    assert "{" + ",".join(LR_SCHEDULES) + "}" in text
    assert "{" + ",".join(AUGMENTATIONS) + "}" in text
    _print_help("export")
    assert "{" + ",".join(CHECKPOINTS) + "}" in capsys.readouterr().out


def test_piped_training_prints_one_line_per_epoch_without_progress_bars(zoo_main):
    out = zoo_main("train", "softmax_regression", "--epochs", "2", "--run-dir", "run").stdout
    assert "\x08" not in out and "\r" not in out and "\x1b" not in out
    epochs = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"]
    assert sum(" - loss: " in line for line in out.splitlines()) == 2


def test_datasets_columns_are_aligned(zoo_main):
    import pipelines

    lines = zoo_main("datasets").stdout.splitlines()[:-1]
    names = pipelines.list_datasets()
    assert [line.split()[0] for line in lines] == names
    columns = {line.index("  " + pipelines.get_info(name).task) for line, name in zip(lines, names)}
    assert len(columns) == 1, lines


def test_stylize_writes_under_runs_by_default(zoo_main, tmp_path):
    from zoo.images import save_png
    from zoo.tasks.style import sample_images

    content, style = sample_images(32)
    save_png(content, tmp_path / "content.png")
    save_png(style, tmp_path / "style.png")
    before = set(tmp_path.iterdir())
    out = zoo_main("stylize", "content.png", "style.png", "--steps", "1", "--size", "32",
                   "--weights", "none").stdout
    assert "Wrote runs/stylize/stylized.png" in out
    assert (tmp_path / "runs" / "stylize" / "stylized.png").is_file()
    assert set(tmp_path.iterdir()) - before == {tmp_path / "runs"}


def test_tiles_write_into_the_run_folder_by_default(zoo_main, tmp_path):
    zoo_main("train", "autoencoder", "--epochs", "1", "--run-dir", "run")
    before = set(tmp_path.iterdir())
    out = zoo_main("tiles", "run").stdout
    assert out.startswith("Wrote run/units.png: ")
    assert (tmp_path / "run" / "units.png").is_file() and set(tmp_path.iterdir()) == before


def test_train_style_is_a_python_function_that_refuses_before_building(tmp_path):
    from zoo.runtime.style import train_style

    with pytest.raises(ValueError, match=r"^`size` must be a multiple of 4\. Received: size=30$"):
        train_style(tmp_path / "style.png", size=30, weights=None, base_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^image file .*missing\.png does not exist\.$"):
        train_style(tmp_path / "missing.png", weights=None, base_dir=tmp_path)
    with pytest.raises(ValueError, match="`name` must be a plain folder name"):
        train_style(tmp_path / "style.png", name="../x", weights=None, base_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_one_line_with_exit_code_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train-style", "missing.png", "--weights", "none"]) == 2
    assert capsys.readouterr().err == "zoo: error: image file missing.png does not exist.\n"


@pytest.mark.parametrize("module", ["style_transfer", "fast_style"])
def test_style_architecture_files_import_no_runtime_task_or_pipelines(module):
    tree = ast.parse((REPO_ROOT / "zoo" / "models" / f"{module}.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    forbidden = ("pipelines", "tuning", "zoo.runtime", "zoo.tasks", "zoo.cli")
    assert not [m for m in imported if m.split(".")[0] == "pipelines" or m.startswith(forbidden)]
