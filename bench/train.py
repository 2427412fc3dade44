"""Training benchmark: the default pipeline per preset on full MNIST, and a KD ablation.

For each preset (``cnn``, ``mlp`` and ``cnn-tiny`` by default) it runs
``pynq_mnist.host_training.training.train.train`` on all 60k/10k images and records the
teacher's and student's test accuracy, the student's nonzero weights and widest
weights, and the wall time. The ablation then retrains the student the tuner
chose, with the same teacher, with and without distillation for each seed, and
reports the means. Results (with the command that made them) go to
``bench/results/train.json``, one row per preset: a call for some presets keeps the
other presets' rows; run directories go to ``bench/runs/`` (not committed).
A rerun resumes finished or interrupted runs.

Usage::

    python bench/train.py [--presets cnn mlp cnn-tiny] [--seeds 3] [--data DIR]
    python bench/train.py --quick     # smoke check: the "smoke" preset for each arch
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from record import HERE, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])

#: Issue 2's targets per preset: minimum accuracies, maximum student cost and time.
TARGETS = {
    "cnn": {
        "teacher_accuracy": 0.993,
        "student_accuracy": 0.990,
        "max_weight_bits": 6,
        "nonzero_weights": 10000,
    },
    "cnn-tiny": {"student_accuracy": 0.985, "max_weight_bits": 5, "nonzero_weights": 2000},
    "mlp": {
        "teacher_accuracy": 0.983,
        "student_accuracy": 0.980,
        "max_weight_bits": 4,
        "nonzero_weights": 25000,
    },
}
WALL_LIMIT_S = 15 * 60


def _arch(preset: str) -> str:
    from pynq_mnist.host_training.training.config import PRESETS

    return PRESETS[preset][0] or "cnn"


def targets_met(preset: str, row: dict) -> dict | None:
    """Which of the issue's targets a result meets (None for presets without targets)."""
    t = TARGETS.get(preset)
    if t is None:
        return None
    met = {key: row[key] >= t[key] for key in ("teacher_accuracy", "student_accuracy") if key in t}
    met["max_weight_bits"] = row["student_max_weight_bits"] <= t["max_weight_bits"]
    met["nonzero_weights"] = row["student_nonzero_weights"] <= t["nonzero_weights"]
    met["wall_seconds"] = row["wall_seconds"] <= WALL_LIMIT_S
    return met


def pipeline_row(
    preset: str, run_dir: Path, data: str | None, seed: int, config: dict | None = None
) -> dict:
    """Run (or resume) the default pipeline of ``preset`` and summarise it."""
    from pynq_mnist.host_training.training.train import train

    t0 = time.perf_counter()
    m = train(config or {"arch": _arch(preset), "preset": preset, "seed": seed}, run_dir, data)
    elapsed = time.perf_counter() - t0
    return {
        "arch": m["arch"],
        "preset": m["preset"],
        "run_dir": repo_relative(run_dir),
        "teacher_accuracy": m["teacher"]["test_accuracy"],
        "student_accuracy": m["student"]["test_accuracy"],
        "student_nonzero_weights": m["student"]["nonzero_weights"],
        "student_max_weight_bits": m["student"]["max_weight_bits"],
        "student_bops": m["student"]["bops"],
        "student_layer_bits": m["student"]["layer_bits"],
        "student_hyperparameters": (m["tuner"] or {}).get("best"),
        "test_images": m["data"]["used"]["test"],
        # stage times add up over interrupted attempts; elapsed is this call only
        "wall_seconds": m["wall_seconds"],
        "stage_seconds": m["stage_seconds"],
        "elapsed_this_call_seconds": elapsed,
    }


