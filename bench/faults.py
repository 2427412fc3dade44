"""Fault benchmark: every failure scenario on the emulated board, then a correctness check.

Each scenario (``pynq_mnist.board.emulator.fault_scenarios``) fails one call
the way the board can fail, then classifies ``--check-frames`` MNIST test
frames and counts answers that differ from the clean overlay's. Recorded per
scenario: the error raised, whether and how fast the overlay restored itself,
and the wrong answers after recovery (the target is 0 everywhere). Times are
host timings on the emulated board, not board timings. The file is rewritten
after every scenario, so an interrupted run keeps what it finished.

Usage::

    python bench/faults.py BUNDLE [--data DIR] [--check-frames 1000]
                                  [--interrupt-frames 10000] [--leak-calls 10000]
                                  [--out bench/results/faults.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from record import emulated_timings, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])

#: The scenarios that edit a bundle edit a copy in a temporary folder; results name it so.
_TEMP_COPY = re.compile(re.escape(tempfile.gettempdir()) + r"/[^/\s]+/")


def _without_machine_paths(record: dict) -> dict:
    """``record`` with temporary folders in its messages named as such (results name no machine)."""
    return {k: _TEMP_COPY.sub("<temporary copy>/", v) if isinstance(v, str) else v
            for k, v in record.items()}  # fmt: skip


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="overlay bundle name or folder")
    parser.add_argument("--data", help="MNIST folder (default $PYNQ_MNIST_DATA, else download)")
    parser.add_argument("--check-frames", type=_positive, default=1000)
    parser.add_argument("--interrupt-frames", type=_positive, default=10_000)
    parser.add_argument("--leak-calls", type=_positive, default=10_000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "faults.json"))
    args = parser.parse_args(argv)
    from pynq_mnist.atomic import write_text_atomic
    from pynq_mnist.board.result_files import OutputError, writable_dir

    out = Path(args.out)
    try:
        writable_dir(out.parent)  # before anything is measured
    except OutputError as e:
        parser.error(str(e))

    from pynq_mnist.board import load_overlay
    from pynq_mnist.board.emulator.fault_scenarios import Runner, Sizes
    from pynq_mnist.mnist import load_mnist

    images = load_mnist(args.data).test_images
    ol = load_overlay(args.bundle, "emulator")
    model = ol.metadata.to_dict()["model"]
    argv = sys.argv[1:] if argv is None else argv
    report = {
        **header("faults.py", argv),
        "what": "each scenario fails a call, then the next call classifies the check frames",
        "timings": emulated_timings(),
        "bundle": ol.metadata.name,
        "bundle_accuracy_emulated": ol.metadata.accuracy.get("emulated"),
        "bundle_model": {**model, "run_dir": repo_relative(model["run_dir"])},
        "target": "0 wrong answers after recovery in every scenario",
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "scenarios": [],
    }

    def save(record: dict) -> None:
        record = _without_machine_paths(record)
        report["scenarios"].append(record)
        report["wrong_after_recovery_total"] = sum(
            r["wrong_after_recovery"] for r in report["scenarios"]
        )
        report["met"] = report["wrong_after_recovery_total"] == 0
        report["load_average_1min_now"] = round(os.getloadavg()[0], 2)
        write_text_atomic(out, json.dumps(report, indent=2) + "\n")
        print(
            f"{record['scenario']:<52} {str(record['error'])[:48]:<48} "
            f"recovery {record['recovery_s']:.3f} s, wrong after: {record['wrong_after_recovery']}",
            flush=True,
        )

    sizes = Sizes(
        check_frames=args.check_frames,
        interrupt_frames=args.interrupt_frames,
        leak_calls=args.leak_calls,
    )
    Runner(ol, images, sizes, on_result=save).run_all()
    print(f"wrote {out}: {report['wrong_after_recovery_total']} wrong answers after recovery")
    return 0 if report["met"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYNQ_MNIST_FORCE_EMULATOR", "1")
    sys.exit(main())
