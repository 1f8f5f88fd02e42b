"""Keras Tuner's distributed search on loopback: a chief (this process) and worker processes.

Every search here is bounded by `timeout`; worker processes are found through
the project's `workers/launch.json` and each trial's `runs.jsonl`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import tuning
from tuning import distributed
from tuning.tuners import read_runs
from zoo.runtime.supervisor import Worker

TIMEOUT = 240  # seconds a search here may take, worker start-up included
SEARCH = dict(tuner="random", max_trials=4, epochs=1, verbose=0)


def _search(directory, **kwargs):
    return tuning.search("softmax_regression", "blobs_4d3c", directory=directory,
                         **{**SEARCH, **kwargs})


def _runs(project_dir) -> dict[str, list[dict]]:
    """Trial id -> its run records (start/end lines of `runs.jsonl`)."""
    return {p.name[len("trial_"):]: read_runs(p) for p in sorted(project_dir.glob("trial_*"))}


def _choices(rows) -> list[tuple]:
    return [(r["trial_id"], r["learning_rate"], r["batch_size"]) for r in rows]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def _worker_summary(log_path) -> dict:
    """The JSON line a worker prints when it ends: its tuner id and the trials it ran."""
    lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith('{"tuner_id"')]
    return json.loads(lines[-1])


def test_two_workers_run_every_trial_exactly_once_as_one_process_would(tmp_path):
    single = _search(tmp_path / "one")
    start = time.monotonic()
    result = _search(tmp_path / "two", workers=2, timeout=TIMEOUT)
    assert time.monotonic() - start < TIMEOUT

    # The same table: same columns, trial ids and hyperparameters (the oracle is seeded
    # and hands out trials in order), each trial completed, and the same scores: a trial
    # gets the same weights and data order whichever process runs it, after whichever
    # trials (a tolerance only for summation order across processes).
    assert [list(r) for r in result.rows] == [list(r) for r in single.rows]
    assert _choices(result.rows) == _choices(single.rows)
    assert [r["score"] for r in result.rows] == pytest.approx(
        [r["score"] for r in single.rows], rel=1e-5)
    assert [r["trial_id"] for r in result.rows] == ["0", "1", "2", "3"]
    assert all(r["status"] == "COMPLETED" and r["seconds"] > 0 for r in result.rows)
    assert all(0 < r["score"] < 2 for r in result.rows)
    assert tuning.read_table(result.project_dir) == result.rows
    best = json.loads(result.best_path.read_text())
    assert best["trial_id"] == result.best_trial_id
    assert best["score"] == min(r["score"] for r in result.rows)
    assert result.tuner_id == "chief" and single.tuner_id is None

    # Each trial ran once, on one of the two workers; every fit is accounted for.
    runs = _runs(result.project_dir)
    assert sorted(runs) == ["0", "1", "2", "3"]
    for trial_id, records in runs.items():
        assert [r["event"] for r in records] == ["start", "end"], trial_id
        assert records[1]["status"] == "COMPLETED"
        assert records[0]["tuner_id"] in ("tuner0", "tuner1")
    workers_dir = result.project_dir / "workers"
    ran = {tid: _worker_summary(workers_dir / f"{tid}.log")["trials"]
           for tid in ("tuner0", "tuner1")}
    assert sorted(ran["tuner0"] + ran["tuner1"]) == ["0", "1", "2", "3"]  # none twice
    for tid, trials in ran.items():
        assert all(runs[t][0]["tuner_id"] == tid for t in trials)

    # Both workers were told to stop by the chief and exited cleanly, without restarts.
    launch = json.loads((workers_dir / "launch.json").read_text())
    assert launch == result.distributed
    assert launch["status"] == "done" and launch["port"] > 0
    for worker in launch["processes"]:
        assert [p["returncode"] for p in worker["processes"]] == [0]
        assert not _alive(worker["processes"][0]["pid"])


def test_a_worker_killed_mid_trial_is_restarted_and_its_trial_retried(tmp_path):
    project_dir = tmp_path / "softmax_regression-blobs_4d3c-random" / "version_0"
    killed = {}

    def kill_first_running_trial():
        # SIGKILL the worker of the first trial seen running (started, not ended).
        deadline = time.monotonic() + TIMEOUT
        while not killed and time.monotonic() < deadline:
            for trial_id, records in _runs(project_dir).items():
                if len(records) == 1 and records[0]["event"] == "start":
                    os.kill(records[0]["pid"], signal.SIGKILL)
                    killed.update(trial_id=trial_id, **records[0])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_running_trial, daemon=True)
    killer.start()
    result = _search(tmp_path, workers=2, timeout=TIMEOUT)
    killer.join(5)

    assert killed, "no trial was seen running"
    # The search ended with every trial completed once; the killed one was run again
    # from the start, by the restarted worker under the same tuner id.
    assert [r["trial_id"] for r in result.rows] == ["0", "1", "2", "3"]
    assert [r["status"] for r in result.rows] == ["COMPLETED"] * 4
    assert len(set(_choices(result.rows))) == 4
    runs = _runs(result.project_dir)
    for trial_id, records in runs.items():
        ends = [r for r in records if r["event"] == "end"]
        assert len(ends) == 1 and ends[0]["status"] == "COMPLETED", trial_id
    retried = runs[killed["trial_id"]]
    assert [(r["event"], r["run"]) for r in retried] == [("start", 0), ("start", 1), ("end", 1)]
    assert retried[1]["tuner_id"] == killed["tuner_id"]
    assert retried[1]["pid"] != killed["pid"]
    assert all(len(records) == 2 for t, records in runs.items() if t != killed["trial_id"])

    launch = result.distributed
    worker = next(w for w in launch["processes"] if w["tuner_id"] == killed["tuner_id"])
    assert [p["returncode"] for p in worker["processes"]] == [-signal.SIGKILL, 0]
    assert worker["restarts"] == 1
    other = next(w for w in launch["processes"] if w["tuner_id"] != killed["tuner_id"])
    assert [p["returncode"] for p in other["processes"]] == [0]
    log = (result.project_dir / "workers" / f"{killed['tuner_id']}.log").read_text()
    assert f"(pid {killed['pid']}) was killed by SIGKILL; restarting it" in log


def test_dead_worker_policy_retries_then_fails_the_trial_then_gives_up(tmp_path):
    """In-process: the chief's reaction to a worker's death, without starting processes."""
    import zoo
    from keras_tuner.src.engine import oracle as oracle_module

    from tuning.hypermodel import ZooHyperModel
    from tuning.tuners import make_tuner
    from zoo.runtime.plan import plan_data

    def tuner(failures, name):
        spec = zoo.get_spec("softmax_regression")
        return make_tuner("random", ZooHyperModel(spec, plan_data(spec, "blobs_4d3c")),
                          objective="val_loss", max_trials=4, epochs=1, seed=0,
                          hyperparameters=None, directory=tmp_path, project_name=name,
                          max_consecutive_failed_trials=failures)

    oracle = tuner(3, "p").oracle
    oracle.verbose = 0
    server = distributed.OracleServer(oracle)
    starts = []
    worker = Worker("tuner0", [], {}, tmp_path / "tuner0.log")
    worker.start = lambda: starts.append(1)
    deaths = distributed.collections.Counter()

    def die():
        worker.exits.append({"pid": 100 + len(worker.exits), "returncode": -9})
        distributed._on_worker_death(server, worker, -9, deaths)

    try:
        first = oracle.create_trial("tuner0")
        die()  # first death: restarted, the trial stays with tuner0 to be run again
        assert len(starts) == 1 and oracle.ongoing_trials["tuner0"] is first
        assert oracle.create_trial("tuner0") is first
        die()  # second death during the same trial: it is recorded as failed
        assert len(starts) == 2 and "tuner0" not in oracle.ongoing_trials
        assert first.status == "FAILED"
        assert first.message == ("The worker tuner0 (pid 101) was killed by SIGKILL during "
                                 "this trial (2 time(s)).")
        second = oracle.create_trial("tuner0")
        assert second.trial_id != first.trial_id
        die()  # third death: not restarted, its trial failed, the chief stops waiting
        assert len(starts) == 2
        assert second.status == "FAILED" and "tuner0" not in oracle.tuner_ids
        assert "restarting it as tuner0" in worker.log.read_text()
    finally:
        server.stop()

    # A failed trial that is one too many ends the search, as in one process; the
    # oracle's lock is released (Keras Tuner's `synchronized` keeps it on errors).
    oracle = tuner(1, "q").oracle
    oracle.verbose = 0
    server = distributed.OracleServer(oracle)
    worker = Worker("tuner1", [], {}, tmp_path / "tuner1.log")
    worker.start = lambda: None
    try:
        oracle.create_trial("tuner1")
        worker.exits.append({"pid": 1, "returncode": 1})
        deaths = distributed.collections.Counter({"0": 1})  # its worker died once before
        distributed._on_worker_death(server, worker, 1, deaths)
        assert "Number of consecutive failures exceeded the limit of 1" in str(server.error)
        assert server.done()
        assert not oracle_module.LOCKS[oracle].locked()
    finally:
        server.stop()


def test_timeout_stops_the_workers_and_writes_the_table(tmp_path):
    with pytest.raises(TimeoutError, match=r"did not end within timeout=2 s; its workers "
                                           r"were stopped"):
        _search(tmp_path, workers=2, timeout=2)
    project_dir = tmp_path / "softmax_regression-blobs_4d3c-random" / "version_0"
    launch = json.loads((project_dir / "workers" / "launch.json").read_text())
    assert launch["status"] == "timeout"
    pids = [p["pid"] for w in launch["processes"] for p in w["processes"]]
    assert len(pids) == 2 and not any(_alive(pid) for pid in pids)
    assert isinstance(tuning.read_table(project_dir), list)


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "`workers` must be an integer >= 1. Received: workers=0"),
    ({"workers": 2, "timeout": -1}, "`timeout` must be a number of seconds > 0. "
                                    "Received: timeout=-1"),
])
def test_invalid_distributed_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as info:
        _search(tmp_path, **kwargs)
    assert str(info.value) == message
    assert not tmp_path.joinpath("softmax_regression-blobs_4d3c-random").exists()


def test_workers_are_refused_inside_a_distributed_process(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner3")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    with pytest.raises(ValueError) as info:
        _search(tmp_path, workers=2)
    assert str(info.value) == (
        "`workers` starts a chief and local workers; this process is already the worker "
        "of a distributed search (KERASTUNER_TUNER_ID='tuner3'). Received: workers=2")
    monkeypatch.setenv(distributed.RPC_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match=r"ZOO_TUNER_RPC_TIMEOUT must be a number of seconds "
                                         r"> 0\. Received: 'soon'"):
        distributed.rpc_timeout()


def test_workers_exit_when_the_chief_dies(tmp_path):
    """SIGKILL the chief (`zoo tune --workers 2`) mid-search: its workers exit at once."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(distributed.Path(tuning.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    chief = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "tune", "softmax_regression", "--data", "blobs_4d3c",
         "--tuner", "random", "--max-trials", "20", "--epochs", "3", "--workers", "2",
         "--timeout", str(TIMEOUT), "--directory", str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    project_dir = tmp_path / "softmax_regression-blobs_4d3c-random" / "version_0"
    try:
        deadline = time.monotonic() + TIMEOUT
        while not any(len(r) for r in _runs(project_dir).values()):  # a trial has started
            assert time.monotonic() < deadline and chief.poll() is None
            time.sleep(0.1)
        launch = json.loads((project_dir / "workers" / "launch.json").read_text())
        pids = [p["pid"] for w in launch["processes"] for p in w["processes"]]
        chief.send_signal(signal.SIGKILL)
        chief.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in pids)
    finally:
        if chief.poll() is None:
            chief.kill()


