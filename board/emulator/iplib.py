"""The IP's own HLS C++, compiled with g++ and driven beat by beat: the emulated device.

A bundle carries the IP's sources (``files["hls"]``) and a build of them for the
host that converted it (``files["emulator"]``, ``libpynq_mnist_ip.so``). The
library wraps the top function ``pynq_mnist_top`` in a small C API
(``hls/emulator/pynq_mnist_emu.cpp``)::

    int    pm_abi_version(void);              // ABI_VERSION
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

:meth:`IPLibrary.run` never blocks: a frame runs once all its beats are queued,
or earlier when a TLAST ends it (the IP pads it with zeros and sends its result
with TLAST). :meth:`IPLibrary.transfer` can split a long transfer over several
processes, one library each (the IP keeps no state between frames, so the words
are the same). This module imports numpy, ctypes and the standard library only.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from pynq_mnist.bundle import Bundle, BundleError, sha256_tree

from .cache import cache_dir

ABI_VERSION = 1
LIBRARY_NAME = "libpynq_mnist_ip.so"
COMPILE_TIMEOUT_S = 600
#: What the library is built from, under ``BUNDLE/hls`` (the HLS build adds
#: ``work/``, ``ip_repo/`` and ``reports/`` beside them, which change nothing here).
SOURCE_PATHS = (
    "firmware",
    "emulator",
    "pynq_mnist_top.h",
    "pynq_mnist_top.cpp",
    "pynq_mnist_config.h",
)
BEAT_BYTES = 8
#: A worker process costs about half a second to start (spawn, import numpy),
#: so :func:`default_workers` gives each at least this many frames.
MIN_FRAMES_PER_WORKER = 256

_size_t, _u64p, _u8p = (
    ctypes.c_size_t,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ctypes.c_uint8),
)
_SIGNATURES = {
    "pm_abi_version": ([], ctypes.c_int),
    "pm_beats_in_per_frame": ([], ctypes.c_int),
    "pm_beats_out_per_frame": ([], ctypes.c_int),
    "pm_set_weights_dir": ([ctypes.c_char_p], None),
    "pm_create": ([], ctypes.c_void_p),
    "pm_destroy": ([ctypes.c_void_p], None),
    "pm_reset": ([ctypes.c_void_p], None),
    "pm_push": ([ctypes.c_void_p, _u64p, _u8p, _size_t], _size_t),
    "pm_run": ([ctypes.c_void_p], _size_t),
    "pm_pop": ([ctypes.c_void_p, _u64p, _u8p, _size_t], _size_t),
    "pm_pending_output": ([ctypes.c_void_p], _size_t),
    "pm_pending_input": ([ctypes.c_void_p], _size_t),
}


class IPLibraryError(RuntimeError):
    """The emulation library cannot be built or loaded, or the IP misbehaved."""


# --------------------------------------------------------------------------- build


def library_sources(hls_dir: str | os.PathLike) -> list[Path]:
    """The C++ files of the emulation library: the wrapper, the network, the C API."""
    hls_dir = Path(hls_dir)
    sources = sorted(
        [
            *hls_dir.glob("*.cpp"),
            *(hls_dir / "firmware").glob("*.cpp"),
            *(hls_dir / "emulator").glob("*.cpp"),
        ]
    )
    if not any(p.name == "pynq_mnist_emu.cpp" for p in sources):
        raise IPLibraryError(
            f"{hls_dir} holds no emulator/pynq_mnist_emu.cpp: not the HLS folder of a "
            "pynq-mnist bundle (convert the model again)"
        )
    return sources


def compile_library(hls_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Compile the bundle's HLS sources with g++ into the shared library ``out``.

    The library is written beside ``out`` and moved into place only once g++
    succeeded. Include order matters: ``emulator/include`` supplies the
    ``ap_axi_sdata.h`` shim, ``firmware/ap_types`` hls4ml's C-simulation types.
    The network reads its weights at run time from the folder given to
    :class:`IPLibrary` (``-DWEIGHTS_DIR=pm_weights_dir()``), so the library does
    not depend on where the bundle lies.
    """
    hls_dir, out = Path(hls_dir), Path(out)
    includes = [hls_dir, hls_dir / "firmware", hls_dir / "firmware" / "ap_types"]
    includes.append(hls_dir / "emulator" / "include")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    cmd = ["g++", "-O3", "-std=c++14", "-fPIC", "-shared", "-Wno-unknown-pragmas"]
    cmd += ["-include", str(hls_dir / "emulator" / "include" / "pm_weights_dir.h")]
    cmd += ["-DWEIGHTS_DIR=pm_weights_dir()"]
    cmd += [f"-I{p}" for p in includes] + [str(s) for s in library_sources(hls_dir)]
    cmd += ["-o", tmp]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        if proc.returncode != 0:
            raise IPLibraryError(f"g++ failed to build the emulator:\n{proc.stderr[-4000:]}")
        os.replace(tmp, out)
    except FileNotFoundError:
        raise IPLibraryError("g++ is not installed: the emulator needs a C++ compiler") from None
    except subprocess.TimeoutExpired:
        raise IPLibraryError(f"g++ took over {COMPILE_TIMEOUT_S} s; gave up") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def sources_digest(hls_dir: str | os.PathLike) -> str:
    """One hash of the library's sources (:data:`SOURCE_PATHS`)."""
    h = hashlib.sha256()
    for rel in SOURCE_PATHS:
        h.update(rel.encode() + b"\0" + sha256_tree(Path(hls_dir) / rel).encode())
    return h.hexdigest()


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


