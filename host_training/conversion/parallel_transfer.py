"""One long transfer through the compiled IP, split over several processes (the converter's).

The IP keeps no state between frames, so frames split into blocks, each run by
its own process with its own library, give the same words as one transfer.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from pynq_mnist.board.emulator.iplib import IPLibrary, IPLibraryError, beats_from_bytes

#: A worker process costs about half a second to start (spawn, import numpy),
#: so :func:`default_workers` gives each at least this many frames.
MIN_FRAMES_PER_WORKER = 256


def default_workers(frames: int) -> int:
    """Processes worth using for ``frames`` frames: one per CPU this process may run on,
    each with at least :data:`MIN_FRAMES_PER_WORKER` frames."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, frames // MIN_FRAMES_PER_WORKER))


def transfer(lib: IPLibrary, stream_bytes: np.ndarray, workers: int | None = None) -> np.ndarray:
    """One transfer of whole frames through ``lib``: output words ``(frames, beats_out)``.

    Parameters
    ----------
    lib : IPLibrary
        Runs the first block of frames; fresh processes, each with its own
        library loaded from ``lib.path``, run the others as transfers of their own.
    stream_bytes : np.ndarray
        uint8, one dimension, whole frames back to back.
    workers : int or None
        Processes to split the frames over (``None``: :func:`default_workers`).
    """
    beats = beats_from_bytes(stream_bytes, lib.bytes_in_per_frame)
    frames = beats.size // lib.beats_in_per_frame
    workers = default_workers(frames) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (or None for one per CPU), got {workers}")
    blocks = np.array_split(beats.reshape(frames, -1), min(workers, frames))
    if len(blocks) == 1:
        return lib.transfer_beats(beats)
    spawn = multiprocessing.get_context("spawn")  # this process may hold threads (TF)
    with ProcessPoolExecutor(len(blocks) - 1, mp_context=spawn) as pool:
        futures = [
            pool.submit(_transfer_in_worker, lib.path, lib.weights_dir, block.ravel())
            for block in blocks[1:]
        ]
        try:
            words = [lib.transfer_beats(blocks[0].ravel())]
            words += [f.result() for f in futures]
        except BrokenProcessPool as e:
            raise IPLibraryError(
                f"a worker process running {lib.path} died ({e}); "
                "run with workers=1 to see the IP fail in this process"
            ) from None
        finally:
            for f in futures:
                f.cancel()
    return np.concatenate(words)


def _transfer_in_worker(path: Path, weights_dir: Path, beats: np.ndarray) -> np.ndarray:
    """One block of :func:`transfer`, in a worker process with its own library."""
    with IPLibrary(path, weights_dir) as lib:
        return lib.transfer_beats(beats)