@pytest.mark.slow
def test_the_cross_machine_recipe_on_loopback(tmp_path):
    """The README's recipe: `zoo tune` with Keras Tuner's variables set, chief and 2 workers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_OFFLINE": "1",
            "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
            "PYTHONPATH": os.pathsep.join([str(distributed.Path(tuning.__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "zoo.cli", "tune", "softmax_regression", "--data",
               "blobs_4d3c", "--tuner", "random", "--max-trials", "3", "--epochs", "1",
               "--directory", str(tmp_path)]
    procs = {tid: subprocess.Popen(command + (["--timeout", "200"] if tid == "chief" else []),
                                   env={**base, "KERASTUNER_TUNER_ID": tid}, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for tid in ("chief", "tuner0", "tuner1")}
    try:
        out = {tid: p.communicate(timeout=TIMEOUT)[0] for tid, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    assert {tid: p.returncode for tid, p in procs.items()} == {"chief": 0, "tuner0": 0, "tuner1": 0}
    rows = tuning.read_table(tmp_path / "softmax_regression-blobs_4d3c-random" / "version_0")
    assert [(r["trial_id"], r["status"]) for r in rows] == [(str(i), "COMPLETED") for i in range(3)]
    ran = [line for tid in ("tuner0", "tuner1") for line in out[tid].splitlines()
           if line.startswith(f"Worker {tid} ran trial(s)")]
    assert len(ran) == 2 and "Best hyperparameters" in out["chief"]
