"""``pynq-mnist bench``: accuracy, latency and throughput of a bundle's overlay.

Measures, on the board or the emulated board (``--target``):

- accuracy on the test set of the bundle's dataset (all of it by default), per class too;
- single-frame latency over >= 1,000 calls of ``classify`` (p50, p90, p99, max);
- throughput against batch size (1 .. 10,000) with the time of each stage
  (pack, copy in, DMA, copy out, unpack);
- the same network on the CPU in numpy (``board.cpu_reference``) as the baseline;
- FCLK, board name, and the import and overlay-load times, kept apart from latency.

Writes ``bench.json``, ``throughput.csv``, ``latency.csv``, ``stages.csv``, the class
report (``per_class.csv``, ``confusion.csv``, ``confusion.png``: :mod:`.class_report`) and
PNG plots. On the emulated board every time is a *host* timing and is labelled
so in every file; accuracy there must equal the bundle's bit-exact figure.

From Python::

    from pynq_mnist.board.bench import run_benchmark, write_results
    result = run_benchmark(overlay, images, labels)
    write_results(result, "bench-out")
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from pynq_mnist.vivado_bd.reports import figure_lines

from .class_report import class_report, write_class_report
from .progress import progress
from .timing import STAGES

DEFAULT_BATCHES = (1, 10, 100, 1000, 10_000)
PERCENTILES = (50, 90, 99)


def timing_label(target: str) -> str:
    """What kind of time a figure is: board time, or host time on the emulated board."""
    if target == "board":
        return "board timings (PYNQ-Z2 ARM + FPGA)"
    return f"host timings on the emulated board ({platform.machine()}), not board timings"


# --------------------------------------------------------------------------- measurements


def measure_accuracy(overlay, images: np.ndarray, labels: np.ndarray, chunk: int = 1000) -> dict:
    """Accuracy of ``overlay.classify`` on ``images``, in calls of ``chunk`` frames (for progress)."""
    starts = range(0, len(images), chunk)
    t0 = time.perf_counter()
    predicted = np.concatenate(
        [overlay.classify(images[i : i + chunk]) for i in progress(starts, len(starts), "accuracy")]
    )
    elapsed = time.perf_counter() - t0
    hits = predicted == labels
    return {
        "frames": len(labels),
        "correct": int(hits.sum()),
        "accuracy": float(np.mean(hits)),  # the formula the converter records
        "seconds": elapsed,
        "predicted": predicted,
    }


def measure_latency(overlay, images: np.ndarray, n: int = 1000, warmup: int = 10) -> dict:
    """Seconds per single-frame ``classify`` call, ``n`` calls after ``warmup`` untimed ones.

    With a latency counter in the overlay, the IP's own cycles of each call too.
    """
    for i in range(warmup):
        overlay.classify(images[i : i + 1])
    counter = overlay.latency_counter
    times, cycles = np.empty(n), np.zeros(n, dtype=np.int64)
    for i in progress(range(n), n, "single-frame latency"):
        frame = images[i % len(images) : i % len(images) + 1]
        t0 = time.perf_counter()
        overlay.classify(frame)
        times[i] = time.perf_counter() - t0
        if counter is not None:
            cycles[i] = counter.read("cycles")
    summary = _percentiles(times * 1e6, "us")
    summary.update(calls=n, warmup_calls=warmup)
    if counter is None:
        why = (
            "the emulated board has no cycle model"
            if overlay.target == "emulator"
            else "the overlay has no latency counter (pynq-mnist build-overlay --latency-counter)"
        )
        fabric = {"available": False, "why": why}
    else:
        fabric = {"available": True, "fclk_mhz": overlay.fclk_mhz}
        fabric.update(_percentiles(cycles.astype(float), "cycles"))
        fabric.update(_percentiles(cycles / overlay.fclk_mhz, "us"))
    return {"summary": summary, "in_fabric": fabric, "samples_us": times * 1e6}


def _percentiles(values: np.ndarray, unit: str) -> dict:
    out = {f"p{p}_{unit}": float(np.percentile(values, p)) for p in PERCENTILES}
    out.update({f"mean_{unit}": float(values.mean()), f"max_{unit}": float(values.max())})
    return out


def measure_throughput(
    overlay, images: np.ndarray, batches=DEFAULT_BATCHES, frames_per_point: int = 10_000
) -> list[dict]:
    """Frames per second and per-stage time at each batch size.

    Each point runs ``max(1, frames_per_point // batch)`` calls of one batch
    (frames drawn cyclically from ``images``).
    """
    rows = []
    for batch in progress(batches, len(batches), "throughput vs batch"):
        idx = np.arange(batch) % len(images)
        x = images[idx]
        calls = max(1, frames_per_point // batch)
        overlay.classify(x)  # warm the caches at this size
        overlay.timer.clear()
        t0 = time.perf_counter()
        for _ in range(calls):
            overlay.classify(x)
        elapsed = time.perf_counter() - t0
        frames = calls * batch
        per_frame = overlay.timer.per_frame()
        row = {
            "batch": batch,
            "calls": calls,
            "frames": frames,
            "seconds": elapsed,
            "frames_per_s": frames / elapsed,
            "us_per_frame": elapsed / frames * 1e6,
        }
        row.update({f"{s}_us_per_frame": per_frame[s] * 1e6 for s in STAGES})
        rows.append(row)
    overlay.timer.clear()
    return rows


def measure_cpu_baseline(
    bundle, images: np.ndarray, device_classes: np.ndarray, n_latency: int = 100
) -> dict:
    """The bundle's network in numpy on this CPU: agreement, throughput, single-frame latency.

    ``images`` may be a prefix of the test set (the ARM is slow); ``device_classes``
    are the device's answers for the same frames.
    """
    if not bundle.has("network"):
        return {"available": False, "why": "the bundle has no exported network (files['network'])"}
    try:
        from .cpu_reference import CpuReference
    except ImportError as e:
        return {"available": False, "why": f"pynq_mnist.board.cpu_reference unavailable: {e}"}
    ref = CpuReference.from_file(bundle.file("network"), bundle.metadata.input.pixel_frac_bits)
    t0 = time.perf_counter()
    classes = ref.classify(images)
    batch_s = time.perf_counter() - t0
    times = []
    for i in range(n_latency):
        frame = images[i % len(images) : i % len(images) + 1]
        t0 = time.perf_counter()
        ref.classify(frame)
        times.append(time.perf_counter() - t0)
    us = np.array(times) * 1e6
    return {
        "available": True,
        "cpu": platform.machine(),
        "timings": "board ARM timings"
        if platform.machine().startswith("arm")
        else f"host timings on {platform.machine()}, not the PYNQ-Z2's ARM",
        "frames": len(images),
        "agreement_with_device": float(np.mean(classes == device_classes)),
        "frames_per_s": len(images) / batch_s,
        "single_frame_p50_us": float(np.percentile(us, 50)),
        "single_frame_calls": n_latency,
    }


def run_benchmark(
    overlay,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    latency_calls: int = 1000,
    batches=DEFAULT_BATCHES,
    frames_per_point: int = 10_000,
    cpu_baseline: bool = True,
    cpu_frames: int = 1000,
) -> dict:
    """Every measurement of this module on a loaded :class:`~.overlay.MnistOverlay`."""
    meta = overlay.metadata
    acc = measure_accuracy(overlay, images, labels)
    recorded = meta.accuracy.get("emulated")
    # The converter measured the first N test frames: compare on exactly those.
    n_recorded = meta.accuracy.get("frames")
    on_recorded = (
        float(np.mean(acc["predicted"][:n_recorded] == labels[:n_recorded]))
        if recorded is not None and n_recorded and n_recorded <= acc["frames"]
        else None
    )
    lat = measure_latency(overlay, images, latency_calls)
    through = measure_throughput(overlay, images, batches, frames_per_point)
    cpu = (
        measure_cpu_baseline(overlay.bundle, images[:cpu_frames], acc["predicted"][:cpu_frames])
        if cpu_baseline
        else {"available": False, "why": "not requested (--no-cpu)"}
    )
    return {
        "bundle": meta.name,
        "bundle_path": str(overlay.bundle.path),
        "target": overlay.target,
        "timings": timing_label(overlay.target),
        "board": overlay.board_name,
        "fclk_mhz": overlay.fclk_mhz,
        "ip_clock_target_mhz": meta.ip.get("clock_mhz"),
        "emulated_hwh": overlay.emulated_hwh,
        "frames_per_transfer": overlay.frames_per_transfer,
        "in_fabric_latency": lat["in_fabric"],
        "accuracy": {
            "frames": acc["frames"],
            "correct": acc["correct"],
            "accuracy": acc["accuracy"],
            "bundle_emulated": recorded,
            "bundle_frames": n_recorded,
            # None: the bundle's frames were not all measured here (e.g. --frames 500)
            "equals_bundle": None if on_recorded is None else on_recorded == recorded,
        },
        "per_class": class_report(acc["predicted"], labels, meta.classes),
        "latency": lat["summary"],
        "throughput": through,
        "cpu_baseline": cpu,
        "modelled_vs_synthesised": figure_lines(meta),  # [] until build-overlay has run
        "_latency_samples_us": lat["samples_us"],
    }


# --------------------------------------------------------------------------- outputs


def _write_csv(path: Path, rows: list[dict], label: str) -> None:
    with open(path, "w", newline="") as f:
        f.write(f"# {label}\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def write_results(result: dict, out_dir: str | os.PathLike) -> list[Path]:
    """``bench.json``, CSVs and PNG plots of ``result`` in ``out_dir``; the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = result["timings"]
    samples = result["_latency_samples_us"]
    public = {k: v for k, v in result.items() if not k.startswith("_")}
    (out / "bench.json").write_text(json.dumps(public, indent=2) + "\n")
    _write_csv(out / "throughput.csv", result["throughput"], label)
    _write_csv(
        out / "latency.csv", [{"call": i, "us": float(t)} for i, t in enumerate(samples)], label
    )
    stage_rows = [
        {"batch": r["batch"], **{s: r[f"{s}_us_per_frame"] for s in STAGES}}
        for r in result["throughput"]
    ]
    _write_csv(out / "stages.csv", stage_rows, label + "; microseconds per frame")
    paths = [out / n for n in ("bench.json", "throughput.csv", "latency.csv", "stages.csv")]
    paths += write_class_report(result["per_class"], out, f"{result['bundle']}: confusion")
    return paths + _plots(result, samples, out)


def _plots(result: dict, samples: np.ndarray, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = result["timings"]
    rows = result["throughput"]
    batches = [r["batch"] for r in rows]

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(samples, bins=60)
    lat = result["latency"]
    for p in PERCENTILES:
        ax.axvline(
            lat[f"p{p}_us"], linestyle="--", linewidth=1, label=f"p{p} {lat[f'p{p}_us']:.0f} µs"
        )
    ax.set(
        xlabel="single-frame classify latency (µs)",
        ylabel="calls",
        title=f"{result['bundle']}: latency",
    )
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, label, fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out / "latency.png", dpi=120)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.loglog(batches, [r["frames_per_s"] for r in rows], marker="o")
    ax1.set(xlabel="batch size (frames)", ylabel="frames / s", title="throughput")
    bottom = np.zeros(len(rows))
    pos = np.arange(len(rows))
    for s in STAGES:
        vals = np.array([r[f"{s}_us_per_frame"] for r in rows])
        ax2.bar(pos, vals, bottom=bottom, label=s)
        bottom += vals
    ax2.set_xticks(pos, [str(b) for b in batches])
    ax2.set_yscale("log")
    ax2.set(xlabel="batch size (frames)", ylabel="µs per frame", title="time per stage")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{result['bundle']} on {result['board']}")
    fig.text(0.01, 0.01, label, fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out / "throughput.png", dpi=120)
    plt.close(fig)
    return [out / "latency.png", out / "throughput.png"]


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pynq_mnist.mnist import DATA_HELP

    parser.add_argument(
        "bundle", help="overlay bundle: a name (see $PYNQ_MNIST_OVERLAYS) or a folder"
    )
    parser.add_argument("--target", choices=("auto", "board", "emulator"), default="auto")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help=DATA_HELP.format(default="the dataset the bundle recorded")
        + "; only the test split is read",
    )
    parser.add_argument(
        "--out", default="bench-results", help="output folder (default %(default)s)"
    )
    parser.add_argument("--frames", type=int, default=10_000, help="test frames for accuracy")
    parser.add_argument(
        "--latency-calls", type=int, default=1000, help="single-frame calls (>= 1000)"
    )
    parser.add_argument(
        "--batches",
        default=",".join(map(str, DEFAULT_BATCHES)),
        help="batch sizes for throughput (default %(default)s)",
    )
    parser.add_argument(
        "--frames-per-point", type=int, default=10_000, help="frames timed per batch size"
    )
    parser.add_argument(
        "--cpu-frames", type=int, default=1000, help="frames for the numpy CPU baseline"
    )
    parser.add_argument("--no-cpu", action="store_true", help="skip the numpy CPU baseline")


