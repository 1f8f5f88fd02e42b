"""Keras Tuner's distributed search: the chief's oracle server and local worker processes.

This is Keras Tuner's own chief/worker mode. The chief holds the oracle and
serves it over gRPC (`keras_tuner.src.distribute.oracle_chief.OracleServicer`);
a tuner started with `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` set becomes a worker: it asks the chief for trials
(`OracleClient`), runs them and reports their metrics.

`tuning.search(..., workers=N)` makes the calling process the chief and starts
N workers on loopback (`worker_main`, given the search's arguments as JSON in
`workers/search_args.json`: never a pickle, which would run any code planted
in the tuning folder).
What this module adds to Keras Tuner, all with bounded waits:

- `OracleServer`, the chief's serving loop. Keras Tuner's own
  (`oracle_chief.start_server`) polls every 20 s once the search winds down,
  has no deadline and never stops its server; this one polls every 0.1 s,
  answers STOPPED to any worker that asks after the search is done, stops, and
  ends the search when the oracle raises on too many consecutive failures.
- `run_chief`, which supervises the local workers: a worker that dies is
  restarted (see `_on_worker_death` for what happens to its trial), workers
  still running once the search is done are stopped after a grace period, and
  everything is stopped at the deadline.
- Workers started here exit when their parent (the chief) dies, and every
  gRPC call of a worker gives up after `ZOO_TUNER_RPC_TIMEOUT` seconds.
- The chief saves the oracle after each trial ends, so a finished search
  rerun starts no trial (Keras Tuner leaves the last one listed as ongoing).
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from collections.abc import Mapping
from concurrent import futures
from pathlib import Path

import grpc
import keras_tuner
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import trial as trial_module

from tuning.results import write_json
from zoo.runtime.supervisor import Worker, describe_exit, stop

WORKERS_DIR = "workers"  # in the project folder: search_args.json, <tuner_id>.log, launch.json
ARGS_FILE = "search_args.json"
RPC_TIMEOUT_ENV = "ZOO_TUNER_RPC_TIMEOUT"
DEFAULT_RPC_TIMEOUT = 600.0  # seconds; Keras Tuner's own is one hour
PARENT_ENV = "ZOO_TUNER_PARENT_PID"
MAX_RESTARTS_PER_WORKER = 2
MAX_RUNS_PER_TRIAL = 2  # a trial whose worker died this many times is recorded as failed
GRACE_SECONDS = 60.0  # for workers still running when the search is done (e.g. still starting)
POLL_SECONDS = 0.1


def role() -> str:
    """This process's part: "single", or "chief" / "worker" from Keras Tuner's variables."""
    from keras_tuner.src.distribute import utils as dist_utils

    if not dist_utils.has_chief_oracle():  # raises when IP is set without PORT or TUNER_ID
        return "single"
    return "chief" if dist_utils.is_chief_oracle() else "worker"


def rpc_timeout() -> float:
    """Seconds a worker's gRPC call waits for the chief (`ZOO_TUNER_RPC_TIMEOUT`)."""
    value = os.environ.get(RPC_TIMEOUT_ENV, "")
    try:
        seconds = float(value) if value else DEFAULT_RPC_TIMEOUT
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(
            f"{RPC_TIMEOUT_ENV} must be a number of seconds > 0. Received: {value!r}"
        )
    return seconds


class _ChiefServicer(oracle_chief.OracleServicer):
    """Keras Tuner's servicer, closable, and surviving the oracle's consecutive-failure error."""

    def __init__(self, oracle):
        super().__init__(oracle)
        self.closed = False
        self.error: Exception | None = None

    def CreateTrial(self, request, context):
        if self.closed or self.error is not None:
            trial = trial_module.Trial(self.oracle.get_space(),
                                       status=trial_module.TrialStatus.STOPPED)
            return protos.get_service().CreateTrialResponse(trial=trial.to_proto())
        return super().CreateTrial(request, context)

    def EndTrial(self, request, context):
        try:
            _end_trial(self.oracle, trial_module.Trial.from_proto(request.trial))
            return protos.get_service().EndTrialResponse()
        except RuntimeError as e:
            if "consecutive failures" not in str(e):
                raise
            _release(self.oracle)
            self.error = e  # the chief ends the search; the worker's call succeeds
            return protos.get_service().EndTrialResponse()


