"""Device memory of the emulated board: CMA-like buffers with device addresses.

:meth:`EmulatedMemory.allocate` returns real :class:`pynq.buffer.PynqBuffer`
objects (a subclass that frees into this allocator). Caches are modelled as
on the Zynq's ACP-less HP0 path: the CPU writes the buffer, the DMA sees a
separate device copy, and only ``flush()`` / ``invalidate()`` move data between
them. A driver that forgets either gets stale data here as on the board.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
from pynq.buffer import PynqBuffer

CMA_BASE = 0x16000000
CMA_BYTES = 128 << 20  # the PYNQ-Z2 image's CMA pool: 128 MiB
ALIGN = 4096


class DecodeError(LookupError):
    """An address range that no live allocation covers (the DMA's DecErr)."""


class EmulatedBuffer(PynqBuffer):
    """A :class:`PynqBuffer` whose memory comes from :class:`EmulatedMemory`."""

    #: numpy >= 2 gives ndarray a read-only ``device`` (the array API's), which pynq 3.x's
    #: ``PynqBuffer.__new__`` assigns: a plain class attribute here takes precedence, so
    #: the assignment lands in the instance as with numpy 1.x (the board's numpy).
    device = None

    def freebuffer(self) -> None:
        owner = self.__dict__.pop("_owner", None)
        if owner is not None:
            owner.release(self.device_address)


@dataclass
class MemoryStats:
    """Counters of the emulated memory, for leak and cache-maintenance checks."""

    live_buffers: int = 0
    live_bytes: int = 0
    allocations: int = 0
    flushes: int = 0
    invalidates: int = 0
    flushed_bytes: int = 0
    invalidated_bytes: int = 0


@dataclass
class _Allocation:
    address: int
    size: int
    host: np.ndarray  # what the CPU sees (the PynqBuffer's memory)
    device: np.ndarray = field(repr=False)  # what the DMA sees


class EmulatedMemory:
    """A first-fit allocator over a CMA-sized window of device addresses.

    Parameters
    ----------
    device : pynq.Device
        The device the buffers report as theirs (it counts flush/invalidate).
    size : int
        Bytes in the pool; allocation beyond it raises ``MemoryError`` as CMA does.
    """

    def __init__(self, device, size: int = CMA_BYTES, base: int = CMA_BASE):
        self.device = device
        self.base, self.size = base, size
        self.stats = MemoryStats()
        self._starts: list[int] = []
        self._allocs: dict[int, _Allocation] = {}

    # ------------------------------------------------------------------ allocation

    def _find_gap(self, size: int) -> int:
        cursor = self.base
        for start in self._starts:
            if start - cursor >= size:
                return cursor
            cursor = start + self._allocs[start].size
        if self.base + self.size - cursor >= size:
            return cursor
        raise MemoryError(
            f"emulated CMA exhausted: {size} bytes requested, "
            f"{self.stats.live_bytes} of {self.size} bytes in use"
        )

    def allocate(self, shape, dtype="u4", **kwargs) -> PynqBuffer:
        """A zeroed, cacheable buffer of ``shape`` and ``dtype`` with a device address."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        address = self._find_gap(size)
        host = np.zeros(size, dtype=np.uint8)
        alloc = _Allocation(address, size, host, np.zeros(size, dtype=np.uint8))
        bisect.insort(self._starts, address)
        self._allocs[address] = alloc
        buf = EmulatedBuffer(
            shape=shape,
            dtype=dtype,
            buffer=host,
            device=self.device,
            device_address=address,
            bo=address,
            coherent=False,
        )
        buf._owner = self
        self.stats.live_buffers += 1
        self.stats.live_bytes += size
        self.stats.allocations += 1
        return buf

    def release(self, address: int) -> None:
        alloc = self._allocs.pop(address)
        self._starts.remove(address)
        self.stats.live_buffers -= 1
        self.stats.live_bytes -= alloc.size

    # ------------------------------------------------------------------ cache model

    def flush(self, bo: int, offset: int, nbytes: int) -> None:
        alloc = self._allocs[bo]
        alloc.device[offset : offset + nbytes] = alloc.host[offset : offset + nbytes]
        self.stats.flushes += 1
        self.stats.flushed_bytes += nbytes

    def invalidate(self, bo: int, offset: int, nbytes: int) -> None:
        alloc = self._allocs[bo]
        alloc.host[offset : offset + nbytes] = alloc.device[offset : offset + nbytes]
        self.stats.invalidates += 1
        self.stats.invalidated_bytes += nbytes

    # ------------------------------------------------------------------ the DMA's view

    def device_view(self, address: int, nbytes: int) -> np.ndarray:
        """The device copy of ``[address, address + nbytes)``, or :class:`DecodeError`."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            alloc = self._allocs[self._starts[i]]
            offset = address - alloc.address
            if offset + nbytes <= alloc.size:
                return alloc.device[offset : offset + nbytes]
        raise DecodeError(f"no buffer covers 0x{address:08x} + {nbytes} bytes")
