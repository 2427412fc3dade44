"""The bench's files: ``bench.json``, CSVs and PNG plots, each written as its section finishes.

:class:`BenchFiles` checks the folder before anything is measured, then
rewrites ``bench.json`` after every section (``sections`` lists the finished
ones; ``complete`` turns true after the last), and writes a section's CSV and
plot as soon as it has them. An interrupted or failed bench keeps what it measured.

Plots show what was measured without magnifying noise: throughput on a linear
axis from zero with the range over the repeats, and the stages as separate bars
(a log axis is honest for bars side by side, not for a stack).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from pynq_mnist.atomic import atomic_path, write_text_atomic

from .bench_measure import PERCENTILES, plateau
from .class_report import write_class_report
from .result_files import writable_dir
from .timing import STAGES


def _csv(rows: list[dict], label: str) -> str:
    f = io.StringIO()
    f.write(f"# {label}\n")
    w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return f.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class BenchFiles:
    """The output folder of one bench run.

    Parameters
    ----------
    out_dir : path
        Created if needed; :class:`~.result_files.OutputError` if it cannot take files.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out = writable_dir(out_dir)
        self.paths: list[Path] = []

    def _keep(self, path: Path) -> None:
        if path not in self.paths:
            self.paths.append(path)

    def write_json(self, result: dict) -> Path:
        """``bench.json`` of every public key of ``result`` (keys starting with _ stay out)."""
        public = {k: v for k, v in result.items() if not k.startswith("_")}
        path = write_text_atomic(self.out / "bench.json", json.dumps(public, indent=2) + "\n")
        self._keep(path)
        return path

    def write_class_report(self, result: dict) -> None:
        """``per_class.csv``, ``confusion.csv`` and ``confusion.png`` (:mod:`.class_report`)."""
        title = f"{result['bundle']}: confusion"
        for path in write_class_report(result["per_class"], self.out, title):
            self._keep(path)

    def write_latency(self, result: dict) -> None:
        samples = result["_latency_samples_us"]
        rows = [{"call": i, "us": float(t)} for i, t in enumerate(samples)]
        self._keep(write_text_atomic(self.out / "latency.csv", _csv(rows, result["timings"])))
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(samples, bins=60)
        lat = result["latency"]
        for p in PERCENTILES:
            value = lat[f"p{p}_us"]
            ax.axvline(value, linestyle="--", linewidth=1, label=f"p{p} {value:.0f} µs")
        ax.set(
            xlabel="single-frame classify latency (µs)",
            ylabel="calls",
            title=f"{result['bundle']}: latency",
        )
        ax.legend(fontsize=8)
        self._save(plt, fig, "latency.png", result["timings"])

    def write_throughput(self, result: dict) -> None:
        rows, label = result["throughput"], result["timings"]
        self._keep(write_text_atomic(self.out / "throughput.csv", _csv(rows, label)))
        stage_rows = [
            {"batch": r["batch"], **{s: r[f"{s}_us_per_frame"] for s in STAGES}} for r in rows
        ]
        stages_csv = _csv(stage_rows, label + "; microseconds per frame")
        self._keep(write_text_atomic(self.out / "stages.csv", stages_csv))

        plt = _pyplot()
        batches = np.array([r["batch"] for r in rows])
        median = np.array([r["frames_per_s"] for r in rows])
        low = median - np.array([r["frames_per_s_min"] for r in rows])
        high = np.array([r["frames_per_s_max"] for r in rows]) - median
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        ax1.errorbar(batches, median, yerr=[low, high], marker="o", capsize=3)
        ax1.set_xscale("log")
        ax1.set_ylim(0, max(r["frames_per_s_max"] for r in rows) * 1.1)
        top = plateau(rows)
        ax1.axvline(top["batch"], color="gray", linestyle=":", linewidth=1)
        ax1.set(
            xlabel="batch size (frames)",
            ylabel="frames / s",
            title=f"throughput (median, range of {rows[0]['repeats']} runs)",
        )
        pos = np.arange(len(rows))
        width = 0.8 / len(STAGES)
        for k, s in enumerate(STAGES):
            vals = [max(r[f"{s}_us_per_frame"], 1e-3) for r in rows]  # log axis: floor 1 ns
            ax2.bar(pos + (k - (len(STAGES) - 1) / 2) * width, vals, width, label=s)
        ax2.set_xticks(pos, [str(b) for b in batches])
        ax2.set_yscale("log")
        ax2.set(xlabel="batch size (frames)", ylabel="µs per frame", title="time per stage")
        ax2.legend(fontsize=8)
        fig.suptitle(f"{result['bundle']} on {result['board']}")
        self._save(plt, fig, "throughput.png", label)

    def _save(self, plt, fig, name: str, label: str) -> None:
        fig.text(0.01, 0.01, label, fontsize=7)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        path = self.out / name
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
        plt.close(fig)
        self._keep(path)
