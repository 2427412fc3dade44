"""``pynq-mnist convert RUN_DIR --out BUNDLE_DIR``: a trained student -> an overlay bundle."""

from __future__ import annotations

import argparse
import sys

from pynq_mnist.host_training.conversion.hls4ml_config import MULTS_PER_CYCLE

BACKENDS = ("hls4ml", "rtl")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished `pynq-mnist train` run")
    parser.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle folder to write")
    parser.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="MNIST folder (default: $PYNQ_MNIST_DATA or cache)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=BACKENDS[0],
        help="hls4ml: HLS C++ IP (default); rtl: the MLP as pipelined Verilog (da4ml), "
        "simulated with Verilator and counted with Yosys",
    )
    parser.add_argument(
        "--mults-per-cycle",
        type=_positive_int,
        default=None,
        help="hls4ml backend: multipliers per clock per layer; sets the reuse factors "
        f"(default {MULTS_PER_CYCLE})",
    )
    parser.add_argument(
        "--frames",
        type=_positive_int,
        default=None,
        help="verify on the first N test frames only (default all)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes that stream the frames through the compiled IP (default: one per CPU)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.board.emulator.iplib import IPLibraryError
    from pynq_mnist.board.emulator.rtl_sim import RTLSimulationError
    from pynq_mnist.bundle import BundleError
    from pynq_mnist.host_training.conversion.convert import convert
    from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError

    try:
        if args.backend == "rtl":
            from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl

            hls_only = [f"--{k.replace('_', '-')}" for k in ("mults_per_cycle", "workers")
                        if getattr(args, k) is not None]  # fmt: skip
            if hls_only:
                raise ConversionError(
                    f"{', '.join(hls_only)}: hls4ml options, not for --backend rtl"
                )
            convert_rtl(args.run_dir, args.out, args.data, args.frames)
        else:
            convert(
                args.run_dir,
                args.out,
                args.data,
                args.mults_per_cycle or MULTS_PER_CYCLE,
                args.frames,
                workers=args.workers,
            )
    except (
        ConversionError,
        BundleError,
        IPLibraryError,
        RTLSimulationError,
        FileNotFoundError,
    ) as e:
        print(f"pynq-mnist convert: {e}", file=sys.stderr)
        return 1
    return 0
