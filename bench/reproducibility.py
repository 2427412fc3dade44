"""Does the same training command give the same student? Runs it under several settings.

Each setting runs ``pynq-mnist train`` in a fresh process and RUN_DIR, and the result is
compared by the SHA-256 of the student's weights (every variable's bytes, in order) and
its test accuracy. Settings that vary what can vary between two machines or two runs:

* ``default`` twice: the same command on the same machine;
* ``threads-1``: TensorFlow's intra- and inter-op thread pools at one thread each
  (``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``), as on a one-core machine;
* ``onednn-off``: ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's own kernels instead of
  oneDNN's, whose choice of kernel depends on the CPU's instruction set.

Results (with the command that made them) go to ``bench/results/reproducibility.json``.

Usage::

    python bench/reproducibility.py [--preset smoke] [--arch cnn] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from record import HERE, header  # noqa: E402  (bench/ is sys.path[0])

SETTINGS = {
    "default": {},
    "default-again": {},
    "threads-1": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}

# Runs in the training run's own process, after training: the weights' digest.
DIGEST = """
import hashlib, json, sys
from pynq_mnist.host_training.training import run_dir as rd
model = rd.load_model(sys.argv[1] + "/" + rd.STUDENT)
h = hashlib.sha256()
for w in model.get_weights():
    h.update(w.tobytes())
print(json.dumps({"student_sha256": h.hexdigest()}))
"""


def run_setting(name: str, env: dict, args: argparse.Namespace, runs: Path) -> dict:
    out = runs / name
    cmd = [sys.executable, "-m", "pynq_mnist", "train", "--arch", args.arch,
           "--preset", args.preset, "--out", str(out)]  # fmt: skip
    if args.data:
        cmd += ["--data", args.data]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    digest = subprocess.run(
        [sys.executable, "-c", DIGEST, str(out)], check=True, capture_output=True, text=True
    )
    metrics = json.loads((out / "metrics.json").read_text())
    row = {
        "env": env,
        "teacher_accuracy": metrics["teacher"]["test_accuracy"],
        "student_accuracy": metrics["student"]["test_accuracy"],
        "wall_s": round(wall, 1),
        **json.loads(digest.stdout.strip().splitlines()[-1]),
    }
    print(f"{name}: student {row['student_accuracy']:.4f} {row['student_sha256'][:12]}")
    return row


def _host_kind(entry: dict) -> list:
    return [entry.get("host", {}).get(k) for k in ("cpu", "avx512")]


def with_host(doc: dict, result: dict) -> list[dict]:
    """The results file's host entries with ``result`` in place of its host kind's entry.

    One entry per CPU model and AVX-512 support (hosts named alike can differ in it):
    the same command on another kind of host can train another student. An entry
    written before entries named their host is kept.
    """
    hosts = doc.get("hosts", [doc] if doc else [])
    return [h for h in hosts if _host_kind(h) != _host_kind(result)] + [result]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--data", help="IDX dataset dir (default $PYNQ_MNIST_DATA)")
    parser.add_argument("--runs", default=str(HERE / "runs" / "reproducibility"))
    parser.add_argument("--out", default=str(HERE / "results" / "reproducibility.json"))
    args = parser.parse_args(argv)

    from pynq_mnist.atomic import write_text_atomic

    runs = Path(args.runs)
    if runs.exists():
        raise SystemExit(f"{runs} exists: remove it first (every setting trains from scratch)")
    rows = {name: run_setting(name, env, args, runs) for name, env in SETTINGS.items()}
    reference = rows["default"]["student_sha256"]
    result = {
        **header("reproducibility.py", sys.argv[1:] if argv is None else argv),
        "arch": args.arch,
        "preset": args.preset,
        "settings": rows,
        "same_weights_as_default": {n: r["student_sha256"] == reference for n, r in rows.items()},
    }
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.is_file() else {}
    write_text_atomic(out, json.dumps({"hosts": with_host(doc, result)}, indent=2) + "\n")
    print(json.dumps(result["same_weights_as_default"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
