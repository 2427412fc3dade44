"""A committed search's cheaper front points, trained and converted from its record alone.

A search's pick is the most accurate full-length trial within its preset's limits, which
can cost more than the hand preset the search replaced (``cnn``: 6,816 nonzero weights,
``mlp``: 22,010). This trains the most accurate front point within a tighter cap, as
``train --from-search --max-nonzero CAP`` would, and converts it (the bit-exact IP on
every test frame), so that point's test accuracy is measured too.

It reads only ``bench/results/search.json`` (search folders are not committed): the
point's student is the pick's recorded student with that trial's values, built by
``space.student`` as ``train --from-search`` builds it; rebuilding the pick that way must
give the pick's recorded student, or it stops. Results, with the command, go to
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


def point_student(search: dict, pick: dict, arch: str, cap: int) -> tuple[dict, dict]:
    """``(trial, student)``: the front's most accurate full-length trial within ``cap``."""
    from pynq_mnist.host_training.training.search import front, space

    epochs = search["search"]["budget"]["max_epochs"]
    budget = search["search"]["limits"]["nonzero_weights"]
    trials = {t["trial_id"]: t for t in search["trials"]}
    full = [t for t in search["trials"] if t["epochs"] == epochs and t["status"] == "COMPLETED"]
    limits = {k: v for k, v in search["search"]["limits"].items() if k != "nonzero_weights"}
    chosen = front.pick(full, {**limits, "nonzero_weights": cap})

    def rebuild(trial: dict) -> dict:
        return space.student(pick["student"], arch, trial["values"], trial["epochs"], budget)

    if rebuild(trials[pick["trial"]]) != pick["student"]:
        raise SystemExit("the pick's recorded student is not rebuilt from its values: stop")
    return chosen, rebuild(chosen)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, help="a search in search.json, e.g. cnn")
    parser.add_argument("--max-nonzero", type=int, required=True, help="the tighter cap")
    parser.add_argument("--data", help="MNIST dir (default $PYNQ_MNIST_DATA or the cache)")
    parser.add_argument("--runs", type=Path, default=HERE / "runs" / "front")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "front_points.json")
    args = parser.parse_args(argv)

    from pynq_mnist.host_training.training import run_dir as rd

    recorded = rd.read_json(HERE / "results" / "search.json")
    if args.preset not in recorded["searches"]:
        parser.error(f"no {args.preset} search in bench/results/search.json")
    search, pick = recorded["searches"][args.preset], recorded["picks"][args.preset]
    arch = PICKS[args.preset][0]
    trial, student = point_student(search, pick, arch, args.max_nonzero)
    run = args.runs / f"{args.preset}-{trial['trial_id']}"
    config = args.runs / f"{args.preset}-{trial['trial_id']}.json"
    rd.write_json(config, {"arch": arch, "seed": 0, "student": student})
    train = [sys.executable, "-m", "pynq_mnist", "train", "--arch", arch,
             "--config", repo_relative(config), "--out", repo_relative(run)]  # fmt: skip
    if args.data:
        train += ["--data", args.data]
    subprocess.run(train, check=True, cwd=ROOT)
    metrics = rd.load_metrics(run)
    ip = convert_pick(run, args.runs / "bundles" / run.name.replace("-", "_"), args.data)
    keys = ("test_accuracy", "nonzero_weights", "max_weight_bits", "bops")
    results = rd.read_json(args.out) if args.out.is_file() else {}
    results[f"{args.preset}<={args.max_nonzero}"] = {
        **header("front_points.py", argv),
        "train_command": shlex.join(train[2:]),
        "trial": trial["trial_id"],
        "val_accuracy": trial["val_accuracy"],
        **{k: metrics["student"][k] for k in keys},
        "train_wall_seconds": metrics["wall_seconds"],
        "ip": ip,
        "student": student,
    }
    rd.write_json(args.out, results)
    print(f"[bench] {args.preset} trial {trial['trial_id']}: test {metrics['student'][keys[0]]}, "
          f"IP {ip['emulated_accuracy']} -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
