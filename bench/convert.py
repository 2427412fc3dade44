"""Conversion benchmark: each default student -> bundle, verified on all 10k test frames.

For each preset (``cnn`` and ``mlp`` by default; ``cnn-tiny`` on request) it converts
the training benchmark's run (``bench/runs/<preset>``, made by ``bench/train.py``)
into ``bench/runs/bundles/mnist_<preset>`` (``-`` as ``_``) and records the convert report: Keras and
emulated accuracy, agreement, bytes and beats per frame, precisions, reuse
factors, the target II (a cycle model), and the host timing of streaming all
frames through the compiled IP, once inside the conversion and once more from a
fresh :class:`IPLibrary` (best of ``--repeats``; wall seconds, and CPU seconds
of this process and its workers; the emulation target is judged on wall time).
Both split the frames over ``--workers`` processes (default one per CPU). It
checks issue 3's targets.
Results, with the command that made them, go to ``bench/results/convert.json``.

Usage::

    python bench/convert.py [--archs cnn mlp cnn-tiny] [--runs bench/runs] [--data DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from record import HERE, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])

#: The training benchmark's runs that convert (``--archs`` names presets, as its runs do).
PRESETS = ("cnn", "mlp", "cnn-tiny")
#: Issue 3's targets.
TARGETS = {
    "max_accuracy_gap_points": 0.1,
    "max_bytes_in_per_frame": 784,
    "max_bytes_out_per_frame": 8,
    "mlp_max_emulate_s": 30.0,
    "mlp_emulate_max_cores": 2,
}


def targets_met(report: dict) -> dict:
    gap = abs(report["emulated_accuracy"] - report["keras_accuracy"]) * 100
    met = {
        "accuracy_gap": gap <= TARGETS["max_accuracy_gap_points"],
        "bytes_in": report["bytes_in_per_frame"] <= TARGETS["max_bytes_in_per_frame"],
        "bytes_out": report["bytes_out_per_frame"] <= TARGETS["max_bytes_out_per_frame"],
        "bit_exact": report["csim_bit_exact"],
    }
    if report["arch"] == "mlp":
        met["emulate_time"] = (
            report["emulate_rerun_s"] <= TARGETS["mlp_max_emulate_s"]
            and report["emulate_rerun_workers"] <= TARGETS["mlp_emulate_max_cores"]
        )
    return met


def emulate_again(
    bundle_dir: Path, data_dir: str | None, repeats: int, workers: int | None
) -> tuple[float, float, int]:
    """Best host (wall, CPU) seconds to stream all test frames through a fresh library,
    and the number of processes that did it. CPU time counts the worker processes."""
    from pynq_mnist.board.emulator.iplib import IPLibrary
    from pynq_mnist.bundle import Bundle
    from pynq_mnist.host_training.conversion.parallel_transfer import default_workers, transfer
    from pynq_mnist.mnist import load_mnist

    bundle = Bundle(bundle_dir)
    stream = bundle.metadata.input.pack(load_mnist(data_dir).test_images)
    frames = stream.size // bundle.metadata.input.bytes_per_frame
    workers = default_workers(frames) if workers is None else workers
    best = (float("inf"), float("inf"))
    with IPLibrary.for_bundle(bundle) as ip:
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            words = transfer(ip, stream, workers)
            best = min(best, (time.perf_counter() - t0, _cpu_seconds() - c0))
    if words.shape[0] != frames:
        raise RuntimeError(f"{bundle_dir}: the IP returned {words.shape[0]} of {frames} frames")
    return (*best, workers)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["cnn", "mlp"], choices=PRESETS)
    parser.add_argument("--runs", type=Path, default=HERE / "runs", help="training run folders")
    parser.add_argument("--data", default=None, help="MNIST folder (default $PYNQ_MNIST_DATA)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "convert.json")
    args = parser.parse_args(argv)

    from pynq_mnist.host_training.conversion.convert import convert
    from pynq_mnist.host_training.training.run_dir import read_json, write_json

    run_header = header("convert.py", argv)
    # Archs not converted by this call keep their earlier entries (each names its command).
    earlier = read_json(args.out) if args.out.exists() else {}
    results: dict = {
        **{a: earlier[a] for a in PRESETS if a in earlier and a not in args.archs},
        **run_header,
        "timings_are": "host timings of the g++-compiled IP, not board timings",
        "targets": TARGETS,
    }
    for arch in args.archs:
        bundle_dir = args.runs / "bundles" / f"mnist_{arch.replace('-', '_')}"
        print(f"[bench] converting {args.runs / arch} -> {bundle_dir}", flush=True)
        report = convert(args.runs / arch, bundle_dir, args.data, workers=args.workers)
        report["bundle"] = repo_relative(bundle_dir)
        report["command"] = run_header["command"]
        wall, cpu, workers = emulate_again(bundle_dir, args.data, args.repeats, args.workers)
        report["emulate_rerun_s"], report["emulate_rerun_cpu_s"] = round(wall, 3), round(cpu, 3)
        report["emulate_rerun_workers"] = workers
        report["targets_met"] = targets_met(report)
        results[arch] = report
        write_json(args.out, results)  # partial results survive an interruption
    print(f"[bench] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