def _release(oracle) -> None:
    # Keras Tuner's `synchronized` does not release the oracle's lock when the call
    # raises (keras_tuner/src/engine/oracle.py, 1.4.8): release it so later calls work.
    if oracle_module.LOCKS[oracle].locked():
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


class OracleServer:
    """Serves `oracle` to Keras Tuner workers over gRPC at `host:port` (0: a free port).

    Attributes:
        port: The port bound (the free one chosen when 0 was asked).
        error: The oracle's error that ended the search (too many consecutive
            failures), else None.
    """

    def __init__(self, oracle, host: str = "127.0.0.1", port: int = 0):
        self.oracle = oracle
        self.servicer = _ChiefServicer(oracle)
        # One thread, as Keras Tuner's: the oracle serializes its calls anyway.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        protos.get_service_grpc().add_OracleServicer_to_server(self.servicer, self._server)
        try:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        except RuntimeError as e:
            raise RuntimeError(
                f"The chief cannot serve the oracle at {host}:{port} ({e}). "
                f"Is the port in use, or the address not this machine's?"
            ) from None
        self._server.start()

    @property
    def error(self) -> Exception | None:
        return self.servicer.error

    def done(self) -> bool:
        """Whether the search is over: stopped, no trial running, every worker told to stop."""
        if self.servicer.error is not None:
            return True
        return self.servicer.stop_triggered and oracle_chief.exit_chief(self.oracle)

    def close(self) -> None:
        """From now on every worker asking for a trial is told to stop."""
        self.servicer.closed = True

    def stop(self) -> None:
        self.close()
        self._server.stop(grace=1).wait(5)


@oracle_module.synchronized
def _ongoing_trial(oracle, tuner_id):
    return oracle.ongoing_trials.get(tuner_id)


@oracle_module.synchronized
def _forget_tuner(oracle, tuner_id) -> None:
    oracle.tuner_ids.discard(tuner_id)


@oracle_module.synchronized
def _end_trial(oracle, trial) -> None:
    """`oracle.end_trial`, then save the oracle.

    Keras Tuner's `end_trial` saves the oracle before it drops the trial from
    the ongoing ones, and only a tuner's `on_trial_end` saves it again. A chief
    runs no tuner loop: without this save its `oracle.json` lists the last
    trial as ongoing, and rerunning the finished search runs that trial again.
    """
    oracle.end_trial(trial)
    oracle.save()


def _fail_trial(oracle, trial, message: str) -> None:
    """End `trial` as FAILED in the chief, as a worker would report a failed trial."""
    ended = trial_module.Trial(trial.hyperparameters.copy(), trial_id=trial.trial_id,
                               status=trial_module.TrialStatus.FAILED, message=message)
    try:
        _end_trial(oracle, ended)
    except RuntimeError:
        _release(oracle)
        raise


