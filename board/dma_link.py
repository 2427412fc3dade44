"""pynq's AXI DMA driver with deadlines and a lean steady state.

``pynq.lib.dma`` spins in ``wait()`` until the channel is idle, forever when
the IP never sends TLAST (it has no timeout), and its ``transfer()`` reads DMASR
twice (running, idle) and writes SA, SA_MSB and LENGTH on every call, checking
size and alignment each time. A single frame's call is mostly that host work.

:class:`DmaLink` keeps pynq's driver for starting and stopping the channels and
does pynq's checks once: the channels are checked running when the link is
armed (at load and after every reset), and a buffer pair's size and alignment
(against the driver's own limits) when :meth:`DmaLink.plan` is made for it.
A steady-state :meth:`DmaLink.transfer` then flushes the source, writes a
channel's SA (and SA_MSB) only when it differs from what the channel holds
since its last reset (they are plain read/write registers, PG021; a soft reset
clears them), writes LENGTH (which starts the channel), and polls each
channel's DMASR against a deadline, one read a round: for one frame, one write
and one read per channel. It invalidates the destination as ``wait()`` would,
names the error bits, and on a failure resets the DMA (both channels) so that
it stops. The DMA's reset does not reach the IP, which may still hold part of a
frame and output words: :class:`~pynq_mnist.board.overlay.MnistOverlay` resets
the IP too, and proves the path clean, before its next call.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from pynq_mnist import limits
from pynq_mnist.errors import Failed

MM2S, S2MM = 0x00, 0x30  # channel register blocks (PG021)
DMACR, DMASR, SA, SA_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
MM2S_DMACR, MM2S_DMASR, S2MM_DMASR = MM2S + DMACR, MM2S + DMASR, S2MM + DMASR
RESET_BIT = 0x4
IDLE, ERROR_MASK = 0x2, 0x70
ERROR_BITS = {
    0x10: "DMAIntErr (internal error: LENGTH was 0, or a stream frame was longer than LENGTH)",
    0x20: "DMASlvErr (slave error: the memory interface refused the access)",
    0x40: "DMADecErr (decode error: the buffer address is not mapped)",
}
SPIN_S = 1e-3  # poll flat out this long, then yield the CPU between polls
RESET_TIMEOUT_S = 1.0


class DmaError(Failed, RuntimeError):
    """The DMA raised an error bit; the DMA was reset."""


class DmaTimeout(Failed, TimeoutError):
    """A transfer missed its deadline; the DMA was reset."""


class TransferPlan(NamedTuple):
    """One buffer pair, checked once: what a steady-state transfer writes and syncs.

    ``src`` and ``dst`` are ``(address, nbytes, sync)``; ``sync`` is the
    arguments of the buffer's device ``flush``/``invalidate`` (as
    ``PynqBuffer.flush`` passes them), or None for a coherent buffer.
    """

    src: tuple
    dst: tuple
    device: object


def _side(buf, channel) -> tuple:
    """``(address, nbytes, sync)`` of ``buf`` after the checks pynq's ``transfer()`` makes."""
    # pynq/lib/dma.py _SDMAChannel: _max_size = 2**c_sg_length_width - 1, _align = the
    # memory-map width in bytes, unaligned addresses only with the DRE (_dre).
    address, nbytes = buf.physical_address, buf.nbytes
    if nbytes > channel._max_size:
        raise ValueError(
            f"transfer size is {nbytes} bytes, over the DMA's maximum {channel._max_size}"
        )
    if not channel._dre and address % channel._align:
        raise ValueError(f"the DMA needs {channel._align}-byte aligned buffers (no DRE)")
    sync = None if buf.coherent else (buf.bo, buf.offset, buf.virtual_address, nbytes)
    return address, nbytes, sync


