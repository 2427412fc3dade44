"""The main job: train -> compress -> convert -> run on the (emulated) board -> summary.

``pynq-mnist pipeline --out runs/pipeline`` does, per architecture::

    OUT/ARCH/run/      pynq-mnist train     (teacher, compressed student, metrics, plots)
    OUT/ARCH/bundle/   pynq-mnist convert   (hls4ml IP, wrapper, bit-exact checks)
    OUT/ARCH/bench/    pynq-mnist bench     (accuracy, latency, throughput on the target)
    OUT/summary.json   and a summary table on stdout

Each stage resumes: training from its checkpoints, conversion is skipped when
the bundle was made from the same student, and the bench is rerun. Without a
board the target is the emulated board, and its timings are host timings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ARCHS = ("cnn", "mlp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/pipeline", help="output folder (%(default)s)")
    parser.add_argument(
        "--arch", choices=(*ARCHS, "all"), default="cnn", help="model family (%(default)s)"
    )
    parser.add_argument(
        "--preset", help="training preset (default: the arch's own; 'smoke' for a quick try)"
    )
    parser.add_argument("--data", help="MNIST folder (default $PYNQ_MNIST_DATA, else download)")
    from pynq_mnist.board.bench_options import add_measurement_arguments

    # The emulated CNN costs milliseconds of host time per frame: a lighter sweep
    # than `pynq-mnist bench` makes on a board.
    add_measurement_arguments(parser, batches=(1, 10, 100, 1000), frames_per_point=1000)


def bundle_is_current(bundle_dir: Path, run_dir: Path) -> bool:
    """True when ``bundle_dir`` holds a bundle converted from this run's student."""
    from pynq_mnist.bundle import Bundle, BundleError, sha256_file

    try:
        bundle = Bundle(bundle_dir)
    except BundleError:
        return False
    return bundle.metadata.model.get("student_sha256") == sha256_file(run_dir / "student.h5")


def run_arch(arch: str, args: argparse.Namespace) -> dict:
    """Every stage for one architecture; returns its summary row."""
    from pynq_mnist.board.bench import run_benchmark
    from pynq_mnist.board.bench_files import BenchFiles
    from pynq_mnist.board.bench_options import BenchOptions
    from pynq_mnist.board.overlay import load_overlay
    from pynq_mnist.host_training.conversion.convert import convert
    from pynq_mnist.host_training.training.train import train
    from pynq_mnist.mnist import load_mnist

    out = Path(args.out) / arch
    run_dir, bundle_dir, bench_dir = out / "run", out / "bundle", out / "bench"
    wall = {}

    t0 = time.perf_counter()
    config = {"arch": arch, **({"preset": args.preset} if args.preset else {})}
    metrics = train(config, run_dir, args.data)
    wall["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if bundle_is_current(bundle_dir, run_dir):
        print(f"[pipeline] {bundle_dir} is already converted from this student: kept")
    else:
        convert(run_dir, bundle_dir, args.data)
    wall["convert_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    data = load_mnist(args.data)
    with load_overlay(bundle_dir, args.target) as overlay:
        result = run_benchmark(
            overlay,
            data.test_images,
            data.test_labels,
            BenchOptions.from_args(args),
            BenchFiles(bench_dir),
        )
    wall["bench_s"] = time.perf_counter() - t0
    return summary_row(arch, metrics, bundle_dir, result, wall)


def summary_row(arch: str, metrics: dict, bundle_dir: Path, bench: dict, wall: dict) -> dict:
    """The figures of one architecture, each from the stage that measured it."""
    from pynq_mnist.bundle import Bundle

    meta = Bundle(bundle_dir).metadata
    top = bench["throughput_plateau"]
    student = metrics["student"]
    return {
        "arch": arch,
        "preset": metrics.get("preset"),
        "teacher_accuracy": metrics["teacher"]["test_accuracy"],
        "student_accuracy_keras": student["test_accuracy"],
        "student_nonzero_weights": student["nonzero_weights"],
        "student_bops": student["bops"],
        "student_layer_bits": student["layer_bits"],
        "bit_exact_accuracy": meta.accuracy["emulated"],
        "keras_ip_agreement": meta.accuracy["agreement"],
        "device_accuracy": bench["accuracy"]["accuracy"],
        "device": bench["target"],
        "device_equals_bit_exact": bench["accuracy"]["equals_bundle"],
        "bytes_in_per_frame": meta.input.bytes_per_frame,
        "bytes_out_per_frame": meta.output.bytes_per_frame,
        "timings": bench["timings"],
        "latency_p50_us": bench["latency"]["p50_us"],
        "latency_p99_us": bench["latency"]["p99_us"],
        "plateau_frames_per_s": top["frames_per_s"],
        "plateau_batch": top["batch"],
        "wall_seconds": wall,
        "bundle": str(bundle_dir),
    }


def format_summary(rows: list[dict]) -> str:
    lines = ["", "pynq-mnist pipeline summary (MNIST test set, 10,000 frames)", ""]
    for r in rows:
        pct = "{:.2%}".format
        lines += [
            f"{r['arch'].upper()} ({r['preset']})",
            f"  accuracy   teacher {pct(r['teacher_accuracy'])} -> student (QKeras) "
            f"{pct(r['student_accuracy_keras'])} -> bit-exact IP {pct(r['bit_exact_accuracy'])} "
            f"-> {r['device']} {pct(r['device_accuracy'])}"
            + {True: "  (= bit-exact)", False: "  (DIFFERS from bit-exact!)", None: ""}[
                r["device_equals_bit_exact"]
            ],
            f"  cost       {r['student_nonzero_weights']} nonzero weights, "
            f"{r['student_bops']:.3g} BOPs, weight bits "
            + ",".join(str(b["weight"]) for b in r["student_layer_bits"].values()),
            f"  stream     {r['bytes_in_per_frame']} bytes in, {r['bytes_out_per_frame']} out "
            "per frame",
            f"  speed      latency p50 {r['latency_p50_us']:.1f} us, p99 {r['latency_p99_us']:.1f}"
            f" us; {r['plateau_frames_per_s']:.0f} frames/s from batch {r['plateau_batch']} on",
            f"             [{r['timings']}]",
            "  wall       "
            + ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in r["wall_seconds"].items()),
            "",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.board.bench_options import BenchOptionError, BenchOptions
    from pynq_mnist.board.result_files import OutputError, writable_dir

    try:  # refused before hours of training, not after
        BenchOptions.from_args(args)
        writable_dir(args.out)
    except (BenchOptionError, OutputError) as e:
        print(f"pynq-mnist pipeline: error: {e}", file=sys.stderr)
        return 2
    archs = ARCHS if args.arch == "all" else (args.arch,)
    rows = [run_arch(arch, args) for arch in archs]
    out = Path(args.out)
    (out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(format_summary(rows))
    print(f"wrote {out / 'summary.json'}; plots in {out}/*/run/plots and {out}/*/bench")
    return 1 if any(r["device_equals_bit_exact"] is False for r in rows) else 0
