"""Issue 12, export: bad names, batch sizes, folders and files give one clear error,
nothing is created on refusal, and a killed export leaves nothing behind."""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import pytest

from conftest import zoo_env
from zoo.cli import main

RUN_FILES = ["assets", "assets.extra", "fingerprint.pb", "manifest.json", "model.keras", "saved_model.pb",
             "variables"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished one-epoch softmax-regression run (exported by the tests, never changed)."""
    from zoo.runtime.training import train

    folder = tmp_path_factory.mktemp("hardening") / "run"
    train("softmax_regression", epochs=1, run_dir=folder, verbose=0)
    return folder


def zoo(capsys, *args) -> tuple[int, str]:
    """`zoo ARGS` in this process: the exit code and the last line of stderr (a
    `SystemExit` with a message exits 1 after printing it, as Python does)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def copy_run(run_dir, target: Path) -> Path:
    """A copy of the run folder that a test may damage."""
    import shutil

    shutil.copytree(run_dir, target)
    return target


def name_error(name) -> str:
    return ("zoo: error: `name` must be a plain folder name: letters, digits, '.', '_' or '-', "
            f"not starting with a dot. Received: name={name!r}")


# Case 1: export names.

@pytest.mark.parametrize("name", ["", "a\\b", "..", "a b"])
def test_zoo_export_refuses_a_bad_name_before_writing(run_dir, tmp_path, capsys, name):
    assert zoo(capsys, "export", run_dir, "--name", name, "--base-dir", tmp_path / "sm") == (
        2, name_error(name))
    assert not (tmp_path / "sm").exists()


def test_export_function_refuses_a_bad_name_before_writing(tmp_path):
    import zoo as zoo_package
    from zoo.runtime.exporter import export

    model = zoo_package.build("linear_regression")
    for name in ("a\\b", "", None):
        with pytest.raises(ValueError) as info:
            export(model, name, base_dir=tmp_path / "sm")
        assert "zoo: error: " + str(info.value) == name_error(name)
    assert not (tmp_path / "sm").exists()


def test_train_export_refuses_a_bad_name_before_training(tmp_path, capsys):
    code, line = zoo(capsys, "train", "softmax_regression", "--epochs", 1, "--verbose", 0,
                     "--runs-root", tmp_path / "runs", "--export", "--name", "",
                     "--base-dir", tmp_path / "sm")
    assert (code, line) == (2, name_error(""))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "sm").exists()


def test_tune_export_refuses_a_bad_name_before_searching(tmp_path, capsys):
    code, line = zoo(capsys, "tune", "softmax_regression", "--tuner", "random", "--max-trials", 1,
                     "--epochs", 1, "--directory", tmp_path / "tuning", "--export",
                     "--name", "a\\b", "--base-dir", tmp_path / "sm")
    assert (code, line) == (2, name_error("a\\b"))
    assert not (tmp_path / "tuning").exists() and not (tmp_path / "sm").exists()


def test_train_style_refuses_a_bad_name_before_training(tmp_path, capsys):
    code, line = zoo(capsys, "train-style", tmp_path / "style.png", "--weights", "none",
                     "--name", "", "--base-dir", tmp_path / "sm")
    assert (code, line) == (2, name_error(""))
    assert not (tmp_path / "sm").exists()


def test_train_best_refuses_a_bad_export_name_before_training(tmp_path):
    from tuning import train_best

    # The check comes first: the search result is not even looked at.
    with pytest.raises(ValueError) as info:
        train_best(types.SimpleNamespace(), export=True, export_name="..",
                   export_options={"base_dir": tmp_path / "sm"})
    assert "zoo: error: " + str(info.value) == name_error("..")


# Case 2: --static-batch.

@pytest.mark.parametrize("batch", [0, -2])
def test_static_batch_must_be_positive(run_dir, tmp_path, capsys, batch):
    code, line = zoo(capsys, "export", run_dir, "--static-batch", batch,
                     "--base-dir", tmp_path / "sm")
    assert (code, line) == (
        2, f"zoo: error: `static_batch` must be an integer >= 1. Received: static_batch={batch}")
    assert not (tmp_path / "sm").exists()


# Case 3: folders that are not run folders.

def test_export_of_a_search_project_says_what_a_run_folder_is(tmp_path, capsys):
    project = tmp_path / "tuning_runs" / "mlp-digits-random"
    project.mkdir(parents=True)
    (project / "oracle.json").write_text("{}")
    assert zoo(capsys, "export", project, "--base-dir", tmp_path / "sm") == (2, (
        f"zoo: error: {project} is a search project (oracle.json), not a run folder. A run "
        "folder is what `zoo train` writes: runs/<model>-<dataset>/version_<N>, holding run.json and "
        "best.keras. To export a search's best model, run `zoo tune ... --export` (it trains "
        "the best configuration in <project>/best_trial_<id>, a run folder)."))
    assert not (tmp_path / "sm").exists()


@pytest.mark.parametrize("what", ["empty", "missing"])
def test_export_of_a_folder_that_is_not_a_run(tmp_path, capsys, what):
    folder = tmp_path / "somewhere"
    if what == "empty":
        folder.mkdir()
    reason = "no run.json" if what == "empty" else "it does not exist"
    assert zoo(capsys, "export", folder, "--base-dir", tmp_path / "sm") == (2, (
        f"zoo: error: {folder} is not a run folder ({reason}). A run folder is what `zoo "
        "train` writes: runs/<model>-<dataset>/version_<N>, holding run.json and best.keras."))


def test_export_of_a_run_without_its_checkpoint(run_dir, tmp_path, capsys):
    run = copy_run(run_dir, tmp_path / "run")
    (run / "best.keras").unlink()
    assert zoo(capsys, "export", run, "--base-dir", tmp_path / "sm") == (
        2, f"zoo: error: {run / 'best.keras'} does not exist (has the run finished an epoch?).")


