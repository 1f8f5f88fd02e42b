"""Every expected error of a `zoo` command is one `zoo: error:` line and exit code 2."""

import pytest

from zoo.cli import main


@pytest.mark.parametrize("argv, message", [
    (["generate", "missing_run"], "missing_run"),
    (["sample", "missing_run"], "missing_run"),
    (["tiles", "missing_run"], "missing_run"),
    (["codes", "missing_run"], "missing_run"),
    (["vectors", "missing_run"], "missing_run is not a finished word-vector run"),
    (["train", "mlp", "--set", "depth"], "--set must look like NAME=VALUE. Received: 'depth'"),
    (["stylize", "a.png", "b.png", "--weights", "none"], "image file a.png does not exist."),
])
def test_command_errors_are_one_line_with_exit_code_2(argv, message, capsys, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo: error: ") and message in err[0]
