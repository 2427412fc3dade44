"""pynq's AXI DMA driver with deadlines: a wait that cannot hang.

``pynq.lib.dma`` spins in ``wait()`` until the channel is idle, forever when
the IP never sends TLAST (it has no timeout). :class:`DmaLink` starts transfers
with the real driver's ``transfer`` (which flushes the source), polls each
channel's DMASR against a deadline (one register read a round, where pynq's
``wait()`` takes four), invalidates the destination as ``wait()`` would, names
the error bits, and on a failure resets the DMA (both channels) so that it stops.
The DMA's reset does not reach the IP, which may still hold part of a frame and
output words: :class:`~pynq_mnist.board.overlay.MnistOverlay` resets the IP too,
and proves the path clean, before its next call.
"""

from __future__ import annotations

import numbers
import time

MM2S_DMACR, MM2S_DMASR, S2MM_DMASR = 0x00, 0x04, 0x34
RESET_BIT = 0x4
IDLE, ERROR_MASK = 0x2, 0x70
ERROR_BITS = {
    0x10: "DMAIntErr (internal error: LENGTH was 0, or a stream frame was longer than LENGTH)",
    0x20: "DMASlvErr (slave error: the memory interface refused the access)",
    0x40: "DMADecErr (decode error: the buffer address is not mapped)",
}
SPIN_S = 1e-3  # poll flat out this long, then yield the CPU between polls
RESET_TIMEOUT_S = 1.0
MAX_TIMEOUT_S = 3600.0  # a deadline longer than an hour is a mistake, not a wait


def check_timeout(timeout_s: object) -> float:
    """``timeout_s`` as a float in (0, :data:`MAX_TIMEOUT_S`], or a one-line ValueError.

    NaN never compares past a deadline and inf never comes: either would let a
    dropped TLAST hang the caller, which is what the deadline is for.
    """
    ok = isinstance(timeout_s, numbers.Real) and not isinstance(timeout_s, bool)
    if not ok or not 0 < timeout_s <= MAX_TIMEOUT_S:  # False for NaN
        raise ValueError(
            f"timeout_s must be a number of seconds > 0 and <= {MAX_TIMEOUT_S:g}, got {timeout_s!r}"
        )
    return float(timeout_s)


class DmaError(RuntimeError):
    """The DMA raised an error bit; the DMA was reset."""


class DmaTimeout(TimeoutError):
    """A transfer missed its deadline; the DMA was reset."""


class DmaLink:
    """One MM2S + S2MM transfer pair at a time through a ``pynq.lib.dma.DMA``.

    Parameters
    ----------
    dma : pynq.lib.dma.DMA
        The bound driver (real board or emulated board alike).
    timeout_s : float
        Default deadline of one transfer pair, from its start.
    """

    def __init__(self, dma, timeout_s: float = 2.0):
        self.dma = dma
        self.send, self.recv = dma.sendchannel, dma.recvchannel
        self.timeout_s = check_timeout(timeout_s)
        self.resets = 0  # DMA soft resets done

    def transfer(self, src, dst, timeout_s: float | None = None) -> None:
        """Stream ``src`` (a PynqBuffer or a view of one) in and fill ``dst``.

        The S2MM channel is armed first so no output beat waits for a buffer.

        Raises
        ------
        DmaTimeout, DmaError
            After resetting the DMA (not the IP: the overlay does that).
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.perf_counter() + timeout
        self.recv.transfer(dst)
        self.send.transfer(src)
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
        dst.invalidate()  # what pynq's wait() does once the S2MM channel is idle

    def _poll(self, status_reg: int, deadline: float) -> tuple[int, bool]:
        """DMASR once the channel is idle or in error (``done``), or at the deadline.

        One register read a round; after :data:`SPIN_S` it yields the CPU between reads.
        """
        start = time.perf_counter()
        while True:
            status = self.dma.read(status_reg)
            if status & (IDLE | ERROR_MASK):
                return status, True
            now = time.perf_counter()
            if now > deadline:
                return status, False
            if now - start > SPIN_S:
                time.sleep(1e-4)

    def reset(self) -> None:
        """Soft-reset the DMA (both channels) and start both channels again."""
        self.dma.write(MM2S_DMACR, RESET_BIT)
        deadline = time.perf_counter() + RESET_TIMEOUT_S
        while self.dma.read(MM2S_DMACR) & RESET_BIT:
            if time.perf_counter() > deadline:
                raise DmaTimeout("the DMA did not come out of reset; reload the overlay")
        self.send.start()
        self.recv.start()
        self.resets += 1