def run(args: argparse.Namespace) -> int:
    from .bench_data import bench_data

    bundle, data = bench_data(args.bundle, args.data)  # refused before pynq and the overlay load
    images, labels = data.test_images[: args.frames], data.test_labels[: args.frames]
    t0 = time.perf_counter()
    import pynq  # noqa: F401  (timed: ~10 s on the board)

    import_s = time.perf_counter() - t0
    from .overlay import load_overlay

    t0 = time.perf_counter()
    overlay = load_overlay(bundle, args.target)
    load_s = time.perf_counter() - t0
    batches = tuple(int(b) for b in args.batches.split(","))
    result = run_benchmark(
        overlay,
        images,
        labels,
        latency_calls=args.latency_calls,
        batches=batches,
        frames_per_point=args.frames_per_point,
        cpu_baseline=not args.no_cpu,
        cpu_frames=args.cpu_frames,
    )
    result["command"] = args.command_line
    result["startup"] = {
        "import_pynq_s": import_s,
        "overlay_load_s": load_s,
        "pynq_download_s": overlay.load_s,
        "self_test_s": overlay.self_test_s,
        "note": "kept apart from every latency and throughput figure",
    }
    paths = write_results(result, args.out)
    overlay.close()
    _print_summary(result, paths)
    acc = result["accuracy"]
    if overlay.target == "emulator" and acc["equals_bundle"] is False:
        print(
            f"ERROR: on the bundle's first {acc['bundle_frames']} frames the emulated board "
            f"does not give the bit-exact accuracy {acc['bundle_emulated']} recorded at conversion"
        )
        return 1
    return 0


def _print_summary(result: dict, paths: list[Path]) -> None:
    acc, lat = result["accuracy"], result["latency"]
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
    print(f"  throughput {best['frames_per_s']:.0f} frames/s at batch {best['batch']}")
    worst = min(
        (r for r in result["per_class"]["per_class"] if r["accuracy"] is not None),
        key=lambda r: r["accuracy"],
    )
    print(f"  per class  lowest {worst['class']!r} {worst['accuracy']:.2%} (confusion.png)")
    s = result["startup"]
    print(
        f"  startup   import pynq {s['import_pynq_s']:.2f} s, overlay load {s['overlay_load_s']:.2f} s"
    )
    for line in result.get("modelled_vs_synthesised", []):
        print(line)
    print(f"  wrote {', '.join(str(p) for p in paths)}")
