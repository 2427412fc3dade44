"""RTL backend benchmark: MLP students -> da4ml Verilog -> Yosys + Verilator, on all 10k test frames.

For each ``--units`` width it trains an MLP student (``pynq-mnist train``'s
code, the ``mlp`` preset with the given width, sparsity, epochs and training
subset) into ``bench/runs/rtl/mlp<W>``, converts it with ``--backend rtl``
into ``bench/runs/rtl/bundles/mnist_mlp<W>_rtl`` and records, per net: its
accuracy (Keras and the RTL simulation), nonzero weights, da4ml's estimate,
the Yosys counts, the cycles per frame and latency measured in Verilator, and
the wall seconds of each step. Results, with the command that made them, go
to ``bench/results/rtl.json``.

Usage::

    python bench/rtl.py [--units 64] [--sparsity 0.9] [--epochs 5] [--train-subset N] [--data DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def bench_one(units: int, args: argparse.Namespace) -> dict:
    from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl
    from pynq_mnist.host_training.training.train import train

    runs = HERE / "runs" / "rtl"
    run_dir, bundle = runs / f"mlp{units}", runs / "bundles" / f"mnist_mlp{units}_rtl"
    config = {
        "arch": "mlp",
        "data": {"train_subset": args.train_subset},
        "student": {
            "units": [units],
            "epochs": args.epochs,
            "pruning": {"sparsity": args.sparsity},
        },
        "teacher": {"epochs": args.epochs},
    }
    t0 = time.perf_counter()
    train(config, run_dir, args.data)
    train_s = time.perf_counter() - t0
    report = convert_rtl(run_dir, bundle, args.data)
    return {"units": units, "config": config, "train_s": round(train_s, 1), **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[64])
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    results = {
        "command": shlex.join(["python", "bench/rtl.py", *(argv or sys.argv[1:])]),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "machine": platform.machine()},
        "nets": [bench_one(units, args) for units in args.units],
    }
    out = HERE / "results" / "rtl.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
