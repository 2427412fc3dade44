"""``pynq-mnist convert RUN_DIR --out BUNDLE_DIR``: a trained student -> an overlay bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from pynq_mnist.host_training.conversion.hls4ml_config import MULTS_PER_CYCLE, ConversionError
from pynq_mnist.mnist import DATA_HELP
from pynq_mnist.outputs import BUNDLE, claim_output

BACKENDS = ("hls4ml", "rtl")
#: Options only the hls4ml backend reads; ``--backend rtl`` refuses them.
HLS_ONLY = ("mults_per_cycle", "workers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished `pynq-mnist train` run")
    parser.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle folder to write")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a bundle of another training run in --out (never a folder that is no bundle)",
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help=DATA_HELP.format(default="the dataset the run was trained on, as it recorded it"),
    )
    parser.add_argument(
        "--name",
        type=_bundle_name,
        help="bundle name (default DATASET_ARCH, e.g. mnist_cnn; letters, digits, _)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=BACKENDS[0],
        help="hls4ml: HLS C++ IP (default); rtl: the MLP or CNN as pipelined Verilog (da4ml), "
        "simulated with Verilator and counted with Yosys",
    )
    parser.add_argument(
        "--mults-per-cycle",
        type=_positive_int,
        default=None,
        help=f"multipliers per clock per layer; sets the reuse factors (default {MULTS_PER_CYCLE})",
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


def _bundle_name(text: str) -> str:
    from pynq_mnist.host_training.conversion.convert import check_name

    try:
        return check_name(text)
    except ConversionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    identity = {"model.run_dir": str(Path(args.run_dir).resolve())}
    with claim_output(args.out, BUNDLE, identity, args.force) as out:
        args.out = out
        return _convert(args)


def _convert(args: argparse.Namespace) -> int:
    if args.backend == "rtl":
        from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl

        hls_only = [f"--{k.replace('_', '-')}" for k in HLS_ONLY if getattr(args, k) is not None]
        if hls_only:
            raise ConversionError(f"{', '.join(hls_only)}: hls4ml options, not for --backend rtl")
        convert_rtl(args.run_dir, args.out, args.data, args.frames, name=args.name)
        return 0
    from pynq_mnist.host_training.conversion.convert import convert

    convert(
        args.run_dir,
        args.out,
        args.data,
        args.mults_per_cycle or MULTS_PER_CYCLE,
        args.frames,
        workers=args.workers,
        name=args.name,
    )
    return 0
