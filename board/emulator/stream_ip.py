"""A stream IP computed by a numpy function, with ``IPLibrary``'s API.

The compiled wrapper (``iplib.IPLibrary``) is the emulated board's real IP.
This model stands in where another stream format is needed: the hls4ml
float32 one-element-per-beat stream that ``bench/driver.py`` compares
against, and unit tests that must not depend on a compiled bundle. It keeps
the wrapper's contract: frames of ``in_beats`` beats in, ``out_beats`` beats
out per frame, TLAST on the last output beat of a frame whose input ended
with TLAST.
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
        """Compute every complete input frame; returns how many."""
        if not self._in:
            return 0
        data, last = np.concatenate(self._in), np.concatenate(self._in_last)
        n = len(data) // self.in_beats
        used = n * self.in_beats
        self._in, self._in_last = [data[used:]], [last[used:]]
        if n == 0:
            return 0
        t0 = time.perf_counter()
        out = np.asarray(self.fn(data[:used].reshape(n, self.in_beats)), dtype=np.uint64)
        self.compute_s += time.perf_counter() - t0
        out_last = np.zeros((n, self.out_beats), dtype=bool)
        out_last[:, -1] = last[:used].reshape(n, self.in_beats)[:, -1]
        self._out = np.concatenate([self._out, out.reshape(-1)])
        self._out_last = np.concatenate([self._out_last, out_last.reshape(-1)])
        return n

    def pop(self, max_beats: int) -> tuple[np.ndarray, np.ndarray]:
        data, last = self._out[:max_beats], self._out_last[:max_beats]
        self._out, self._out_last = self._out[max_beats:], self._out_last[max_beats:]
        return data, last

    def pending_output(self) -> int:
        return len(self._out)
