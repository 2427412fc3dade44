"""A committed search's cheaper front points, trained and converted as a user would.

A search's pick is the most accurate full-length trial within its preset's limits, which
can cost more than the hand preset the search replaced (``cnn``: 6,816 nonzero weights,
``mlp``: 22,010). This trains the most accurate front point within a tighter cap with
``pynq-mnist train --from-search bench/results/searches/<preset> --max-nonzero CAP`` (the
preset's other limits kept), on the committed search as a fresh clone has it, and
converts it (the bit-exact IP on every test frame), so that point's test accuracy is
measured too. The exported search holds no teacher: ``train`` trains it again from the
search's configuration. Results, with the commands, go to
``bench/results/front_points.json``; runs to ``bench/runs/front/``.

Usage::

    python bench/front_points.py --preset cnn --max-nonzero 6816
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from record import HERE, ROOT, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])
from search import PICKS, convert_pick  # noqa: E402


def train_command(preset: str, cap: int, run: Path, data: str | None) -> list[str]:
    """``train --from-search`` on the committed ``preset`` search within its limits and
    ``cap`` nonzero weights."""
    limits = PICKS[preset][1] | {"max_nonzero": cap}
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in limits.items()]
    search = HERE / "results" / "searches" / preset
    return [sys.executable, "-m", "pynq_mnist", "train", "--from-search",
            repo_relative(search), *flags, "--out", repo_relative(run),
            *(["--data", data] if data else [])]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, choices=sorted(PICKS),
                        help="a committed search, e.g. cnn")  # fmt: skip
    parser.add_argument("--max-nonzero", type=int, required=True, help="the tighter cap")
    parser.add_argument("--data", help="MNIST dir (default $PYNQ_MNIST_DATA or the cache)")
    parser.add_argument("--runs", type=Path, default=HERE / "runs" / "front")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "front_points.json")
    args = parser.parse_args(argv)

    from pynq_mnist.host_training.training import run_dir as rd

    run = args.runs / f"{args.preset}-max{args.max_nonzero}"
    train = train_command(args.preset, args.max_nonzero, run, args.data)
    subprocess.run(train, check=True, cwd=ROOT)
    trial = rd.read_json(run / rd.SEARCH_PICK)["trial"]
    metrics = rd.load_metrics(run)
    student = metrics["student"]
    ip = convert_pick(run, args.runs / "bundles" / run.name.replace("-", "_"), args.data)
    keys = ("test_accuracy", "nonzero_weights", "max_weight_bits", "bops")
    results = rd.read_json(args.out) if args.out.is_file() else {}
    results[f"{args.preset}<={args.max_nonzero}"] = {
        **header("front_points.py", argv),
        "train_command": shlex.join(train[2:]),
        "trial": trial["trial_id"],
        "val_accuracy": trial["val_accuracy"],
        **{k: student[k] for k in keys},
        "train_wall_seconds": metrics["wall_seconds"],
        "ip": ip,
        "student": student["config"],
    }
    rd.write_json(args.out, results)
    print(f"[bench] {args.preset} trial {trial['trial_id']}: test {student[keys[0]]}, "
          f"IP {ip['emulated_accuracy']} -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
