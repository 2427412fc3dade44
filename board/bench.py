"""``pynq-mnist bench``: accuracy, latency and throughput of a bundle's overlay.

Measures, on the board or the emulated board (``--target``), in sections
(:data:`SECTIONS`):

- accuracy on the test set of the bundle's dataset (all of it by default), per class
  too, with the confusion matrix (:mod:`.class_report`);
- single-frame latency over ``--latency-calls`` calls of ``classify`` (p50, p90, p99, max);
- throughput against batch size, repeated ``--repeats`` times (median and range),
  with the time of each stage (pack, copy in, DMA, copy out, unpack);
- the same network on the CPU in numpy (``board.cpu_reference``) as the baseline;
- FCLK, board name, and the import and overlay-load times, kept apart from latency.

Every option and the output folder are checked before anything is measured.
Each section's files are written as soon as it finishes (:mod:`.bench_files`),
so an interrupted or failed bench keeps what it measured; ``bench.json`` lists
the finished ``sections`` and says ``complete``. There is no resume: a rerun
measures everything again. On the emulated board every time is a *host* timing
and is labelled so in every file; accuracy there must equal the bundle's
bit-exact figure.

A section is ``(name, fn)`` with ``fn(bench: Bench) -> None`` adding its keys to
``bench.result`` (and writing its files through ``bench.files``); another
module adds one by inserting it into the list it passes to :func:`run_benchmark`.

From Python::

    from pynq_mnist.board.bench import run_benchmark
    from pynq_mnist.board.bench_files import BenchFiles
    from pynq_mnist.board.bench_options import BenchOptions
    result = run_benchmark(overlay, images, labels, BenchOptions(), BenchFiles("bench-out"))
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from pynq_mnist.build_figures import figure_lines
from pynq_mnist.outputs import BENCH, OutputError, check_output, claim_output

from .bench_files import BenchFiles
from .bench_measure import (
    measure_accuracy,
    measure_cpu_baseline,
    measure_latency,
    measure_throughput,
    plateau,
    timing_label,
)
from .bench_options import BenchOptionError, BenchOptions, add_measurement_arguments
from .call_cost import single_frame_costs
from .class_report import class_report

if TYPE_CHECKING:
    from pynq_mnist.bundle import Bundle
    from pynq_mnist.mnist import Dataset


@dataclass
class Bench:
    """What a section works with: the overlay, the frames, the options, the result so far."""

    overlay: object
    images: np.ndarray
    labels: np.ndarray
    options: BenchOptions
    result: dict
    files: BenchFiles | None


def accuracy_section(b: Bench) -> None:
    meta = b.overlay.metadata
    acc = measure_accuracy(b.overlay, b.images, b.labels)
    recorded = meta.accuracy.get("emulated")
    # The converter measured the first N test frames: compare on exactly those.
    n_recorded = meta.accuracy.get("frames")
    on_recorded = (
        float(np.mean(acc["predicted"][:n_recorded] == b.labels[:n_recorded]))
        if recorded is not None and n_recorded and n_recorded <= acc["frames"]
        else None
    )
    b.result["_predicted"] = acc["predicted"]
    b.result["accuracy"] = {
        "frames": acc["frames"],
        "correct": acc["correct"],
        "accuracy": acc["accuracy"],
        "bundle_emulated": recorded,
        "bundle_frames": n_recorded,
        # None: the bundle's frames were not all measured here (e.g. --frames 500)
        "equals_bundle": None if on_recorded is None else on_recorded == recorded,
    }
    b.result["per_class"] = class_report(acc["predicted"], b.labels, meta.classes)
    if b.files:
        b.files.write_class_report(b.result)


def latency_section(b: Bench) -> None:
    lat = measure_latency(b.overlay, b.images, b.options.latency_calls)
    cost = single_frame_costs(b.overlay, b.images[:1])
    b.result.update(
        latency=lat["summary"],
        in_fabric_latency=lat["in_fabric"],
        _latency_samples_us=lat["samples_us"],
        # per single-frame call; the same register count on the board (board/call_cost.py)
        register_accesses=cost["classify"]["register_accesses"],
        python_calls=cost["classify"]["python_calls"],
        single_frame_cost=cost,
    )
    if b.files:
        b.files.write_latency(b.result)


def throughput_section(b: Bench) -> None:
    o = b.options
    rows = measure_throughput(b.overlay, b.images, o.batches, o.frames_per_point, o.repeats)
    top = plateau(rows)
    b.result["throughput"] = rows
    b.result["throughput_plateau"] = {
        "batch": top["batch"],
        "frames_per_s": top["frames_per_s"],
        "rule": "the smallest batch whose range over the repeats reaches the best median's range",
    }
    if b.files:
        b.files.write_throughput(b.result)


def cpu_section(b: Bench) -> None:
    o = b.options
    b.result["cpu_baseline"] = (
        measure_cpu_baseline(
            b.overlay.bundle, b.images[: o.cpu_frames], b.result["_predicted"][: o.cpu_frames]
        )
        if o.cpu_baseline
        else {"available": False, "why": "not requested (--no-cpu)"}
    )


SECTIONS: list[tuple[str, Callable[[Bench], None]]] = [
    ("accuracy", accuracy_section),
    ("latency", latency_section),
    ("throughput", throughput_section),
    ("cpu_baseline", cpu_section),
]


def run_benchmark(
    overlay,
    images: np.ndarray,
    labels: np.ndarray,
    options: BenchOptions | None = None,
    files: BenchFiles | None = None,
    *,
    sections: list[tuple[str, Callable[[Bench], None]]] | None = None,
    header: dict | None = None,
) -> dict:
    """Run ``sections`` (default :data:`SECTIONS`) on a loaded overlay; the result dict.

    With ``files``, ``bench.json`` is rewritten after every section, and once
    more with ``stopped`` if a section raises (Ctrl-C included) before re-raising.
    """
    options = options or BenchOptions()
    meta = overlay.metadata
    result = {
        "bundle": meta.name,
        "bundle_path": str(overlay.bundle.path),
        "target": overlay.target,
        "timings": timing_label(overlay.target),
        "board": overlay.board_name,
        "fclk_mhz": overlay.fclk_mhz,
        "ip_clock_target_mhz": meta.ip.get("clock_mhz"),
        "emulated_hwh": overlay.emulated_hwh,
        "frames_per_transfer": overlay.frames_per_transfer,
        "modelled_vs_synthesised": figure_lines(meta),  # [] until build-overlay has run
        "options": {**asdict(options), "batches": list(options.batches)},
        **(header or {}),
        "sections": [],
        "complete": False,
    }
    bench = Bench(
        overlay, images[: options.frames], labels[: options.frames], options, result, files
    )
    for name, section in sections or SECTIONS:
        try:
            section(bench)
        except BaseException as e:
            result["stopped"] = f"{type(e).__name__} in section {name!r}: {e}".rstrip(": ")
            if files:
                files.write_json(result)
            raise
        result["sections"].append(name)
        if files:
            files.write_json(result)
    result["complete"] = True
    if files:
        files.write_json(result)
    return result


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle", help="overlay bundle: a name (see $PYNQ_MNIST_OVERLAYS) or a folder"
    )
    from pynq_mnist.mnist import DATA_HELP

    parser.add_argument(
        "--data",
        metavar="DIR",
        help=DATA_HELP.format(default="the dataset the bundle recorded")
        + "; only the test split is read",
    )
    parser.add_argument(
        "--out", default="bench-results", help="output folder (default %(default)s)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the bench results of another bundle in --out (never a folder of other files)",
    )
    parser.add_argument("--frames", type=int, default=10_000, help="test frames for accuracy")
    add_measurement_arguments(parser)
    parser.add_argument(
        "--cpu-frames",
        type=int,
        help="frames for the numpy CPU baseline (default 1000, at most --frames)",
    )
    parser.add_argument("--no-cpu", action="store_true", help="skip the numpy CPU baseline")


def _refuse(message: str) -> int:
    print(f"pynq-mnist bench: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:  # everything that can be refused is refused before anything is measured
        options = BenchOptions.from_args(args)
        with claim_output(args.out, BENCH) as out:  # one bench at a time per folder
            files = BenchFiles(out)
            from .bench_data import bench_data

            # refused before pynq and the overlay load
            bundle, data = bench_data(args.bundle, args.data)
            check_output(out, BENCH, {"bundle": bundle.metadata.name}, args.force)
            return _bench(args, options, files, bundle, data)
    except (BenchOptionError, OutputError) as e:
        return _refuse(str(e))


def _bench(
    args: argparse.Namespace,
    options: BenchOptions,
    files: BenchFiles,
    bundle: Bundle,
    data: Dataset,
) -> int:
    """The bench proper, in a claimed output folder."""
    t0 = time.perf_counter()
    import pynq  # noqa: F401  (timed: ~10 s on the board)

    import_s = time.perf_counter() - t0
    from .overlay import load_overlay

    t0 = time.perf_counter()
    overlay = load_overlay(bundle, args.target)
    load_s = time.perf_counter() - t0
    startup = {
        "import_pynq_s": import_s,
        "overlay_load_s": load_s,
        "pynq_download_s": overlay.load_s,
        "self_test_s": overlay.self_test_s,
        "note": "kept apart from every latency and throughput figure",
    }
    try:
        result = run_benchmark(
            overlay,
            data.test_images,
            data.test_labels,
            options,
            files,
            header={"command": args.command_line, "startup": startup},
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: {files.out / 'bench.json'} holds the sections that finished "
            "(bench has no resume; run it again to measure everything)",
            file=sys.stderr,
        )
        return 130
    finally:
        overlay.close()
    _print_summary(result, files)
    acc = result["accuracy"]
    if overlay.target == "emulator" and acc["equals_bundle"] is False:
        print(
            f"ERROR: on the bundle's first {acc['bundle_frames']} frames the emulated board "
            f"does not give the bit-exact accuracy {acc['bundle_emulated']} recorded at conversion"
        )
        return 1
    return 0


def _print_summary(result: dict, files: BenchFiles) -> None:
    acc, lat, top = result["accuracy"], result["latency"], result["throughput_plateau"]
    best = max(result["throughput"], key=lambda r: r["frames_per_s"])
    print(
        f"{result['bundle']} on {result['board']} (FCLK {result['fclk_mhz']} MHz): {result['timings']}"
    )
    print(
        f"  accuracy  {acc['correct']}/{acc['frames']} = {acc['accuracy']:.4%} "
        f"(bit-exact at conversion: {acc['bundle_emulated']} on {acc['bundle_frames']} frames; "
        f"equal: {acc['equals_bundle']})"
    )
    print(
        f"  latency   p50 {lat['p50_us']:.1f} µs, p90 {lat['p90_us']:.1f}, p99 {lat['p99_us']:.1f}, "
        f"max {lat['max_us']:.1f} ({lat['calls']} single-frame calls)"
    )
    plain = result["single_frame_cost"]["pynq_transfer_wait"]
    print(
        f"  per call  {result['register_accesses']} register accesses, {result['python_calls']} "
        f"Python calls (pynq's transfer()+wait() alone: {plain['register_accesses']}, "
        f"{plain['python_calls']})"
    )
    print(
        f"  throughput up to {best['frames_per_s']:.0f} frames/s (median of {best['repeats']} runs, "
        f"range {best['frames_per_s_min']:.0f}-{best['frames_per_s_max']:.0f}); from batch "
        f"{top['batch']} on it is within that range"
    )
    worst = min(
        (r for r in result["per_class"]["per_class"] if r["accuracy"] is not None),
        key=lambda r: r["accuracy"],
    )
    print(f"  per class  lowest {worst['class']!r} {worst['accuracy']:.2%} (confusion.png)")
    s = result["startup"]
    print(
        f"  startup   import pynq {s['import_pynq_s']:.2f} s, overlay load {s['overlay_load_s']:.2f} s"
    )
    for line in result["modelled_vs_synthesised"]:
        print(line)
    print(f"  wrote {', '.join(str(p) for p in files.paths)}")