class DmaLink:
    """One MM2S + S2MM transfer pair at a time through a ``pynq.lib.dma.DMA``.

    Parameters
    ----------
    dma : pynq.lib.dma.DMA
        The bound driver (real board or emulated board alike).
    timeout_s : float
        Default deadline of one transfer pair, from its start.

    The link assumes it is the channels' only user between its resets: a transfer
    made with pynq's driver on other buffers moves SA behind its back (call
    :meth:`reset` after one).
    """

    def __init__(self, dma, timeout_s: float = 2.0):
        self.dma = dma
        self.mmio = dma.mmio
        self.send, self.recv = dma.sendchannel, dma.recvchannel
        self.timeout_s = limits.seconds(timeout_s, "timeout_s")
        self.resets = 0  # DMA soft resets done
        self._arm()

    def _arm(self) -> None:
        """pynq's per-transfer channel checks, once: both channels running.

        The addresses in SA/SA_MSB are taken as unknown: the first transfer after
        arming writes them.
        """
        for name, channel in (("MM2S", self.send), ("S2MM", self.recv)):
            if not channel.running:
                raise RuntimeError(f"the DMA's {name} channel is not running (DMASR.Halted)")
        self._held = {MM2S: None, S2MM: None}

    def plan(self, src, dst) -> TransferPlan:
        """Check a buffer pair (PynqBuffers or views) once for :meth:`transfer`."""
        return TransferPlan(_side(src, self.send), _side(dst, self.recv), src.device)

    def _point(self, channel: int, address: int) -> None:
        """Write ``channel``'s SA, and SA_MSB when the high word changed (never on a Z2)."""
        old = self._held[channel]
        self.mmio.write(channel + SA, address & 0xFFFFFFFF)
        if old is None or old >> 32 != address >> 32:
            self.mmio.write(channel + SA_MSB, address >> 32)
        self._held[channel] = address

    def transfer(self, plan: TransferPlan, timeout_s: float | None = None) -> None:
        """Stream ``plan``'s source in and fill its destination.

        The S2MM channel is started first so no output beat waits for a buffer.

        Raises
        ------
        DmaTimeout, DmaError
            After resetting the DMA (not the IP: the overlay does that).
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.perf_counter() + timeout
        (src, src_n, src_sync), (dst, dst_n, dst_sync) = plan.src, plan.dst
        if src_sync is not None:
            plan.device.flush(*src_sync)  # what pynq's transfer() does for MM2S
        for channel, address, nbytes in ((S2MM, dst, dst_n), (MM2S, src, src_n)):
            if self._held[channel] != address:
                self._point(channel, address)
            self.mmio.write(channel + LENGTH, nbytes)  # starts the channel
        for name, status_reg in (("MM2S", MM2S_DMASR), ("S2MM", S2MM_DMASR)):
            status, done = self._poll(status_reg, deadline)
            if status & ERROR_MASK or not done:
                self.reset()
                what = (
                    "reported an error"
                    if status & ERROR_MASK
                    else f"did not finish within {timeout:.3f} s (no TLAST from the IP, or it stalled)"
                )
                bits = [text for bit, text in ERROR_BITS.items() if status & bit]
                detail = f"DMASR=0x{status:08x}" + (": " + ", ".join(bits) if bits else "")
                kind = DmaError if status & ERROR_MASK else DmaTimeout
                raise kind(
                    f"DMA {name} channel {what}; {detail}. The DMA was reset; the next call "
                    "resets the IP and checks the golden vectors first."
                )
        if dst_sync is not None:
            plan.device.invalidate(*dst_sync)  # what pynq's wait() does once S2MM is idle

    def _poll(self, status_reg: int, deadline: float) -> tuple[int, bool]:
        """DMASR once the channel is idle or in error (``done``), or at the deadline.

        One register read a round; after :data:`SPIN_S` it yields the CPU between reads.
        """
        start = time.perf_counter()
        while True:
            status = self.mmio.read(status_reg)
            if status & (IDLE | ERROR_MASK):
                return status, True
            now = time.perf_counter()
            if now > deadline:
                return status, False
            if now - start > SPIN_S:
                time.sleep(1e-4)

    def reset(self) -> None:
        """Soft-reset the DMA (both channels), start both channels again and re-arm."""
        self._held = {MM2S: None, S2MM: None}
        self.mmio.write(MM2S_DMACR, RESET_BIT)
        deadline = time.perf_counter() + RESET_TIMEOUT_S
        while self.mmio.read(MM2S_DMACR) & RESET_BIT:
            if time.perf_counter() > deadline:
                raise DmaTimeout("the DMA did not come out of reset; reload the overlay")
        self.send.start()
        self.recv.start()
        self.resets += 1
        self._arm()
