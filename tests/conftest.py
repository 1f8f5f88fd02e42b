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


@pytest.fixture
def zoo_cli(tmp_path):
    """Run the `zoo` console command in a subprocess inside tmp_path."""
    import subprocess

    def run(*args, timeout=300, check=True):
        # This checkout's packages, whatever an editable install points at.
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_OFFLINE": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
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
