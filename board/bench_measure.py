"""The bench's measurements: accuracy, single-frame latency, throughput, the CPU baseline.

Each function takes a loaded :class:`~pynq_mnist.board.overlay.MnistOverlay` and
returns plain numbers; :mod:`pynq_mnist.board.bench` runs them in sections and
:mod:`pynq_mnist.board.bench_files` writes them.
"""

from __future__ import annotations

import platform
import time

import numpy as np

from .progress import progress
from .timing import STAGES

PERCENTILES = (50, 90, 99)


def timing_label(target: str) -> str:
    """What kind of time a figure is: board time, or host time on the emulated board."""
    if target == "board":
        return "board timings (PYNQ-Z2 ARM + FPGA)"
    return f"host timings on the emulated board ({platform.machine()}), not board timings"


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
    overlay, images: np.ndarray, batches, frames_per_point: int, repeats: int
) -> list[dict]:
    """Frames per second (median and range of ``repeats`` runs) and per-stage time per batch size.

    Each run makes ``ceil(frames_per_point / batch)`` calls of one batch (frames
    drawn cyclically from ``images``), so every point times at least
    ``frames_per_point`` frames; one untimed call first warms the caches at that size.
    """
    rows = []
    for batch in progress(batches, len(batches), "throughput vs batch"):
        x = images[np.arange(batch) % len(images)]
        calls = -(-frames_per_point // batch)
        overlay.classify(x)
        overlay.timer.clear()
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                overlay.classify(x)
            rates.append(calls * batch / (time.perf_counter() - t0))
        per_frame = overlay.timer.per_frame()
        median = float(np.median(rates))
        row = {
            "batch": batch,
            "calls": calls,
            "frames": calls * batch,
            "repeats": repeats,
            "frames_per_s": median,
            "frames_per_s_min": float(min(rates)),
            "frames_per_s_max": float(max(rates)),
            "us_per_frame": 1e6 / median,
        }
        row.update({f"{s}_us_per_frame": per_frame[s] * 1e6 for s in STAGES})
        rows.append(row)
    overlay.timer.clear()
    return rows


def plateau(rows: list[dict]) -> dict:
    """The smallest batch whose throughput cannot be told from the best one's.

    "Cannot be told": its range over the repeats reaches the best median's range.
    Picking the single highest median instead would crown whichever size the
    noise favoured in this run.
    """
    best = max(rows, key=lambda r: r["frames_per_s"])
    level = [r for r in rows if r["frames_per_s_max"] >= best["frames_per_s_min"]]
    return min(level, key=lambda r: r["batch"])


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
    inp = bundle.metadata.input
    ref = CpuReference.from_file(bundle.file("network"), inp.pixel_frac_bits, wire=inp)
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