def run_chief(
    tuner,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    workers: int = 0,
    search_args: dict | None = None,
    timeout: float | None = None,
) -> dict:
    """Serve `tuner`'s oracle until the search is done, running `workers` local workers.

    Args:
        tuner: The chief's tuner; its oracle is served.
        host, port: Where to serve (port 0: a free one).
        workers: Local worker processes to start (0: workers are started elsewhere).
        search_args: `tuning.search` keyword arguments for the workers.
        timeout: Seconds the whole search may take (None: no limit).

    Returns:
        What ran: host, port, workers, seconds and each worker's processes,
        also written to `workers/launch.json` in the project folder.

    Raises:
        TimeoutError: when `timeout` passed (workers are stopped first).
        RuntimeError: when the oracle stopped the search (consecutive failures),
            or every worker died and none may be restarted.
    """
    project_dir = Path(tuner.project_dir)
    run_dir = project_dir / WORKERS_DIR
    server = OracleServer(tuner.oracle, host, port)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    info = {"host": host, "port": server.port, "workers": workers, "timeout": timeout}
    pool: list[Worker] = []

    def record(**extra):
        info.update(extra, processes=[_summary(w) for w in pool],
                    seconds=round(time.monotonic() - started, 3))
        write_json(run_dir / "launch.json", info)

    status = "failed"
    try:
        if workers:
            pool.extend(_start_workers(workers, search_args, host, server.port, run_dir))
            record(status="running")
        if not _serve_until_done(server, pool, run_dir, deadline,
                                 on_death=lambda: record(status="running")):
            raise TimeoutError(
                f"The distributed search did not end within timeout={timeout} s; "
                f"its workers were stopped. See {run_dir}."
            )
        server.close()  # late workers are told to stop at once
        _wait_for_late_workers(pool, deadline)
        status = "failed" if server.error else "done"
    except TimeoutError:
        status = "timeout"
        raise
    finally:
        stop(pool, grace=5.0)
        server.stop()
        if pool:
            record(status=status)
    if server.error is not None:
        raise server.error
    return info


def _start_workers(workers: int, search_args: dict | None, host: str, port: int,
                   run_dir: Path) -> list[Worker]:
    """Write the search arguments for the workers, then start `workers` of them."""
    run_dir.mkdir(parents=True, exist_ok=True)
    args_path = run_dir / ARGS_FILE
    write_json(args_path, encode_args(search_args or {}))
    pool = [_make_worker(f"tuner{i}", args_path, host, port, run_dir) for i in range(workers)]
    for worker in pool:
        worker.start()
    return pool


def _serve_until_done(server: OracleServer, pool: list[Worker], run_dir: Path,
                      deadline: float | None, on_death) -> bool:
    """Poll until the search is done (True) or `deadline` passed (False), restarting
    dead workers (`on_death()` after each).

    Raises:
        RuntimeError: every worker has exited and the search is not done.
    """
    deaths: collections.Counter = collections.Counter()  # trial_id -> times its worker died
    while not server.done():
        if deadline is not None and time.monotonic() > deadline:
            return False
        for worker in pool:
            code = worker.poll()
            if code is not None and code != 0:
                _on_worker_death(server, worker, code, deaths)
                on_death()
        if pool and all(w.process is None for w in pool) and not server.done():
            raise RuntimeError(
                f"Every worker has exited and the search is not done. See the logs in "
                f"{run_dir}: " + "; ".join(_last_line(w.log) for w in pool)
            )
        time.sleep(POLL_SECONDS)
    return True


def _wait_for_late_workers(pool: list[Worker], deadline: float | None) -> None:
    """Give workers still running once the search is done `GRACE_SECONDS` to exit."""
    grace = time.monotonic() + GRACE_SECONDS
    while any(w.process is not None for w in pool):
        if time.monotonic() > grace or (deadline is not None and time.monotonic() > deadline):
            return
        for worker in pool:
            worker.poll()
        time.sleep(POLL_SECONDS)


