"""The IP's own HLS C++, compiled with g++, driven beat by beat: the emulated device's IP.

A bundle carries the IP's sources (``files["hls"]``) and a build of them for the
host that converted it (``files["emulator"]``, ``libpynq_mnist_ip.so``; built by
:mod:`.library_build`). The library wraps the top function ``pynq_mnist_top`` in
a small C API (``hls/emulator/pynq_mnist_emu.cpp``), whose version is the
contract's ``EMULATOR_ABI_VERSION``::

    int    pm_abi_version(void);              // EMULATOR_ABI_VERSION
    const char *pm_sources_digest(void);      // library_build.sources_digest of its sources
    int    pm_beats_in_per_frame(void);       // 98
    int    pm_beats_out_per_frame(void);      // 1
    void  *pm_create(void);
    void   pm_destroy(void *h);
    void   pm_set_weights_dir(const char *p); // before the first run (process-wide)
    void   pm_reset(void *h);                 // drop queued input and output beats
    size_t pm_push(void *h, const uint64_t *data, const uint8_t *last, size_t n);
    size_t pm_run(void *h);                   // frames processed
    size_t pm_pop(void *h, uint64_t *data, uint8_t *last, size_t max);
    size_t pm_pending_output(void *h);
    size_t pm_pending_input(void *h);

Beats cross the C API as ``uint64_t``. :meth:`IPLibrary.run` never blocks: a
frame runs once all its beats are queued, or earlier when a TLAST ends it (the
IP pads it with zeros and sends its result with TLAST). This module imports
numpy, ctypes and the standard library only.
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import numpy as np

from pynq_mnist.bundle import EMULATOR_ABI_VERSION, Bundle, BundleError

from .c_stream_model import CStreamModel, size_t, u8p, u64p
from .cache import cache_dir, cache_writes, digest_matches, record_digest
from .golden_probe import probe_library
from .library_build import (
    LIBRARY_NAME,
    IPLibraryError,
    check_library,
    compile_library,
    sources_digest,
)

#: Bytes of one beat as the C API passes it (``uint64_t``).
ABI_BEAT_BYTES = np.dtype(np.uint64).itemsize


_SIGNATURES = {
    "pm_abi_version": ([], ctypes.c_int),
    "pm_sources_digest": ([], ctypes.c_char_p),
    "pm_beats_in_per_frame": ([], ctypes.c_int),
    "pm_beats_out_per_frame": ([], ctypes.c_int),
    "pm_set_weights_dir": ([ctypes.c_char_p], None),
    "pm_create": ([], ctypes.c_void_p),
    "pm_destroy": ([ctypes.c_void_p], None),
    "pm_reset": ([ctypes.c_void_p], None),
    "pm_push": ([ctypes.c_void_p, u64p, u8p, size_t], size_t),
    "pm_run": ([ctypes.c_void_p], size_t),
    "pm_pop": ([ctypes.c_void_p, u64p, u8p, size_t], size_t),
    "pm_pending_output": ([ctypes.c_void_p], size_t),
    "pm_pending_input": ([ctypes.c_void_p], size_t),
}


# --------------------------------------------------------------------------- packing


def beats_from_bytes(stream_bytes: np.ndarray, bytes_per_frame: int) -> np.ndarray:
    """The uint64 beats of whole frames of stream bytes, or a clear error.

    Parameters
    ----------
    stream_bytes : np.ndarray
        uint8, one dimension: frames back to back, as the DMA reads them.
    bytes_per_frame : int
        The input format's frame size (784 for MNIST).
    """
    if not isinstance(stream_bytes, np.ndarray) or stream_bytes.dtype != np.uint8:
        got = stream_bytes.dtype if isinstance(stream_bytes, np.ndarray) else type(stream_bytes)
        raise BundleError(f"stream bytes must be a uint8 numpy array, got {got}")
    if stream_bytes.ndim != 1:
        raise BundleError(
            f"stream bytes must be one-dimensional, got shape {stream_bytes.shape}; "
            "pack frames with BundleMetadata.input.pack(frames)"
        )
    n = stream_bytes.size
    if n == 0 or n % bytes_per_frame:
        raise BundleError(
            f"{n} bytes are not a whole number of {bytes_per_frame}-byte frames "
            f"({n / bytes_per_frame:.3f} frames); send whole frames only"
        )
    return np.ascontiguousarray(stream_bytes).view("<u8").astype(np.uint64, copy=False)


# --------------------------------------------------------------------------- library


# Every weight load in hls4ml's firmware: ``nnet::load_weights_from_txt<T, SIZE>(w, "w.txt")``.
_WEIGHT_LOAD = re.compile(
    r"nnet::load_(\w+)_from_txt<[^<>]*?,\s*(\d+)\s*>\s*\(\s*\w+\s*,\s*\"([^\"]*)\""
)


def check_weights_dir(weights_dir: str | os.PathLike) -> Path:
    """``weights_dir`` if every weight file hls4ml's C loader will read is there and whole.

    hls4ml's loader (``nnet_helpers.h``) ends the whole process on a missing file,
    and writes past its array when a file holds more values than the array: so
    each load in ``firmware/*.cpp`` is checked first (its file exists and holds
    exactly the array's number of values) and anything else is refused.
    """
    weights_dir = Path(weights_dir).resolve()
    loads = []
    for cpp in sorted(weights_dir.parent.glob("*.cpp")):
        loads += _WEIGHT_LOAD.findall(cpp.read_text(errors="replace"))
    if not loads:
        raise IPLibraryError(
            f"{weights_dir}: the network in {weights_dir.parent} loads no weight files "
            "(not an hls4ml firmware folder); convert the model again"
        )
    for kind, size, name in loads:
        where = f"{weights_dir}/{name}"
        if kind != "weights":
            raise IPLibraryError(f"{where}: hls4ml's {kind} weight format is not supported")
        if not re.fullmatch(r"[A-Za-z0-9_]+\.txt", name) or not (weights_dir / name).is_file():
            raise IPLibraryError(
                f"{weights_dir} lacks the network's weight files ({name}); convert the model again"
            )
        with open(weights_dir / name, errors="replace") as f:
            values = f.readline().split(",")
        if len(values) != int(size) or not all(_is_number(v) for v in values):
            raise IPLibraryError(
                f"{where} holds {len(values)} values (or non-numbers) but the network's array "
                f"takes {size}: the weights were changed; convert the model again"
            )
    return weights_dir


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class IPLibrary(CStreamModel):
    """One emulated IP instance from a compiled ``libpynq_mnist_ip.so``.

    Parameters
    ----------
    path : str or Path
        The shared library (see :func:`compile_library`).
    weights_dir : str or Path
        The network's weight files (``BUNDLE/hls/firmware/weights``).
    """

    PREFIX = "pm_"
    Error = IPLibraryError

    def __init__(self, path: str | os.PathLike, weights_dir: str | os.PathLike):
        self.path = Path(path)
        weights_dir = check_weights_dir(weights_dir)
        lib = self._load(_SIGNATURES, EMULATOR_ABI_VERSION, "a pynq-mnist IP library")
        self.sources_digest = lib.pm_sources_digest().decode()
        lib.pm_set_weights_dir(os.fsencode(weights_dir))
        self.weights_dir = weights_dir
        self._lib = lib
        self._handle = lib.pm_create()
        self.beats_in_per_frame = int(lib.pm_beats_in_per_frame())
        self.beats_out_per_frame = int(lib.pm_beats_out_per_frame())
        self.bytes_in_per_frame = self.beats_in_per_frame * ABI_BEAT_BYTES

    @classmethod
    def for_bundle(
        cls, bundle: Bundle | str | os.PathLike, cache: str | os.PathLike | None = None
    ) -> IPLibrary:
        """The bundle's library; rebuilt from its HLS sources unless it is theirs and loads.

        A candidate is loaded in a child process first (:func:`check_library`), and
        runs the golden frames there (:func:`.golden_probe.probe_library`): one that
        will not load, speaks another C API, was built from other sources or
        weights, or crashes is never loaded here. A cached one must also match its
        recorded sha256 (:func:`.cache.digest_matches`). The rebuilt library goes to ``cache``
        (default :func:`cache_dir`), in a folder named by the hash of the sources,
        and is reused next time. The weight files are checked before anything runs.
        """
        bundle = bundle if isinstance(bundle, Bundle) else Bundle(bundle)
        meta = bundle.metadata
        candidates = []
        if bundle.has("emulator"):
            candidates.append(bundle.file("emulator"))
        hls_dir = bundle.file("hls")
        weights_dir = check_weights_dir(hls_dir / "firmware" / "weights")
        digest = sources_digest(hls_dir)
        tag = digest[:16]
        cached = Path(cache or cache_dir()) / tag / LIBRARY_NAME
        candidates.append(cached)
        errors = []
        for path in candidates:
            if not path.is_file():
                continue
            if path == cached and not digest_matches(path):
                errors.append(f"{path} does not match its recorded sha256 (corrupted, or older)")
                continue
            try:
                check_library(path, digest)
                probe_library(path, bundle.path)
            except IPLibraryError as e:
                errors.append(str(e))
                continue
            return cls._matching(path, meta.input.beats_per_frame, weights_dir)
        why = "; ".join(errors) or "the bundle has no library"
        print(f"building the emulated IP from {hls_dir} with g++ ({why}) ...", flush=True)
        with cache_writes():
            compile_library(hls_dir, cached)
        record_digest(cached)
        check_library(cached, digest)
        probe_library(cached, bundle.path)
        return cls._matching(cached, meta.input.beats_per_frame, weights_dir)

    def pop(self, max_beats: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``max_beats`` output beats (all by default): ``(data uint64, last bool)``."""
        n = self.pending_output() if max_beats is None else int(max_beats)
        if n < 0:
            raise ValueError(f"max_beats must be >= 0, got {max_beats}")
        data = np.empty(n, dtype=np.uint64)
        flags = np.empty(n, dtype=np.uint8)
        got = self._lib.pm_pop(
            self._live(), data.ctypes.data_as(u64p), flags.ctypes.data_as(u8p), n
        )
        return data[:got], flags[:got].astype(bool)

    # ------------------------------------------------------------------ conveniences

    def transfer(self, stream_bytes: np.ndarray) -> np.ndarray:
        """One DMA-like transfer of whole frames: output words ``(frames, beats_out)``.

        TLAST goes on the last input beat; the IP must answer every frame and put
        TLAST on its last output beat only, else :class:`IPLibraryError`.
        """
        return self.transfer_beats(beats_from_bytes(stream_bytes, self.bytes_in_per_frame))

    def transfer_beats(self, beats: np.ndarray) -> np.ndarray:
        """:meth:`transfer` of whole frames given as uint64 beats."""
        frames = beats.size // self.beats_in_per_frame
        last = np.zeros(beats.size, dtype=bool)
        last[-1] = True
        self.push(beats, last)
        ran = self.run()
        data, flags = self.pop()
        want = frames * self.beats_out_per_frame
        if ran != frames or data.size != want or not flags[-1] or flags[:-1].any():
            raise IPLibraryError(
                f"the IP ran {ran} of {frames} frames and gave {data.size} of {want} beats "
                f"with TLAST at {np.flatnonzero(flags).tolist()[:5]} (expected only at {want - 1})"
            )
        return data.reshape(frames, self.beats_out_per_frame)
