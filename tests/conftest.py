"""Shared fixtures. Tests never use the network: ZOO_OFFLINE=1 for all."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["ZOO_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TINY_SHAKESPEARE_DIR = SHARED_DATA / "tiny_shakespeare"


@pytest.fixture
def shakespeare_dir():
    if not (TINY_SHAKESPEARE_DIR / "input.txt").exists():
        pytest.fail(f"Missing test data {TINY_SHAKESPEARE_DIR / 'input.txt'}")
    return TINY_SHAKESPEARE_DIR


def zoo_env(**extra) -> dict:
    """Environment of a `zoo` subprocess: this checkout's packages (whatever an
    editable install points at), quiet TensorFlow, plus `extra`."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
            **extra}


def sigkill_after_epochs(cmd, run_dir, epochs, cwd, env, timeout=300) -> int:
    """Start `cmd` (a `zoo train` run writing `run_dir`), SIGKILL it once its
    history holds `epochs` finished epochs, and return how many it had."""
    import signal
    import subprocess
    import time

    from zoo.runtime.run import read_history

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, seen = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = len(read_history(Path(run_dir) / "history.csv"))
        if seen >= epochs:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return seen


@pytest.fixture
def zoo_cli(tmp_path):
    """Run the `zoo` console command in a subprocess inside tmp_path."""
    import subprocess

    def run(*args, timeout=300, check=True):
        env = zoo_env(ZOO_OFFLINE="1")
        proc = subprocess.run(
            [sys.executable, "-m", "zoo.cli", *map(str, args)],
            cwd=tmp_path, capture_output=True, text=True, timeout=timeout, env=env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"zoo {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    return run


@pytest.fixture
def zoo_main(tmp_path, monkeypatch, capsys):
    """`zoo ARGS` run in this process inside tmp_path, with the result `zoo_cli`
    gives (returncode, stdout, stderr), without a TensorFlow start-up per call."""
    import subprocess

    from zoo.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args, check=True):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        if check and code != 0:
            raise AssertionError(f"zoo {' '.join(map(str, args))} failed ({code}):\n"
                                 f"{out[-3000:]}\n{err[-3000:]}")
        return subprocess.CompletedProcess(args, code, out, err)

    return run


@pytest.fixture(scope="session", autouse=True)
def tiny_shakespeare_prepared():
    """The language models' default corpus, prepared once from ../shared/data (offline).

    Test workers (pytest-xdist) take turns: the first prepares, the others find it ready.
    """
    import fcntl
    import tempfile

    from pipelines import tfds_source

    with open(Path(tempfile.gettempdir()) / "modelzoo-tests-tfds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tfds_source.ensure_prepared("tiny_shakespeare", manual_dir=TINY_SHAKESPEARE_DIR,
                                    offline=True)


@pytest.fixture
def count_fits(monkeypatch):
    """Counts search trials that really train (reloaded trials do not): each call's
    hyperparameter values."""
    from tuning.hypermodel import ZooHyperModel

    calls = []
    original = ZooHyperModel.fit

    def fit(self, hp, model, *args, **kwargs):
        calls.append(dict(hp.values))
        return original(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(ZooHyperModel, "fit", fit)
    return calls
