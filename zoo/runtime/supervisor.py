"""Local worker processes under one supervisor: start, relay or log their output, stop.

`zoo launch` (`zoo.runtime.launch`) and Keras Tuner's distributed search
(`tuning.distributed`) both run N worker processes of this machine and must
never leave one behind. Each is a `Worker`: its output is either relayed line
by line to a callback (launch prefixes it `[worker i]`) or appended to a log
file (a search worker's `<tuner_id>.log`), and every process it ran is
recorded with its exit code. `stop` ends a group of them: SIGTERM, then
SIGKILL after a grace period.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable


def shell_exit_code(code: int) -> int:
    """A process killed by signal N reports -N; shells say 128 + N."""
    return 128 - code if code < 0 else code


def describe_exit(code: int) -> str:
    """How a process ended, in words: "exited with code 1", "was killed by SIGKILL"."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclasses.dataclass
class Worker:
    """One supervised worker; `start` may run it again (a restart) after it ended.

    Attributes:
        name: What the supervisor calls it (a search's tuner id, launch's index).
        command: The process's argv.
        env: Its whole environment.
        log: Output (stdout and stderr) is appended to this file; without one it
            is relayed line by line to `relay`.
        relay: Receives each output line, without its newline, when `log` is None.
        process: The running process, None before the first start and once it ended.
        exits: {"pid", "returncode"} of each process that has ended, in order.
    """

    name: str
    command: list
    env: dict
    log: Path | None = None
    relay: Callable[[str], None] | None = None
    process: subprocess.Popen | None = None
    exits: list = dataclasses.field(default_factory=list)
    _reader: threading.Thread | None = dataclasses.field(default=None, repr=False)

    def start(self) -> None:
        """Start the process (stdin closed: workers never read the terminal)."""
        if self.log is not None:
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            return
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._relay, args=(self.process.stdout,),
                                        daemon=True)
        self._reader.start()

    def _relay(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.relay(line.rstrip("\n"))
        stream.close()

    @property
    def returncode(self) -> int | None:
        """The exit code of the last process, None while one runs or before any ran."""
        if self.process is not None or not self.exits:
            return None
        return self.exits[-1]["returncode"]

    def poll(self) -> int | None:
        """The exit code of a process that just ended (and is recorded), else None."""
        if self.process is None:
            return None
        code = self.process.poll()
        if code is not None:
            self.exits.append({"pid": self.process.pid, "returncode": code})
            self.process = None
        return code

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the running process to end (TimeoutExpired after `timeout`); `returncode`."""
        if self.process is not None:
            self.process.wait(timeout)
            self.poll()
        return self.returncode

    def join_output(self, timeout: float = 5.0) -> None:
        """Wait until the relayed output is all through (after the process ended)."""
        if self._reader is not None:
            self._reader.join(timeout)

    def processes(self) -> list[dict]:
        """Every process it ran: the ended ones, then the running one (returncode None)."""
        running = [{"pid": self.process.pid, "returncode": None}] if self.process else []
        return self.exits + running

    @property
    def restarts(self) -> int:
        return len(self.exits) - (self.process is None)


def stop(workers: list[Worker], grace: float,
         on_kill: Callable[[Worker], None] | None = None) -> None:
    """SIGTERM every running worker, then SIGKILL whatever is left after `grace` seconds.

    `on_kill(worker)` is told before a worker that ignored SIGTERM is killed.
    """
    for worker in workers:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for worker in workers:
        try:
            worker.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            if on_kill is not None:
                on_kill(worker)
            worker.process.kill()
            worker.wait(timeout=10)
