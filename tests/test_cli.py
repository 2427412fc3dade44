"""The command line: --help loads no TensorFlow, and every command maps each kind of
error to its exit status (pynq_mnist/errors.py): refused 2, failed 1, interrupted 130."""

import importlib
import subprocess
import sys

import pytest

from pynq_mnist import cli
from pynq_mnist.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REFUSED, Failed, Refused

#: Each command's arguments that parse (its ``run`` is replaced in the mapping tests).
ARGV = {
    "train": ["--arch", "cnn", "--out", "OUT"],
    "tune": ["--arch", "cnn", "--out", "OUT"],
    "convert": ["RUN", "--out", "OUT"],
    "build-overlay": ["BUNDLE"],
    "bench": ["BUNDLE"],
    "accept": ["BUNDLE"],
    "pipeline": [],
    "data": ["check", "DIR"],
}


def test_every_command_has_a_case():
    assert set(ARGV) == set(cli.COMMANDS)


def test_help_of_every_command_loads_no_tensorflow():
    code = (
        "import sys, contextlib, io\n"
        "from pynq_mnist import cli\n"
        f"for command in {sorted(cli.COMMANDS)!r}:\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        cli.main([command, '--help'])\n"
        "    assert 'tensorflow' not in sys.modules, command\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def _raising(error: BaseException):
    def run(args):
        raise error

    return run


@pytest.mark.parametrize("command", sorted(ARGV))
@pytest.mark.parametrize(
    "error,status",
    [
        (Refused("the bundle at X is not one: rebuild it"), EXIT_REFUSED),
        (Failed("the DMA stopped with DMAIntErr"), EXIT_FAILED),
        (FileNotFoundError("no such file: X"), EXIT_REFUSED),
        (PermissionError(13, "Permission denied", "/read-only"), EXIT_REFUSED),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_each_kind_of_error_ends_a_command_with_its_status_and_one_line(
    command, error, status, monkeypatch, capsys
):
    module = importlib.import_module(cli.COMMANDS[command][0])
    monkeypatch.setattr(module, "run", _raising(error))
    assert cli.main([command, *ARGV[command]]) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    if status != EXIT_INTERRUPTED:
        assert err[0].startswith(f"pynq-mnist {command}: error: ") and str(error) in err[0]


def test_a_bug_is_not_swallowed(monkeypatch):
    module = importlib.import_module(cli.COMMANDS["bench"][0])
    monkeypatch.setattr(module, "run", _raising(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError):
        cli.main(["bench", "BUNDLE"])


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--arch", "cnn", "--config", "{missing}/c.json", "--out", "{tmp}/run"],
        ["tune", "--arch", "cnn", "--config", "{missing}/c.json", "--out", "{tmp}/s"],
        ["convert", "{missing}", "--out", "{tmp}/b"],
        ["build-overlay", "{missing}"],
        ["bench", "{missing}", "--out", "{tmp}/bench"],
        ["accept", "{missing}", "--out", "{tmp}/report"],
        ["pipeline", "--data", "{missing}", "--out", "{tmp}/p"],
        ["data", "check", "{missing}"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_missing_input_is_refused_with_exit_2(argv, tmp_path, capsys):
    argv = [a.format(missing=tmp_path / "missing", tmp=tmp_path) for a in argv]
    assert cli.main(argv) == EXIT_REFUSED
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith(f"pynq-mnist {argv[0]}: error: "), err
