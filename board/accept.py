"""``pynq-mnist accept``: the acceptance run of a bundle on a PYNQ-Z2, with a report to attach.

On the board, from the copy of the repository (it holds ``tests/``)::

    cd pynq-mnist
    sudo -E pynq-mnist accept mnist_cnn --out accept-report

runs the ``board``-marked tests (``tests/test_on_board.py``: the overlay loads with
its own bitstream and IP reset, the golden vectors, accuracy equal to the
bundle's bit-exact figure, a missed deadline and a Ctrl-C mid-transfer each
followed by right answers, calls from threads), then a short bench (accuracy on
the bundle's frames, 1,000 single-frame calls, a short throughput sweep), and writes
``OUT/report.json`` and ``OUT/report.txt``: versions, the board, the bundle and
its digest, every test's outcome and message, the bench's figures. The exit
status is 0 only when every board test passed. ``--target emulator`` rehearses
the same on the emulated board, to try the command without a board (its timings
are host timings, and it accepts nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.outputs import ACCEPT, claim_output

from .bench_options import BenchOptions, add_measurement_arguments
from .result_files import writable_dir

BOARD_TESTS = "test_on_board.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle", help="overlay bundle: a name (see $PYNQ_MNIST_OVERLAYS) or a folder"
    )
    parser.add_argument(
        "--out", default="accept-report", help="report folder (default %(default)s)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the report of another bundle in --out (never a folder of other files)",
    )
    parser.add_argument(
        "--tests", default="tests", help="the repository's tests folder (default ./%(default)s)"
    )
    parser.add_argument("--data", help="MNIST folder (default $PYNQ_MNIST_DATA, else download)")
    add_measurement_arguments(
        parser, batches=(1, 10, 100, 1000), frames_per_point=1000, target="board"
    )


def _tests(junit: Path) -> list[dict]:
    """Every test case of a pytest JUnit XML file: name, outcome, message."""
    if not junit.is_file():
        return []
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome = "failed" if kind != "skipped" else "skipped"
                message = (node.get("message") or node.text or "").strip()[:2000]
        cases.append({"test": case.get("name"), "outcome": outcome, "message": message})
    return cases


def _versions() -> dict:
    import numpy
    import pynq

    return {
        "python": sys.version.split()[0],
        "pynq": pynq.__version__,
        "numpy": numpy.__version__,
        "machine": platform.machine(),
        "board_env": os.environ.get("BOARD"),
    }


def _bench(args, out: Path) -> dict:
    """The short bench; its files go to ``OUT/bench``. Any failure is reported, not raised."""
    from .bench import run_benchmark
    from .bench_data import bench_data
    from .bench_files import BenchFiles
    from .overlay import load_overlay

    try:
        bundle, data = bench_data(args.bundle, args.data)  # the bundle's own test set
        with load_overlay(bundle, args.target) as ol:
            frames = int(ol.metadata.accuracy.get("frames") or 10_000)
            options = BenchOptions.from_args(argparse.Namespace(**{**vars(args), "frames": frames}))
            result = run_benchmark(
                ol, data.test_images, data.test_labels, options, BenchFiles(out / "bench")
            )
        return {
            "ran": True,
            "timings": result["timings"],
            "accuracy": result["accuracy"],
            "latency": result["latency"],
            "throughput_plateau": result["throughput_plateau"],
            "files": str(out / "bench"),
        }
    except Exception as e:  # noqa: BLE001 - the report says what failed
        return {"ran": False, "error": f"{type(e).__name__}: {e}"}


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.overlays import locate

    BenchOptions.from_args(args)
    locate(args.bundle)  # a folder that is no bundle is refused before any test runs
    with claim_output(args.out, ACCEPT, {"bundle": str(args.bundle)}, args.force) as out:
        return _accept(args, writable_dir(out))


def _accept(args: argparse.Namespace, out: Path) -> int:
    """The board tests and the short bench, in a claimed report folder."""
    tests = Path(args.tests) / BOARD_TESTS
    if not tests.is_file():
        print(
            f"pynq-mnist accept: error: no {tests}: run from your copy of the repository "
            "(the folder holding tests/), or pass --tests",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, "PYNQ_MNIST_ACCEPT_BUNDLE": str(args.bundle)}
    rehearse = args.target != "board"
    env["PYNQ_MNIST_ACCEPT_TARGET"] = args.target
    if args.data:
        env["PYNQ_MNIST_ACCEPT_DATA"] = str(args.data)
    junit = out / "tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-m", "board", "-p", "no:cacheprovider", str(tests)]
    cmd += [f"--junitxml={junit}", f"--rootdir={tests.parent.parent}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    tests_s = time.perf_counter() - t0
    write_text_atomic(out / "tests.log", proc.stdout + proc.stderr)
    cases = _tests(junit)
    passed = bool(cases) and all(c["outcome"] == "passed" for c in cases)
    bench = _bench(args, out)
    verdict = (
        "rehearsal on the emulated board: nothing is accepted"
        if rehearse
        else "accepted: every board test passed"
        if passed
        else "NOT accepted: see the failed or skipped tests"
    )
    report = {
        "command": getattr(args, "command_line", None),
        "verdict": verdict,
        "board_tests_passed": passed,
        "target": args.target,
        "bundle": str(args.bundle),
        "bundle_digest": _digest(args.bundle),
        "versions": _versions(),
        "tests": cases,
        "tests_s": round(tests_s, 1),
        "tests_log": str(out / "tests.log"),
        "bench": bench,
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(out / "report.txt", _text(report))
    print(_text(report))
    print(f"wrote {out / 'report.json'} and {out / 'report.txt'}: attach them to a problem report")
    return 0 if passed else 1


def _digest(bundle) -> str | None:
    """The bundle's ``metadata_sha256`` as recorded in its ``bundle.json``."""
    from pynq_mnist.bundle import DIGEST_KEY, BundleError
    from pynq_mnist.overlays import locate

    try:
        return json.loads((locate(bundle).path / "bundle.json").read_text()).get(DIGEST_KEY)
    except (BundleError, OSError, ValueError) as e:
        return f"unreadable: {e}"


def _text(report: dict) -> str:
    lines = [f"pynq-mnist accept: {report['verdict']}", f"bundle {report['bundle']}"]
    lines.append("versions " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    for c in report["tests"]:
        lines.append(
            f"  {c['outcome']:<8} {c['test']}" + (f": {c['message'][:200]}" if c["message"] else "")
        )
    if not report["tests"]:
        lines.append(f"  no test ran: see {report['tests_log']}")
    b = report["bench"]
    if b["ran"]:
        acc, lat, top = b["accuracy"], b["latency"], b["throughput_plateau"]
        lines.append(f"bench [{b['timings']}]")
        lines.append(
            f"  accuracy {acc['correct']}/{acc['frames']} (bundle: {acc['bundle_emulated']}, "
            f"equal: {acc['equals_bundle']}); latency p50 {lat['p50_us']:.1f} us, p99 "
            f"{lat['p99_us']:.1f} us; {top['frames_per_s']:.0f} frames/s from batch {top['batch']}"
        )
    else:
        lines.append(f"bench did not run: {b['error']}")
    return "\n".join(lines) + "\n"
