"""A stream IP computed by a numpy function, with ``IPLibrary``'s API.

The compiled wrapper (``iplib.IPLibrary``) is the emulated board's real IP.
This model stands in where another stream format is needed: the hls4ml
float32 one-element-per-beat stream that ``bench/driver.py`` compares
against, and unit tests that must not depend on a compiled bundle. It keeps
the wrapper's contract: frames of ``in_beats`` beats in, ``out_beats`` beats
out per frame, TLAST on the last output beat of a frame whose input ended
with TLAST; a TLAST before a frame's last beat ends that frame early, padded
with zero beats (as ``pynq_mnist_top`` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


class FunctionIP:
    """Frames in, ``fn(frames) -> out words`` out, beat by beat.

    Parameters
    ----------
    in_beats, out_beats : int
        Beats per frame on each side.
    fn : callable
        ``(N, in_beats) uint64 -> (N, out_beats) uint64``.

    Attributes
    ----------
    compute_s : float
        Seconds spent in ``fn``: the "device compute" a driver benchmark excludes.
    """

    def __init__(self, in_beats: int, out_beats: int, fn: Callable[[np.ndarray], np.ndarray]):
        self.in_beats, self.out_beats, self.fn = in_beats, out_beats, fn
        self.compute_s = 0.0
        self.reset()

    def reset(self) -> None:
        self._in: list[np.ndarray] = []
        self._in_last: list[np.ndarray] = []
        self._out = np.zeros(0, dtype=np.uint64)
        self._out_last = np.zeros(0, dtype=bool)

    def push(self, data: np.ndarray, last: np.ndarray) -> None:
        self._in.append(np.asarray(data, dtype=np.uint64).reshape(-1))
        self._in_last.append(np.asarray(last, dtype=bool).reshape(-1))

    def run(self) -> int:
        """Compute every complete input frame (or one a TLAST ends); returns how many."""
        if not self._in:
            return 0
        data, last = np.concatenate(self._in), np.concatenate(self._in_last)
        blocks, flags, pos = [], [], 0
        for end in np.flatnonzero(last):  # frames ended by TLAST, the last one padded
            seg = data[pos : end + 1]
            n = -(-len(seg) // self.in_beats)
            padded = np.zeros(n * self.in_beats, dtype=np.uint64)
            padded[: len(seg)] = seg
            blocks.append(padded.reshape(n, self.in_beats))
            flags.append(np.arange(n) == n - 1)
            pos = end + 1
        n = (len(data) - pos) // self.in_beats  # whole frames not yet ended by TLAST
        used = pos + n * self.in_beats
        blocks.append(data[pos:used].reshape(n, self.in_beats))
        flags.append(np.zeros(n, dtype=bool))
        self._in, self._in_last = [data[used:]], [last[used:]]
        frames = np.concatenate(blocks)
        if len(frames) == 0:
            return 0
        t0 = time.perf_counter()
        out = np.asarray(self.fn(frames), dtype=np.uint64)
        self.compute_s += time.perf_counter() - t0
        out_last = np.zeros((len(frames), self.out_beats), dtype=bool)
        out_last[:, -1] = np.concatenate(flags)
        self._out = np.concatenate([self._out, out.reshape(-1)])
        self._out_last = np.concatenate([self._out_last, out_last.reshape(-1)])
        return len(frames)

    def pop(self, max_beats: int) -> tuple[np.ndarray, np.ndarray]:
        data, last = self._out[:max_beats], self._out_last[:max_beats]
        self._out, self._out_last = self._out[max_beats:], self._out_last[max_beats:]
        return data, last

    def pending_output(self) -> int:
        return len(self._out)

    def pending_input(self) -> int:
        """Input beats queued but not yet run (part of a frame)."""
        return sum(len(d) for d in self._in)
