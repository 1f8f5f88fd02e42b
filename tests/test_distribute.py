"""Distributed training: strategy choice, 2 logical CPU replicas and 2 local workers
(`zoo launch`, loopback) reach the same weights as one device, and a killed worker
restarted resumes.

Same global batch, same seed, no shuffling and plain SGD: every run sees the same
global batches in the same order, so the weights agree to float32 round-off
(replicas sum their scaled gradients in another order).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.runtime import distribute
from zoo.runtime.launch import worker_command
from zoo.runtime.run import read_history

from conftest import REPO_ROOT

# 2 epochs of 5 steps (1,257 training digits, global batch 256); validation 2 steps.
TRAIN = ["mlp", "--data", "digits", "--optimizer", "sgd", "--lr", "0.2", "--batch-size", "256",
         "--data-option", "shuffle=false", "--set", "width=32", "--seed", "3"]
EPOCHS = 2


def _env(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_OFFLINE": "1",
            "TMPDIR": str(tmp),  # non-chief workers' temporary folders land here
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


def _zoo(*args):
    return [sys.executable, "-m", "zoo.cli", *map(str, args)]


@pytest.fixture(scope="module")
def one_device_weights(tmp_path_factory):
    """The reference: the same training on one device, in this process."""
    run = tmp_path_factory.mktemp("one") / "run"
    result = zoo.train("mlp", "digits", epochs=EPOCHS, optimizer="sgd", learning_rate=0.2,
                       batch_size=256, data_options={"shuffle": False},
                       overrides={"width": 32}, seed=3, run_dir=run, verbose=0,
                       strategy="default")
    return result.model.get_weights(), run


def _weights(path):
    return zoo.load_model(path).get_weights()


def _assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=2e-5)


def test_auto_picks_the_default_strategy_here_and_says_so(capsys):
    dist = distribute.make_strategy("auto")
    assert (dist.name, dist.replicas, dist.is_chief) == ("default", 1, True)
    assert "Strategy: default, 1 replica [auto: one device, no TF_CONFIG cluster]" in (
        capsys.readouterr().out)


def test_tpu_and_multiworker_fail_fast_with_what_is_missing(monkeypatch):
    for key in ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "COLAB_TPU_ADDR",
                "TF_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"--strategy tpu: no TPU found"):
        distribute.make_strategy("tpu")
    assert time.monotonic() - start < 10  # no network probe, no hang
    with pytest.raises(ValueError, match=r"reads its cluster from the TF_CONFIG environment "
                                         r"variable, which is not set"):
        distribute.make_strategy("multiworker")
    with pytest.raises(ValueError, match=r"`strategy` must be one of 'auto', 'default', "
                                         r"'mirrored', 'multiworker', 'tpu'\. Received: "
                                         r"strategy='gpu'"):
        distribute.make_strategy("gpu")


def test_chief_is_worker_zero_unless_the_cluster_has_a_chief(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                                "task": {"type": "worker", "index": 1}}))
    assert distribute.is_chief("worker", 0) and not distribute.is_chief("worker", 1)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["c:0"], "worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute.is_chief("chief", 0) and not distribute.is_chief("worker", 0)


def test_launch_adds_the_multiworker_strategy_and_refuses_another():
    assert worker_command(["train", "mlp"]) == [
        "train", "mlp", "--verbose", "2", "--strategy", "multiworker"]
    with pytest.raises(ValueError, match=r"use --strategy multiworker \(or leave it out\)\. "
                                         r"Received: --strategy mirrored"):
        worker_command(["train", "mlp", "--strategy", "mirrored"])


def test_two_logical_cpu_replicas_reach_the_one_device_weights(tmp_path, one_device_weights):
    reference, _ = one_device_weights
    # A fresh process: logical devices are set before TensorFlow's first operation.
    script = (
        "import zoo\n"
        "try:\n"
        "    zoo.train('mlp', 'digits', batch_size=255, cpu_replicas=2, strategy='mirrored',"
        " run_dir='bad', verbose=0)\n"
        "except ValueError as e:\n"
        "    print('REFUSED', e)\n"
        "from zoo.cli import main\n"
        f"main({[*map(str, ['train', *TRAIN, '--epochs', EPOCHS, '--run-dir', 'run', '--cpu-replicas', 2, '--strategy', 'auto', '--verbose', 2])]!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("REFUSED `batch_size` is the global batch, split evenly across the 2 replicas of "
            "the mirrored strategy, so it must be a multiple of 2. Received: batch_size=255"
            ) in proc.stdout
    assert "Strategy: mirrored, 2 replicas" in proc.stdout and "[auto: 2 logical CPU devices]" in proc.stdout
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert state["distribution"] == {"strategy": "mirrored", "replicas": 2, "workers": 1,
                                     "jit_compile": "auto"}
    assert "strategy" not in state["settings"]  # a run may resume on other hardware
    _assert_same_weights(_weights(tmp_path / "run" / "model.keras"), reference)


def test_two_local_workers_reach_the_one_device_weights(tmp_path, one_device_weights):
    reference, one_run = one_device_weights
    proc = subprocess.run(
        _zoo("launch", "--workers", 2, "--timeout", 240, "--",
             "train", *TRAIN, "--epochs", EPOCHS, "--run-dir", tmp_path / "run"),
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "[worker 0] Strategy: multiworker, 2 replicas on 2 workers (this is worker 0, the chief)" in out
    assert "[worker 1] Strategy: multiworker, 2 replicas on 2 workers (this is worker 1)" in out
    run = tmp_path / "run"
    _assert_same_weights(_weights(run / "model.keras"), reference)
    # Only the chief wrote the run folder; the other worker's temporary folder is gone.
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in one_run.iterdir())
    assert not any((tmp_path / "tmp").iterdir())
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed" and state["distribution"]["workers"] == 2


# About 40 s on 2 cores (two workers, a kill, a restart); a killed single-process run
# resumes in the default suite (tests/test_training.py).
@pytest.mark.slow
def test_a_killed_worker_restarted_resumes_to_the_same_weights(tmp_path):
    """SIGKILL worker 1 mid-run: `zoo launch` stops the chief and fails; launching
    again resumes from the chief's backup and ends where an uninterrupted run ends."""
    epochs = 5
    cmd = _zoo("launch", "--workers", 2, "--timeout", 240, "--grace", 10, "--",
               "train", *TRAIN, "--epochs", epochs, "--run-dir", tmp_path / "run")
    env = _env(tmp_path)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    meta = tmp_path / "run" / "backup" / "training_metadata.json"
    deadline, killed = time.monotonic() + 180, False
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            pids = [l.split("(pid ")[1].split(")")[0] for l in list(lines)
                    if l.startswith("zoo launch: worker 1 started")]
            try:
                done = json.loads(meta.read_text())["epoch"] if meta.exists() else 0
            except (ValueError, OSError):
                done = 0
            if pids and done >= 2:
                os.kill(int(pids[0]), signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
        assert killed, "training finished (or never started) before worker 1 could be killed:\n" + "".join(lines[-30:])
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    out = "".join(lines)
    assert code != 0, out[-3000:]
    assert "zoo launch: worker 1 exited with code -9; stopping the other workers" in out
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "running"

    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stdout[-3000:]
    resumed = int(again.stdout.split("[worker 1] Run folder: ")[1].split("resuming after epoch ")[1]
                  .split(")")[0])
    assert resumed >= 2
    assert [r["epoch"] for r in read_history(tmp_path / "run" / "history.csv")] == (
        list(range(epochs)))
    uninterrupted = zoo.train("mlp", "digits", epochs=epochs, optimizer="sgd", learning_rate=0.2,
                              batch_size=256, data_options={"shuffle": False},
                              overrides={"width": 32}, seed=3, run_dir=tmp_path / "one",
                              verbose=0, strategy="default")
    _assert_same_weights(_weights(tmp_path / "run" / "model.keras"),
                         uninterrupted.model.get_weights())
