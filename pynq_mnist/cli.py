"""``pynq-mnist``: one command line for both sides.

Each sub-command lives in the module named in :data:`COMMANDS`, which defines
``add_arguments(parser)`` and ``run(args) -> int``. Those modules import their
heavy dependencies (TensorFlow, hls4ml, pynq) inside ``run``, so ``pynq-mnist
--help`` and the board-side commands never load TensorFlow.

Errors map to exit statuses here, once (:mod:`pynq_mnist.errors`): a refused input
or environment (and a missing file) ends the command with one line that says what
is wrong and how to fix it, and exit status 2; a failure of the hardware or a tool
with one line and 1; Ctrl-C with 130. Never a traceback for either.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from pynq_mnist.errors import EXIT_INTERRUPTED, EXIT_REFUSED, PynqMnistError

#: Commands that pick up where an interrupted run stopped (the others start over).
RESUMABLE = ("train", "build-overlay", "pipeline")
COMMANDS = {
    "train": ("pynq_mnist.host_training.training.cli", "train a teacher and a compressed student"),
    "tune": (
        "pynq_mnist.host_training.training.search.cli",
        "design search: the Pareto front of accuracy against hardware cost",
    ),
    "convert": ("pynq_mnist.host_training.conversion.cli", "student -> hls4ml IP + overlay bundle"),
    "build-overlay": ("pynq_mnist.vivado_bd.build", "HLS + Vivado: bundle -> bitstream"),
    "bench": ("pynq_mnist.board.bench", "accuracy and latency on the board (or emulator)"),
    "accept": ("pynq_mnist.board.accept", "board tests + a short bench -> a report to attach"),
    "pipeline": (
        "pynq_mnist.host_training.pipeline",
        "the main job: train -> convert -> emulated board",
    ),
    "data": (
        "pynq_mnist.data_check",
        "check a dataset folder: counts, balance, checksums, samples",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (``--help`` imports none)."""
    parser = argparse.ArgumentParser(prog="pynq-mnist", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # TensorFlow's INFO start-up lines (oneDNN, CPU features) say nothing to a user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(command)
    except ImportError as e:  # e.g. the board side under pynq 4 (board/pynq_version.py)
        hint = " (the host commands need: pip install 'pynq-mnist[host]')" * isinstance(
            e, ModuleNotFoundError
        )
        print(f"pynq-mnist {command}: error: {e}{hint}", file=sys.stderr)
        return EXIT_REFUSED
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["pynq-mnist", *argv])  # recorded by commands that write results
    try:
        return int(args._run(args) or 0)
    except PynqMnistError as e:
        print(f"pynq-mnist {args.command}: error: {e}", file=sys.stderr)
        return e.exit_status
    except OSError as e:  # the environment: a missing file, a full disk, a read-only folder
        from pynq_mnist.outputs import environment_error

        message = environment_error(e)
        if message is None:
            raise
        print(f"pynq-mnist {args.command}: error: {message}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if args.command in RESUMABLE else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
