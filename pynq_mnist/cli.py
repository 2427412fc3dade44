"""``pynq-mnist``: one command line for both sides.

Each sub-command lives in the module named in :data:`COMMANDS`, which defines
``add_arguments(parser)`` and ``run(args) -> int``. Those modules import their
heavy dependencies (TensorFlow, hls4ml, pynq) inside ``run``, so ``pynq-mnist
--help`` and the board-side commands never load TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

#: Commands that pick up where an interrupted run stopped (the others start over).
RESUMABLE = ("train", "build-overlay", "pipeline")
COMMANDS = {
    "train": ("pynq_mnist.host_training.training.cli", "train a teacher and a compressed student"),
    "convert": ("pynq_mnist.host_training.conversion.cli", "student -> hls4ml IP + overlay bundle"),
    "build-overlay": ("pynq_mnist.vivado_bd.build", "HLS + Vivado: bundle -> bitstream"),
    "bench": ("pynq_mnist.board.bench", "accuracy and latency on the board (or emulator)"),
    "accept": ("pynq_mnist.board.accept", "board tests + a short bench -> a report to attach"),
    "pipeline": ("pynq_mnist.pipeline", "the main job: train -> convert -> emulated board"),
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
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    args.command_line = shlex.join(["pynq-mnist", *argv])  # recorded by commands that write results
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if args.command in RESUMABLE else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