# Case 4: a read-only --base-dir.

def _without_dac_override():
    """In the child, before exec: drop the capabilities that let root write anywhere
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so file modes apply to it too."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_read_only_base_dir_is_one_clear_error(run_dir, tmp_path):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"open({str(read_only / 'probe')!r}, 'w')"],
            preexec_fn=_without_dac_override, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here, so no folder is read-only for root")
    if probe.returncode == 0:
        pytest.skip("the folder stays writable for this process (no read-only mechanism)")
    proc = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "export", str(run_dir), "--base-dir", str(read_only)],
        preexec_fn=_without_dac_override, cwd=tmp_path, capture_output=True, text=True,
        env=zoo_env(), timeout=300)
    assert (proc.returncode, proc.stderr.strip().splitlines()[-1]) == (2, (
        f"zoo: error: `base_dir` must be a folder this process can write (or create); "
        f"{read_only} is not writable. Received: base_dir={str(read_only)!r}"))
    assert list(read_only.iterdir()) == []


# Cases 5 and 7: damaged files are named.

@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_a_corrupt_checkpoint_is_named(run_dir, tmp_path, capsys, damage):
    run = copy_run(run_dir, tmp_path / "run")
    path = run / "best.keras"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(1000))
    assert zoo(capsys, "export", run, "--base-dir", tmp_path / "sm") == (2, (
        f"zoo: error: {path} is not a Keras model file (a .keras zip archive): it is "
        "truncated or corrupt."))


def test_a_damaged_member_of_a_keras_file_is_named(run_dir, tmp_path):
    from zoo.runtime.run import load_model

    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(run_dir / "best.keras") as source, zipfile.ZipFile(path, "w") as copy:
        for member in source.namelist():
            copy.writestr(member, b"{not json" if member == "config.json" else source.read(member))
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert str(info.value) == (
        f"{path} is a corrupt Keras model file (JSONDecodeError: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)).")


def _truncate_run_file(run: Path) -> Path:
    path = run / "run.json"
    path.write_text(path.read_text()[:50])
    return path


def _run_file_error(path: Path) -> str:
    return (f"zoo: error: {path} is corrupt: not the JSON that `zoo train` writes (Expecting "
            f"property name enclosed in double quotes: line 4 column 2 (char 50)). Restore it, "
            f"or train again in a new run folder.")


def test_a_truncated_run_file_is_named_by_export(run_dir, tmp_path, capsys):
    path = _truncate_run_file(copy_run(run_dir, tmp_path / "run"))
    assert zoo(capsys, "export", path.parent, "--base-dir", tmp_path / "sm") == (
        2, _run_file_error(path))


def test_a_truncated_run_file_is_named_by_train(run_dir, tmp_path, capsys):
    path = _truncate_run_file(copy_run(run_dir, tmp_path / "run"))
    code, line = zoo(capsys, "train", "softmax_regression", "--epochs", 1, "--verbose", 0,
                     "--run-dir", path.parent)
    assert (code, line) == (2, _run_file_error(path))


def test_a_corrupt_final_model_is_named_when_a_completed_run_is_rerun(run_dir, tmp_path, capsys):
    run = copy_run(run_dir, tmp_path / "run")
    path = run / "model.keras"
    path.write_bytes(path.read_bytes()[:300])
    code, line = zoo(capsys, "train", "softmax_regression", "--epochs", 1, "--verbose", 0,
                     "--run-dir", run)
    assert (code, line) == (2, f"zoo: error: {path} is not a Keras model file (a .keras zip "
                               "archive): it is truncated or corrupt.")


# Case 6: a killed export leaves nothing behind.

def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_export_leaves_no_process_and_the_next_export_no_folder(
        run_dir, tmp_path, capsys):
    base, scratch = tmp_path / "sm", tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "export", str(run_dir), "--base-dir", str(base)],
        cwd=tmp_path, env=zoo_env(TMPDIR=str(scratch)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline, checker = time.monotonic() + 240, None
    while checker is None and time.monotonic() < deadline and proc.poll() is None:
        checker = next((pid for pid, cmd in _children(proc.pid) if "_verify_export" in cmd), None)
        time.sleep(0.02)
    assert checker is not None, "the export finished or failed before its verification started"
    time.sleep(0.5)  # the check is importing TensorFlow now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 3
    while _running(checker) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphan = _running(checker)
    if orphan:
        os.kill(checker, signal.SIGKILL)
    assert not orphan, "the verification process ran on after its export was killed"
    # Its scratch files were inside the export's temporary folder, none in TMPDIR.
    model_dir = base / "softmax_regression"
    assert list(scratch.rglob("check.npz")) == []
    assert len(list(model_dir.glob(".tmp-*/**/check.npz"))) == 1

    assert zoo(capsys, "export", run_dir, "--base-dir", base)[0] == 0
    assert sorted(p.name for p in model_dir.iterdir()) == ["1"]
    assert sorted(os.listdir(model_dir / "1")) == RUN_FILES


def test_stale_temporary_folders_of_dead_exports_go_live_ones_stay(tmp_path):
    import zoo as zoo_package
    from zoo.runtime import exporter

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    model_dir = tmp_path / "lin"
    live = model_dir / f"{exporter.temp_prefix(os.getpid())}abc"
    dead = model_dir / f"{exporter.temp_prefix(finished.pid)}abc"
    for folder in (live, dead):
        (folder / "export").mkdir(parents=True)
    exporter.export(zoo_package.build("linear_regression"), "lin", base_dir=tmp_path,
                    verify=False)
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(["1", live.name])
