"""What the two compiled IP models share: an AXI4-Stream IP behind a small C API.

The HLS wrapper compiled with g++ (:class:`.iplib.IPLibrary`, functions ``pm_*``) and
the RTL clocked by Verilator (:class:`.rtl_sim.RTLSimulation`, functions ``rtl_*``)
both export ``PREFIX`` + ``create``, ``destroy``, ``reset``, ``push``, ``run``,
``pending_output`` and ``pending_input``. :class:`CStreamModel` holds one instance
of such a library and gives the DMA model's ``IPModel`` API over it; a subclass loads
its library and adds what only it has (``pop``'s signature differs between the two).

This module imports numpy, ctypes and the standard library only.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from pynq_mnist.bundle import BundleError

size_t, u64p, u8p = ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint8)


class CStreamModel:
    """One instance of a compiled stream IP (set ``_lib``, ``_handle`` and ``path`` first).

    Subclasses name their C functions' ``PREFIX`` and their ``Error``.
    """

    PREFIX = ""
    Error: type[Exception] = RuntimeError
    path: Path
    beats_in_per_frame: int

    def _load(self, signatures: dict, abi_version: int, what: str) -> ctypes.CDLL:
        """The library at ``self.path`` with ``signatures`` set; an ``Error`` unless it
        loads, has every function and speaks C API ``abi_version``."""
        try:
            lib = ctypes.CDLL(str(self.path))
            for name, (args, res) in signatures.items():
                fn = getattr(lib, name)
                fn.argtypes, fn.restype = args, res
        except (OSError, AttributeError) as e:
            raise self.Error(f"{self.path} is not {what}: {e}") from None
        version = getattr(lib, self.PREFIX + "abi_version")()
        if version != abi_version:
            raise self.Error(
                f"{self.path} has C API version {version}; this pynq-mnist needs "
                f"{abi_version} (rebuild it: {type(self).__name__}.for_bundle does)"
            )
        return lib

    def _c(self, name: str):
        return getattr(self._lib, self.PREFIX + name)

    def _live(self) -> ctypes.c_void_p:
        if getattr(self, "_handle", None) is None:
            raise self.Error(f"this {type(self).__name__} was closed")
        return self._handle

    @classmethod
    def _matching(cls, path: Path, beats_in: int, *args):
        """An instance of the library at ``path``; an ``Error`` unless it takes ``beats_in``."""
        model = cls(path, *args)
        if model.beats_in_per_frame != beats_in:
            model.close()
            raise cls.Error(
                f"{path} takes {model.beats_in_per_frame} beats per frame but the bundle "
                f"says {beats_in}: the library belongs to another bundle"
            )
        return model

    def reset(self) -> None:
        """The IP's reset: every queued or half-read beat and frame is dropped."""
        self._c("reset")(self._live())

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
        self._c("push")(
            self._live(), data.ctypes.data_as(u64p), flags.ctypes.data_as(u8p), data.size
        )

    def run(self) -> int:
        """Run the IP on what is queued; the number of frames (HLS) or output beats (RTL)."""
        return int(self._c("run")(self._live()))

    def pending_output(self) -> int:
        """Output beats waiting to be popped."""
        return int(self._c("pending_output")(self._live()))

    def pending_input(self) -> int:
        """Input beats queued but not yet taken (a frame still waiting for beats)."""
        return int(self._c("pending_input")(self._live()))

    def close(self) -> None:
        """Free the instance (the library stays loaded while the process lives)."""
        if getattr(self, "_handle", None) is not None:
            self._c("destroy")(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