def _on_worker_death(server: OracleServer, worker: Worker, code: int, deaths) -> None:
    """A worker died before the search ended: restart it, and retry or fail its trial.

    Keras Tuner's oracle keeps a trial "ongoing" until its worker reports it;
    a worker that vanished never does, and the chief would wait for it
    forever. The oracle hands an ongoing trial back to a worker that asks again
    with the same tuner id (`Oracle.create_trial`, meant for multi-worker
    trials), so the dead worker is restarted under its tuner id and runs its
    trial again from the start: a trial is retried, not lost. A trial whose
    worker died `MAX_RUNS_PER_TRIAL` times (it may be what kills the worker,
    e.g. out of memory) is ended here as FAILED instead, and the restarted
    worker gets a new one. A worker restarted `MAX_RESTARTS_PER_WORKER` times
    is not started again: its trial is recorded as failed and the chief stops
    waiting for it.
    """
    oracle = server.oracle
    how = f"worker {worker.name} (pid {worker.exits[-1]['pid']}) {describe_exit(code)}"
    trial = _ongoing_trial(oracle, worker.name)
    restart = len(worker.exits) <= MAX_RESTARTS_PER_WORKER
    if trial is not None:
        deaths[trial.trial_id] += 1
        if deaths[trial.trial_id] >= MAX_RUNS_PER_TRIAL or not restart:
            try:
                _fail_trial(oracle, trial, f"The {how} during this trial "
                                           f"({deaths[trial.trial_id]} time(s)).")
            except RuntimeError as e:  # too many consecutive failures: the search ends
                server.servicer.error = e
                return
    if restart:
        with open(worker.log, "a") as log:
            log.write(f"\n[chief] The {how}; restarting it as {worker.name}.\n")
        worker.start()
    else:
        _forget_tuner(oracle, worker.name)


def _make_worker(tuner_id: str, args_path: Path, host: str, port: int, run_dir: Path) -> Worker:
    root = str(Path(__file__).resolve().parents[1])  # this checkout's packages
    env = {
        **os.environ,
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": host,
        "KERASTUNER_ORACLE_PORT": str(port),
        PARENT_ENV: str(os.getpid()),
        "PYTHONPATH": os.pathsep.join(p for p in [root, os.environ.get("PYTHONPATH")] if p),
    }
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log = run_dir / f"{tuner_id}.log"
    command = [sys.executable, "-c", _WORKER_MAIN, str(args_path)]
    return Worker(tuner_id, command, env, log=log)


def _summary(worker: Worker) -> dict:
    """A worker's row of `launch.json`."""
    return {"tuner_id": worker.name, "log": str(worker.log), "processes": worker.processes(),
            "restarts": worker.restarts}


# `-c`, not `-m tuning.distributed`: the package imports this module first.
_WORKER_MAIN = "import sys; from tuning.search import worker_main; sys.exit(worker_main())"


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    return f"{path.stem}: {lines[-1] if lines else '(no output)'}"


def watch_parent() -> None:
    """Exit at once when the process that started this one is gone (the chief died)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return

    def watch():
        while os.getppid() == int(parent):
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


# Search arguments as JSON. Tuples and a `keras_tuner.Objective` are tagged so that a
# worker gets the very values the chief was given; anything else is refused.
_TUPLE, _OBJECTIVE = "__tuple__", "__objective__"
_JSON_VALUES = ("None, booleans, numbers, strings, and lists, tuples and string-keyed "
                "dicts of them")


class _NotJSON(Exception):
    pass


def encode_args(search_args: Mapping) -> dict:
    """`tuning.search` keyword arguments as JSON values, for `worker_main`.

    Raises:
        ValueError: naming the first argument that holds something else
            (a function, a set, a NumPy array, ...): a worker must never unpickle.
    """
    encoded = {}
    for name, value in search_args.items():
        try:
            encoded[name] = _encode(value)
        except _NotJSON:
            raise ValueError(
                f"`{name}` must hold only JSON values ({_JSON_VALUES}) to reach the workers "
                f"of a distributed search. Received: {name}={value!r}"
            ) from None
    return encoded


def decode_args(data: Mapping) -> dict:
    """The inverse of `encode_args`."""
    return {name: _decode(value) for name, value in data.items()}


def _encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_encode(v) for v in value]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if type(value) is keras_tuner.Objective:
        return {_OBJECTIVE: [value.name, value.direction]}
    if (isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
            and not {_TUPLE, _OBJECTIVE} & set(value)):
        return {k: _encode(v) for k, v in value.items()}
    raise _NotJSON


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {_TUPLE}:
        return tuple(_decode(v) for v in value[_TUPLE])
    if set(value) == {_OBJECTIVE}:
        return keras_tuner.Objective(*value[_OBJECTIVE])
    return {k: _decode(v) for k, v in value.items()}