def ablation(run_dir: Path, seeds: list[int], out: Path, data: str | None) -> dict:
    """The run's chosen student, trained with and without KD from its teacher, per seed.

    Both arms of a seed share its initialisation, data order and validation
    split; the teacher is the run's own, copied in (its stage is then skipped).
    """
    from pynq_mnist.host_training.training import run_dir as rd
    from pynq_mnist.host_training.training.train import train

    config = rd.load_config(run_dir)
    student = rd.load_metrics(run_dir)["student"]["config"]
    acc: dict[str, list[float]] = {"kd": [], "no_kd": []}
    for seed in seeds:
        for name, enabled in (("kd", True), ("no_kd", False)):
            dest = out / f"{name}-seed{seed}"
            dest.mkdir(parents=True, exist_ok=True)
            if not (dest / rd.TEACHER).exists():
                shutil.copy2(run_dir / rd.TEACHER, dest / rd.TEACHER)  # the same teacher
            cfg = {
                **config,
                "seed": seed,
                "student": {**student, "kd": {**student["kd"], "enabled": enabled}},
                "tuner": {**config["tuner"], "enabled": False},
            }
            m = train(cfg, dest, data)
            acc[name].append(m["student"]["test_accuracy"])
    kd_mean, no_kd_mean = statistics.mean(acc["kd"]), statistics.mean(acc["no_kd"])
    return {
        "seeds": seeds,
        "kd_accuracy": acc["kd"],
        "no_kd_accuracy": acc["no_kd"],
        "kd_mean": kd_mean,
        "no_kd_mean": no_kd_mean,
        "kd_gain_mean": kd_mean - no_kd_mean,
        "kd_helps": kd_mean > no_kd_mean,
    }


def kept_rows(previous: dict, presets: Iterable[str]) -> dict:
    """The rows of an earlier results file for the presets this call does not run.

    One file holds every preset, so a call for some presets keeps the others; each
    row keeps the header of the call that made it (``bench``), and a row from a file
    written before rows had their own takes that file's header.
    """
    made_by = {k: previous[k] for k in ("command", "date_utc", "host", "python") if k in previous}
    return {
        name: {"bench": made_by} | row
        for name, row in previous.items()
        if isinstance(row, dict) and "student_accuracy" in row and name not in presets
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["cnn", "mlp", "cnn-tiny"])
    parser.add_argument("--ablation-presets", nargs="*", default=None, help="default: cnn mlp")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per KD ablation arm")
    parser.add_argument("--data", help="MNIST dir (default $PYNQ_MNIST_DATA or the cache)")
    parser.add_argument("--runs", type=Path, default=HERE / "runs", help="run directories")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "train.json")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the smoke preset for each preset's arch: a quick check",
    )
    args = parser.parse_args(argv)

    from pynq_mnist.host_training.training.run_dir import read_json, write_json

    jobs = {p: (p, None) for p in args.presets}
    ablate = args.ablation_presets if args.ablation_presets is not None else ["cnn", "mlp"]
    if args.quick:  # same code path, smoke configuration of each arch
        jobs = {p: ("smoke", {"arch": _arch(p), "preset": "smoke"}) for p in args.presets}
    call = header("train.py", argv)
    previous = read_json(args.out) if args.out.is_file() else {}
    results: dict = {
        **call,
        "quick": args.quick,
        "targets": TARGETS,
        "wall_limit_seconds": WALL_LIMIT_S,
        **(kept_rows(previous, jobs) if previous.get("quick") == args.quick else {}),
    }
    for name, (preset, config) in jobs.items():
        print(f"[bench] {name}: pipeline", flush=True)
        row = {"bench": call, **pipeline_row(preset, args.runs / name, args.data, 0, config)}
        row["targets_met"] = None if args.quick else targets_met(name, row)
        if name in ablate:
            print(f"[bench] {name}: KD ablation over {args.seeds} seeds", flush=True)
            seeds = list(range(args.seeds))
            row["ablation"] = ablation(
                args.runs / name, seeds, args.runs / f"{name}-ablation", args.data
            )
        results[name] = row
        write_json(args.out, results)  # partial results survive an interruption
    print(f"[bench] wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
