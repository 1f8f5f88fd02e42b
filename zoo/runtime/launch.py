"""`zoo launch`: N local workers of a multi-worker command, for trying it on one machine.

Each worker is `python -m zoo.cli COMMAND ...` with its own TF_CONFIG:

    {"cluster": {"worker": ["127.0.0.1:P0", "127.0.0.1:P1", ...]},
     "task": {"type": "worker", "index": i}}

on free loopback ports. Worker 0 is the chief. Their output is printed line by line,
prefixed `[worker i]`. When one worker fails the others are stopped (SIGTERM, then
SIGKILL after `grace` seconds), since synchronous training cannot go on without it;
all of them are stopped after `timeout` seconds. The exit code is the chief's.
On a real cluster, set TF_CONFIG on each machine instead (see README, Scale-out).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import TextIO

from zoo._common import check_positive_int
from zoo.runtime.supervisor import Worker, shell_exit_code, stop

LOOPBACK = "127.0.0.1"


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """`n` distinct ports that are free on `host` now (all probed at once, then released)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(addresses: list[str], index: int) -> str:
    """The TF_CONFIG of worker `index` in a cluster of `addresses` (worker 0 is the chief)."""
    return json.dumps({"cluster": {"worker": addresses},
                       "task": {"type": "worker", "index": index}})


def worker_command(command: list[str]) -> list[str]:
    """The zoo command each worker runs; `train` gets `--strategy multiworker` (and
    `--verbose 2`) unless it says otherwise."""
    if not command:
        raise ValueError("zoo launch needs a zoo command after `--`, e.g. "
                         "zoo launch --workers 2 -- train mlp --data digits")
    command = list(command)
    if command[0] == "train":
        if _option(command, "--verbose") is None:
            command += ["--verbose", "2"]  # one line per epoch, not progress bars in a pipe
        strategy = _option(command, "--strategy")
        if strategy is None:
            command += ["--strategy", "multiworker"]
        elif strategy not in ("multiworker", "auto"):
            raise ValueError(
                "zoo launch runs one training over several workers: use --strategy "
                f"multiworker (or leave it out). Received: --strategy {strategy}")
    return command


def _worker_argv(command: list[str]) -> list[str]:
    """A worker's argv: this Python running the zoo command line."""
    return [sys.executable, "-m", "zoo.cli", *command]


def _option(command: list[str], name: str) -> str | None:
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def launch(
    command: list[str],
    workers: int = 2,
    *,
    timeout: float = 3600.0,
    grace: float = 30.0,
    env: dict | None = None,
    out: TextIO | None = None,
) -> int:
    """Run `zoo COMMAND` as `workers` local processes of one cluster; the chief's exit code.

    Returns 124 when `timeout` seconds pass first (all workers are then stopped).
    """
    check_positive_int("workers", workers)
    if timeout <= 0 or grace < 0:
        raise ValueError(f"`timeout` must be > 0 and `grace` >= 0. Received: "
                         f"timeout={timeout}, grace={grace}")
    command = worker_command(command)
    out = out or sys.stdout
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            out.write(line if line.endswith("\n") else line + "\n")
            out.flush()

    addresses = [f"{LOOPBACK}:{port}" for port in free_ports(workers)]
    base_env = dict(os.environ if env is None else env)
    pool: list[Worker] = []
    say(f"zoo launch: {workers} workers on {', '.join(addresses)}: zoo {' '.join(command)}")
    try:
        for i in range(workers):
            worker = Worker(
                str(i), _worker_argv(command),
                env={**base_env, "TF_CONFIG": tf_config(addresses, i), "PYTHONUNBUFFERED": "1"},
                relay=lambda line, prefix=f"[worker {i}] ": say(prefix + line),
            )
            worker.start()
            pool.append(worker)
            say(f"zoo launch: worker {i} started (pid {worker.process.pid})"
                + (", the chief" if i == 0 else ""))
        code = _wait(pool, timeout, grace, say)
    finally:
        _stop(pool, 0, say)
        for worker in pool:
            worker.join_output(timeout=5)
    return code


def _wait(pool: list[Worker], timeout: float, grace: float, say) -> int:
    """Wait for all workers; stop the rest when one fails; the chief's exit code."""
    deadline = time.monotonic() + timeout
    chief_done_at = None
    while True:
        for worker in pool:
            worker.poll()
        codes = [worker.returncode for worker in pool]
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            i, c = failed[0]
            if any(worker.process is not None for worker in pool):
                say(f"zoo launch: worker {i} exited with code {c}; stopping the other workers")
                _stop(pool, grace, say)
            return shell_exit_code(pool[0].wait())
        if all(c == 0 for c in codes):
            return 0
        now = time.monotonic()
        if codes[0] == 0 and chief_done_at is None:
            chief_done_at = now
        if chief_done_at is not None and now - chief_done_at > grace:
            say(f"zoo launch: the chief finished but workers still run after {grace:g} s; "
                f"stopping them")
            _stop(pool, 0, say)
            return 0
        if now > deadline:
            say(f"zoo launch: timeout after {timeout:g} s; stopping all workers")
            _stop(pool, grace, say)
            return 124
        time.sleep(0.1)


def _stop(pool: list[Worker], grace: float, say) -> None:
    """The shared supervisor's stop, saying which worker ignored SIGTERM."""
    stop(pool, grace, on_kill=lambda worker: say(
        f"zoo launch: pid {worker.process.pid} ignored SIGTERM; killing it"))