def default_workers(frames: int) -> int:
    """Processes worth using for ``frames`` frames: one per CPU this process may run on,
    each with at least :data:`MIN_FRAMES_PER_WORKER` frames."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, frames // MIN_FRAMES_PER_WORKER))


# --------------------------------------------------------------------------- library


def check_weights_dir(weights_dir: str | os.PathLike) -> Path:
    """``weights_dir`` if every weight header in it has its ``.txt`` values file.

    hls4ml's C loader ends the whole process on a missing file, so look first.
    """
    weights_dir = Path(weights_dir).resolve()
    headers = sorted(weights_dir.glob("*.h"))
    missing = [h.with_suffix(".txt").name for h in headers if not h.with_suffix(".txt").is_file()]
    if not headers or missing:
        raise IPLibraryError(
            f"{weights_dir} lacks the network's weight files "
            f"({', '.join(missing[:5]) or 'no weights at all'}); convert the model again"
        )
    return weights_dir


def _check_library(path: Path) -> None:
    """Load ``path`` in a child process first: a bad library must not kill this one."""
    code = (
        "import ctypes,sys;lib=ctypes.CDLL(sys.argv[1]);"
        "lib.pm_abi_version.restype=ctypes.c_int;sys.exit(0 if lib.pm_abi_version()==int(sys.argv[2]) else 3)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(ABI_VERSION)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        why = "ABI version mismatch" if proc.returncode == 3 else proc.stderr.strip()[-500:]
        raise IPLibraryError(f"{path} does not load here: {why}")


class IPLibrary:
    """One emulated IP instance from a compiled ``libpynq_mnist_ip.so``.

    Parameters
    ----------
    path : str or Path
        The shared library (see :func:`compile_library`).
    weights_dir : str or Path
        The network's weight files (``BUNDLE/hls/firmware/weights``).
    """

    def __init__(self, path: str | os.PathLike, weights_dir: str | os.PathLike):
        self.path = Path(path)
        weights_dir = check_weights_dir(weights_dir)
        try:
            lib = ctypes.CDLL(str(self.path))
            for name, (args, res) in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.argtypes, fn.restype = args, res
        except (OSError, AttributeError) as e:
            raise IPLibraryError(f"{self.path} is not a pynq-mnist IP library: {e}") from None
        version = lib.pm_abi_version()
        if version != ABI_VERSION:
            raise IPLibraryError(
                f"{self.path} has C API version {version}; this pynq-mnist needs "
                f"{ABI_VERSION} (rebuild it: IPLibrary.for_bundle does)"
            )
        lib.pm_set_weights_dir(os.fsencode(weights_dir))
        self.weights_dir = weights_dir
        self._lib = lib
        self._handle = lib.pm_create()
        self.beats_in_per_frame = int(lib.pm_beats_in_per_frame())
        self.beats_out_per_frame = int(lib.pm_beats_out_per_frame())

    @classmethod
    def for_bundle(
        cls, bundle: Bundle | str | os.PathLike, cache: str | os.PathLike | None = None
    ) -> IPLibrary:
        """The bundle's library; rebuilt from its HLS sources if it will not load here.

        The rebuilt library goes to ``cache`` (default :func:`cache_dir`), in a
        folder named by the hash of the sources, and is reused next time.
        """
        bundle = bundle if isinstance(bundle, Bundle) else Bundle(bundle)
        meta = bundle.metadata
        candidates = []
        if bundle.has("emulator"):
            candidates.append(bundle.file("emulator"))
        hls_dir = bundle.file("hls")
        weights_dir = hls_dir / "firmware" / "weights"
        tag = sources_digest(hls_dir)[:16]
        cached = Path(cache or cache_dir()) / tag / LIBRARY_NAME
        candidates.append(cached)
        errors = []
        for path in candidates:
            if not path.is_file():
                continue
            try:
                _check_library(path)
            except IPLibraryError as e:
                errors.append(str(e))
                continue
            return cls._matching(path, weights_dir, meta.input.beats_per_frame)
        why = "; ".join(errors) or "the bundle has no library"
        print(f"building the emulated IP from {hls_dir} with g++ ({why}) ...", flush=True)
        compile_library(hls_dir, cached)
        return cls._matching(cached, weights_dir, meta.input.beats_per_frame)

    @classmethod
    def _matching(cls, path: Path, weights_dir: Path, beats_in: int) -> IPLibrary:
        lib = cls(path, weights_dir)
        if lib.beats_in_per_frame != beats_in:
            lib.close()
            raise IPLibraryError(
                f"{path} takes {lib.beats_in_per_frame} beats per frame but the bundle "
                f"says {beats_in}: the library belongs to another bundle"
            )
        return lib

    # ------------------------------------------------------------------ the C API

    def _live(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise IPLibraryError("this IPLibrary was closed")
        return self._handle

    def reset(self) -> None:
        """Drop every queued input and output beat."""
        self._lib.pm_reset(self._live())

    def push(self, data: np.ndarray, last: np.ndarray) -> None:
        """Queue input beats: ``data`` uint64 and ``last`` (TLAST) bool, both shape ``(n,)``."""
        if not isinstance(data, np.ndarray) or data.dtype != np.uint64 or data.ndim != 1:
            raise BundleError(
                f"beats must be a one-dimensional uint64 array, got "
                f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
            )
        if not isinstance(last, np.ndarray) or last.dtype != np.bool_ or last.shape != data.shape:
            raise BundleError(
                f"last must be a bool array of shape {data.shape} (TLAST per beat), got "
                f"{getattr(last, 'dtype', type(last).__name__)} {getattr(last, 'shape', '')}"
            )
        data = np.ascontiguousarray(data)
        flags = np.ascontiguousarray(last, dtype=np.uint8)
        self._lib.pm_push(
            self._live(), data.ctypes.data_as(_u64p), flags.ctypes.data_as(_u8p), data.size
        )

    def run(self) -> int:
        """Run the IP on every frame that is ready; the number of frames it ran."""
        return int(self._lib.pm_run(self._live()))

    def pop(self, max_beats: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``max_beats`` output beats (all by default): ``(data uint64, last bool)``."""
        n = self.pending_output() if max_beats is None else int(max_beats)
        if n < 0:
            raise ValueError(f"max_beats must be >= 0, got {max_beats}")
        data = np.empty(n, dtype=np.uint64)
        flags = np.empty(n, dtype=np.uint8)
        got = self._lib.pm_pop(
            self._live(), data.ctypes.data_as(_u64p), flags.ctypes.data_as(_u8p), n
        )
        return data[:got], flags[:got].astype(bool)

    def pending_output(self) -> int:
        """Output beats waiting to be popped."""
        return int(self._lib.pm_pending_output(self._live()))

    def pending_input(self) -> int:
        """Input beats queued but not yet consumed (a frame still waiting for beats)."""
        return int(self._lib.pm_pending_input(self._live()))

    # ------------------------------------------------------------------ conveniences

    def transfer(self, stream_bytes: np.ndarray, workers: int | None = 1) -> np.ndarray:
        """One DMA-like transfer of whole frames: output words ``(frames, beats_out)``.

        TLAST goes on the last input beat; the IP must answer every frame and put
        TLAST on its last output beat only, else :class:`IPLibraryError`.

        Parameters
        ----------
        stream_bytes : np.ndarray
            uint8, one dimension, whole frames back to back.
        workers : int or None
            Processes to split the frames over (``None``: :func:`default_workers`).
            With more than one, this instance runs the first block of frames and
            fresh processes, each with its own library, run the others as
            transfers of their own.
        """
        beats = beats_from_bytes(stream_bytes, self.beats_in_per_frame * BEAT_BYTES)
        frames = beats.size // self.beats_in_per_frame
        workers = default_workers(frames) if workers is None else int(workers)
        if workers < 1:
            raise ValueError(f"workers must be >= 1 (or None for one per CPU), got {workers}")
        blocks = np.array_split(beats.reshape(frames, -1), min(workers, frames))
        if len(blocks) == 1:
            return self._transfer_beats(beats)
        spawn = multiprocessing.get_context("spawn")  # this process may hold threads (TF)
        with ProcessPoolExecutor(len(blocks) - 1, mp_context=spawn) as pool:
            futures = [
                pool.submit(_transfer_in_worker, self.path, self.weights_dir, block.ravel())
                for block in blocks[1:]
            ]
            try:
                words = [self._transfer_beats(blocks[0].ravel())]
                words += [f.result() for f in futures]
            except BrokenProcessPool as e:
                raise IPLibraryError(
                    f"a worker process running {self.path} died ({e}); "
                    "run with workers=1 to see the IP fail in this process"
                ) from None
            finally:
                for f in futures:
                    f.cancel()
        return np.concatenate(words)

    def _transfer_beats(self, beats: np.ndarray) -> np.ndarray:
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

    def close(self) -> None:
        """Free the instance (the library stays loaded while the process lives)."""
        if getattr(self, "_handle", None) is not None:
            self._lib.pm_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> IPLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IPLibrary({str(self.path)!r})"


def _transfer_in_worker(path: Path, weights_dir: Path, beats: np.ndarray) -> np.ndarray:
    """One block of :meth:`IPLibrary.transfer`, in a worker process with its own library."""
    with IPLibrary(path, weights_dir) as lib:
        return lib._transfer_beats(beats)
