"""The one process supervisor (`zoo.runtime.supervisor`) that `zoo launch` and the
distributed search share: output relayed or logged, restarts recorded, stops that
escalate to SIGKILL, exit codes in words. Tiny Python processes, no TensorFlow."""

from __future__ import annotations

import io
import signal
import sys
import time

from tuning import distributed
from zoo.runtime import launch, supervisor
from zoo.runtime.supervisor import Worker, describe_exit, shell_exit_code, stop


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_both_process_runners_use_the_one_supervisor():
    assert launch.Worker is distributed.Worker is supervisor.Worker
    assert launch.stop is distributed.stop is supervisor.stop


def test_output_is_relayed_line_by_line_and_exits_are_recorded():
    lines = []
    worker = Worker("0", _python("print('a'); print('b'); raise SystemExit(3)"), {},
                    relay=lambda line: lines.append("[w] " + line))
    worker.start()
    pid = worker.process.pid
    assert worker.wait(timeout=30) == 3
    worker.join_output()
    assert lines == ["[w] a", "[w] b"]
    assert worker.exits == [{"pid": pid, "returncode": 3}] and worker.process is None
    assert worker.processes() == [{"pid": pid, "returncode": 3}] and worker.restarts == 0


def test_a_restarted_worker_appends_to_its_log_and_counts_the_restart(tmp_path):
    log = tmp_path / "tuner0.log"
    worker = Worker("tuner0", _python("import sys; print('run'); sys.exit(1)"), {}, log=log)
    worker.start()
    assert worker.wait(timeout=30) == 1
    worker.start()
    worker.wait(timeout=30)
    assert log.read_text().split() == ["run", "run"]
    assert [p["returncode"] for p in worker.processes()] == [1, 1] and worker.restarts == 1


def test_stop_terminates_then_kills_what_ignores_sigterm():
    stubborn = Worker("0", _python(
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"), {}, relay=lambda line: ready.append(line))
    polite = Worker("1", _python("import time; time.sleep(60)"), {}, relay=lambda line: None)
    ready: list[str] = []
    stubborn.start()
    polite.start()
    deadline = time.monotonic() + 30
    while not ready and time.monotonic() < deadline:  # SIGTERM is ignored from here on
        time.sleep(0.02)
    killed = []
    stop([stubborn, polite], grace=1.0, on_kill=lambda w: killed.append(w.name))
    assert killed == ["0"]
    assert stubborn.returncode == -signal.SIGKILL and polite.returncode == -signal.SIGTERM
    assert stubborn.process is None and polite.process is None


def test_exit_codes_in_words_and_as_a_shell_says_them():
    assert describe_exit(2) == "exited with code 2"
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(-99) == "was killed by signal 99"
    assert shell_exit_code(-15) == 143 and shell_exit_code(2) == 2


def test_launch_stops_the_others_when_one_worker_fails(monkeypatch):
    """`launch` on the supervisor: a failing worker stops the rest; the chief's code."""
    def fake_command(command):
        return command

    monkeypatch.setattr(launch, "worker_command", fake_command)
    # Worker 0 (the chief) runs until stopped; worker 1 fails at once.
    script = ("import json, os, sys, time; i = json.loads(os.environ['TF_CONFIG'])['task']['index']; "
              "print('hello', i, flush=True); time.sleep(60) if i == 0 else sys.exit(5)")
    monkeypatch.setattr(launch, "_worker_argv", lambda command: _python(script))
    out = io.StringIO()
    code = launch.launch(["anything"], workers=2, timeout=60, grace=5, out=out)
    text = out.getvalue()
    assert code == 128 + signal.SIGTERM, text
    assert "[worker 1] hello 1" in text
    assert "zoo launch: worker 1 exited with code 5; stopping the other workers" in text
