"""The bench's options, declared once and checked before anything is measured.

``pynq-mnist bench`` and ``pynq-mnist pipeline`` take the same measurement flags
(:func:`add_measurement_arguments`, each with its own defaults: the pipeline's
emulated sweep is lighter). :class:`BenchOptions` refuses a value that would
end in a traceback, or be quietly ignored, minutes into a run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pynq_mnist.errors import Refused
from pynq_mnist.limits import MAX_BATCH, MAX_COUNT

DEFAULT_BATCHES = (1, 10, 100, 1000, 10_000)
TEST_FRAMES = 10_000  # the MNIST test set


class BenchOptionError(Refused, ValueError):
    """A bench option is out of range; the message names the flag and what it allows."""


@dataclass(frozen=True)
class BenchOptions:
    """What to measure.

    frames : test frames for the accuracy (1 .. 10,000; the first ones).
    latency_calls : single-frame ``classify`` calls timed for the latency.
    batches : batch sizes of the throughput sweep.
    frames_per_point : frames timed per batch size and repeat, at least: a batch
        bigger than this is timed as one call of that batch.
    repeats : timed runs per batch size; the spread between them is reported.
    cpu_baseline, cpu_frames : the numpy CPU reference on the first ``cpu_frames`` frames
        (default: 1,000, or all of ``frames`` if fewer).
    """

    frames: int = TEST_FRAMES
    latency_calls: int = 1000
    batches: tuple[int, ...] = DEFAULT_BATCHES
    frames_per_point: int = 10_000
    repeats: int = 3
    cpu_baseline: bool = True
    cpu_frames: int | None = None

    def __post_init__(self) -> None:
        if self.cpu_frames is None and isinstance(self.frames, int):
            object.__setattr__(self, "cpu_frames", min(1000, self.frames))
        for flag, value in (
            ("--frames", self.frames),
            ("--latency-calls", self.latency_calls),
            ("--frames-per-point", self.frames_per_point),
            ("--repeats", self.repeats),
            ("--cpu-frames", self.cpu_frames),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchOptionError(f"{flag} must be a whole number >= 1, got {value!r}")
            if value > MAX_COUNT:
                raise BenchOptionError(f"{flag} is {value}; allowed: at most {MAX_COUNT}")
        if self.frames > TEST_FRAMES:
            raise BenchOptionError(
                f"--frames must be at most {TEST_FRAMES} (the MNIST test set), got {self.frames}"
            )
        if self.cpu_baseline and self.cpu_frames > self.frames:
            raise BenchOptionError(
                f"--cpu-frames ({self.cpu_frames}) must not exceed --frames ({self.frames}): "
                "the CPU baseline is compared with the device on the same frames"
            )
        if not self.batches or any(
            isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in self.batches
        ):
            raise BenchOptionError(
                f"--batches must list whole numbers >= 1, got {list(self.batches)}"
            )
        if max(self.batches) > MAX_BATCH:
            raise BenchOptionError(
                f"--batches lists {max(self.batches)}; allowed: at most {MAX_BATCH} frames"
            )
        if len(set(self.batches)) != len(self.batches):
            raise BenchOptionError(f"--batches lists a size twice: {list(self.batches)}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchOptions:
        return cls(
            frames=getattr(args, "frames", TEST_FRAMES),
            latency_calls=args.latency_calls,
            batches=args.batches,
            frames_per_point=args.frames_per_point,
            repeats=args.repeats,
            cpu_baseline=not getattr(args, "no_cpu", False),
            cpu_frames=getattr(args, "cpu_frames", None),
        )


def batch_list(text: str) -> tuple[int, ...]:
    """``"1,10,100"`` as ``(1, 10, 100)``; argparse reports a bad list by its flag."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers such as 1,10,100, got {text!r}"
        ) from None


def add_measurement_arguments(
    parser: argparse.ArgumentParser,
    *,
    batches: tuple[int, ...] = DEFAULT_BATCHES,
    frames_per_point: int = 10_000,
    target: str = "auto",
) -> None:
    """The flags ``bench``, ``pipeline`` and ``accept`` take (defaults per command)."""
    parser.add_argument("--target", choices=("auto", "board", "emulator"), default=target)
    parser.add_argument(
        "--latency-calls", type=int, default=1000, help="single-frame calls (default %(default)s)"
    )
    parser.add_argument(
        "--batches",
        type=batch_list,
        default=batches,
        help=f"batch sizes for throughput (default {','.join(map(str, batches))})",
    )
    parser.add_argument(
        "--frames-per-point",
        type=int,
        default=frames_per_point,
        help="frames timed per batch size and repeat, at least one call (default %(default)s)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per batch size (default %(default)s)"
    )
