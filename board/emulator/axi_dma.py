"""A register-level model of the AXI DMA 7.1 in simple (direct register) mode.

Registers (PG021), per channel at ``base`` 0x00 (MM2S) and 0x30 (S2MM):

======  ========  ==========================================================
offset  register  modelled bits
======  ========  ==========================================================
+0x00   DMACR     RS (0), Reset (2, self-clearing, resets both channels)
+0x04   DMASR     Halted (0), Idle (1), DMAIntErr (4), DMASlvErr (5),
                  DMADecErr (6), IOC_Irq (12), Err_Irq (14; IRQs are W1C)
+0x18   SA/DA     buffer address (low word; +0x1C high word is ignored)
+0x28   LENGTH    writing it starts a transfer; reads back bytes moved
======  ========  ==========================================================

The data path: an MM2S transfer streams its bytes into the IP model as beats
with TLAST on the last one; an S2MM transfer takes the IP's output beats into
memory and completes on TLAST. A beat that does not fit in LENGTH is the
DMAIntErr the real core raises; no TLAST leaves the channel busy (the hang
pynq's ``wait()`` never returns from). Faults can be injected (:class:`Faults`).

The MM2S side moves :data:`CHUNK_BEATS` beats at a time, and the S2MM side takes
the IP's output after each chunk, so the host's Python code runs between chunks:
a Ctrl-C reaches the user within one chunk's compute, leaving the IP as a real
interrupted transfer leaves it (part of a frame read, output queued).

Resets as the block design wires them: DMACR.Reset resets both channels and
nothing else; the IP's own state (a half-read frame, output it has not yet sent,
the beats the S2MM side has not accepted) goes only when the IP reset is held
(:meth:`AxiDmaModel.set_ip_reset`, driven by the emulated reset GPIO). While it
is held the IP's streams do not move (TREADY and TVALID are low).

A soft reset is a shutdown, not a switch (PG021 DMACR.Reset: "reset is
accomplished gracefully"; the DataMover's soft shutdown, PG022): the MM2S side
completes the memory reads it committed and discards their data (nothing more
reaches the IP), and the S2MM side asserts TREADY and discards the IP's output
while it shuts down. The model gives the shutdown :data:`SHUTDOWN_CYCLES`
FCLK cycles, one discarded output beat a cycle, then the core's hard reset
(:data:`HARD_RESET_CYCLES`); DMACR.Reset reads 1 until they have passed, and
register writes meanwhile are ignored. Output beyond what the shutdown takes
stays in the IP. An MM2S transfer cut short while the IP is held in reset has
a stream that cannot move, and its shutdown waits until the IP is released:
reset the DMA before holding the IP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .memory import DecodeError, EmulatedMemory
from .stream_timer import StreamTimerModel

MM2S, S2MM = 0x00, 0x30
DMACR, DMASR, SA, SA_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
RS, RESET = 0x1, 0x4
HALTED, IDLE, INT_ERR, SLV_ERR, DEC_ERR = 0x1, 0x2, 0x10, 0x20, 0x40
IOC_IRQ, ERR_IRQ = 0x1000, 0x4000
ERROR_BITS = INT_ERR | SLV_ERR | DEC_ERR
IRQ_BITS = IOC_IRQ | 0x2000 | ERR_IRQ
#: Beats the MM2S side moves before the host runs again: 512 beats are about five
#: MNIST frames, some 50 ms of the compiled CNN IP on this host.
CHUNK_BEATS = 512
#: FCLK cycles of the soft shutdown (the model's choice: one S2MM burst of 16
#: beats, one discarded beat a cycle) and of the hard reset after it (PG022:
#: ``m_axi_*_aresetn`` asserted for three clock periods).
SHUTDOWN_CYCLES, HARD_RESET_CYCLES = 16, 3


class IPModel(Protocol):
    """What the DMA needs of the network IP (``iplib.IPLibrary``'s API)."""

    def reset(self) -> None: ...
    def push(self, data: np.ndarray, last: np.ndarray) -> None: ...
    def run(self) -> int: ...
    def pop(self, max_beats: int) -> tuple[np.ndarray, np.ndarray]: ...
    def pending_output(self) -> int: ...
    def pending_input(self) -> int: ...


@dataclass
class Faults:
    """Faults to inject.

    drop_tlast : the IP's TLAST never reaches the S2MM channel (until cleared).
    mm2s_error, s2mm_error : DMASR error bits (e.g. ``SLV_ERR``) raised once, when
        the channel's next transfer starts, before any data moves.
    mm2s_stall_after_beats : the next MM2S transfer moves this many beats, then its
        stream stalls (the channel stays busy) until a DMA reset: a timeout with
        part of a frame in the IP.
    """

    drop_tlast: bool = False
    mm2s_error: int = 0
    s2mm_error: int = 0
    mm2s_stall_after_beats: int | None = None


@dataclass
class _Channel:
    offset: int
    beat_bytes: int
    dmacr: int = 0x10000
    dmasr: int = HALTED
    address: int = 0
    length: int = 0
    done: int = 0
    busy: bool = False
    stall_at: int | None = None  # bytes after which this transfer's stream stalls
    transfers: int = field(default=0)

    def reset(self) -> None:
        self.dmacr, self.dmasr = 0x10000, HALTED
        self.address = self.length = self.done = 0
        self.busy, self.stall_at = False, None

    @property
    def running(self) -> bool:
        return bool(self.dmacr & RS) and not self.dmasr & HALTED

    def fail(self, bits: int) -> None:
        """An error halts the channel: RS drops, Halted and the error bits rise."""
        self.busy = False
        self.dmacr &= ~RS
        self.dmasr = (self.dmasr & ~IDLE) | HALTED | bits | ERR_IRQ

    def complete(self) -> None:
        self.busy = False
        self.dmasr |= IDLE | IOC_IRQ


class AxiDmaModel:
    """One AXI DMA 7.1 (simple mode) between :class:`EmulatedMemory` and an IP model.

    Parameters
    ----------
    memory : EmulatedMemory
        Where SA addresses point.
    ip : IPModel
        The stream device between MM2S and S2MM.
    length_width_bits : int
        Width of LENGTH (``c_sg_length_width``); longer transfers are refused.
    mm2s_bytes, s2mm_bytes : int
        Stream beat widths in bytes.
    fclk_mhz : float
        The DMA's clock, which times its soft reset.

    Attributes
    ----------
    drained_beats : int
        IP output beats the S2MM side discarded during soft resets.
    resets : int
        Soft resets requested.
    timer : StreamTimerModel or None
        The latency counter on the IP's streams, where the design has one.
    """

    def __init__(
        self,
        memory: EmulatedMemory,
        ip: IPModel,
        length_width_bits: int,
        mm2s_bytes: int,
        s2mm_bytes: int,
        fclk_mhz: float = 100.0,
    ):
        self.memory, self.ip = memory, ip
        self.reset_s = (SHUTDOWN_CYCLES + HARD_RESET_CYCLES) / (fclk_mhz * 1e6)
        self.max_length = (1 << length_width_bits) - 1
        self.mm2s = _Channel(MM2S, mm2s_bytes)
        self.s2mm = _Channel(S2MM, s2mm_bytes)
        self.faults = Faults()
        self.busy_s = 0.0  # host seconds spent moving data and computing: the device's time
        self._held: tuple[np.ndarray, np.ndarray] | None = None  # beats after a TLAST
        self.ip_in_reset = False
        self.ip_resets = 0
        self.resets = self.drained_beats = 0
        self.timer: StreamTimerModel | None = None
        self._reset_until = 0.0
        self._reset_waits_for_ip = False  # an MM2S shutdown whose stream cannot move

    # ------------------------------------------------------------------ registers

    def _channel(self, offset: int) -> tuple[_Channel, int]:
        ch = self.s2mm if offset >= S2MM else self.mm2s
        return ch, offset - ch.offset

    @property
    def resetting(self) -> bool:
        """True while a soft reset is still shutting the channels down."""
        if self._reset_waits_for_ip and not self.ip_in_reset:
            self._reset_waits_for_ip = False
            self._reset_until = time.perf_counter() + self.reset_s
        return self._reset_waits_for_ip or time.perf_counter() < self._reset_until

    def read(self, offset: int) -> int:
        ch, reg = self._channel(offset)
        if reg == DMACR:
            return ch.dmacr | (RESET if self.resetting else 0)
        if reg == DMASR:
            return ch.dmasr
        if reg == SA:
            return ch.address
        if reg == LENGTH:
            return ch.done if not ch.busy else 0
        return 0

    def write(self, offset: int, value: int) -> None:
        if self.resetting:
            return
        ch, reg = self._channel(offset)
        if reg == DMACR:
            if value & RESET:
                self.reset()
                return
            ch.dmacr = value & ~RESET
            if value & RS:
                ch.dmasr &= ~HALTED
            else:
                ch.busy = False
                ch.dmasr = (ch.dmasr | HALTED) & ~IDLE
        elif reg == DMASR:
            ch.dmasr &= ~(value & IRQ_BITS)
        elif reg == SA:
            ch.address = value
        elif reg == LENGTH:
            self._start(ch, value)
        self._advance()

    def reset(self) -> None:
        """DMACR.Reset: both channels shut down, then back to their reset state.

        The IP is not reset. The S2MM side discards up to :data:`SHUTDOWN_CYCLES`
        output beats of the IP; the rest stay in the IP (module docstring).
        """
        self._reset_waits_for_ip = self.mm2s.busy and self.ip_in_reset
        if not self.ip_in_reset:
            self.drained_beats += self._drain(SHUTDOWN_CYCLES)
        self.mm2s.reset()
        self.s2mm.reset()
        self.resets += 1
        self._reset_until = time.perf_counter() + self.reset_s

    def _drain(self, max_beats: int) -> int:
        """Discard up to ``max_beats`` output beats, TLAST or not; how many."""
        taken, flags = 0, []
        if self._held is not None:
            data, last = self._held
            taken = min(len(last), max_beats)
            flags.append(last[:taken])
            self._held = (data[taken:], last[taken:]) if taken < len(last) else None
        if taken < max_beats and self.ip.pending_output():
            flags.append(np.asarray(self.ip.pop(max_beats - taken)[1], dtype=bool))
            taken += len(flags[-1])
        if self.timer is not None:
            for last in flags:  # the drained beats cross the timer's output stream too
                for run in np.split(last, np.flatnonzero(last) + 1):
                    self.timer.beats_out(len(run), bool(len(run) and run[-1]))
        return taken

    def set_ip_reset(self, asserted: bool) -> None:
        """The IP's reset input (active while ``asserted``): it drops everything it holds."""
        if asserted:
            self.ip.reset()
            self._held = None
            if self.timer is not None:
                self.timer.ip_reset()
            if not self.ip_in_reset:
                self.ip_resets += 1
        self.ip_in_reset = asserted
        if not asserted:
            self._advance()

    # ------------------------------------------------------------------ data path

    def _start(self, ch: _Channel, length: int) -> None:
        if not ch.running:
            return
        key = "mm2s_error" if ch is self.mm2s else "s2mm_error"
        injected = getattr(self.faults, key)
        setattr(self.faults, key, 0)
        ch.dmasr &= ~IDLE
        ch.length, ch.done, ch.busy = length, 0, True
        if ch is self.mm2s and self.faults.mm2s_stall_after_beats is not None:
            ch.stall_at = self.faults.mm2s_stall_after_beats * ch.beat_bytes
            self.faults.mm2s_stall_after_beats = None
        ch.transfers += 1
        if injected:
            ch.fail(injected)
        elif length == 0 or length > self.max_length:
            ch.fail(INT_ERR)
        else:
            try:
                self.memory.device_view(ch.address, length)
            except DecodeError:
                ch.fail(DEC_ERR)

    def _advance(self) -> None:
        if self.mm2s.busy or self.s2mm.busy:
            t0 = time.perf_counter()
            if self.mm2s.busy:
                self._run_mm2s()
            if self.s2mm.busy:
                self._run_s2mm()
            self.busy_s += time.perf_counter() - t0

    def _run_mm2s(self) -> None:
        """Stream the transfer into the IP a chunk at a time, the S2MM side taking output."""
        ch = self.mm2s
        step = CHUNK_BEATS * ch.beat_bytes
        while ch.busy and not self.ip_in_reset:
            end = min(ch.length, ch.done + step)
            if ch.stall_at is not None:
                end = min(end, ch.stall_at)
                if end <= ch.done:
                    return  # the stream stalled: busy until a reset
            data = self.memory.device_view(ch.address + ch.done, end - ch.done)
            beats = -(-len(data) // ch.beat_bytes)
            padded = np.zeros(beats * ch.beat_bytes, dtype=np.uint8)
            padded[: len(data)] = data
            last = np.zeros(beats, dtype=bool)
            last[-1] = end == ch.length
            self.ip.push(_beats_as_u64(padded, ch.beat_bytes), last)
            if self.timer is not None:
                self.timer.beats_in(beats)
            ch.done = end
            if end == ch.length:
                ch.complete()
            self.ip.run()
            if self.s2mm.busy:
                self._run_s2mm()

    def _take(self, max_beats: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``max_beats`` output beats (as bytes) and TLAST flags, up to the first TLAST.

        Beats after a TLAST stay in the stream for the next S2MM transfer.
        """
        if self._held is None:
            data, last = self.ip.pop(max_beats)
            data = np.ascontiguousarray(data).view(np.uint8).reshape(len(last), -1)
            data = data[:, : self.s2mm.beat_bytes]  # beats narrower than a word
            last = np.asarray(last, dtype=bool)
        else:
            data, last = self._held
            self._held = None
        if self.faults.drop_tlast:
            last = np.zeros_like(last)
        n = min(len(last), max_beats)
        if last[:n].any():
            n = int(np.argmax(last)) + 1
        if n < len(last):
            self._held = (data[n:], last[n:])
        return data[:n], last[:n]

    def _pending(self) -> int:
        if self.ip_in_reset:
            return 0
        held = 0 if self._held is None else len(self._held[1])
        return held + self.ip.pending_output()

    def _run_s2mm(self) -> None:
        ch = self.s2mm
        while ch.busy:
            room = (ch.length - ch.done) // ch.beat_bytes
            if self._pending() == 0:
                return  # waiting for the IP: without TLAST, forever
            if room == 0:
                ch.fail(INT_ERR)  # the frame is longer than LENGTH
                return
            data, last = self._take(room)
            if self.timer is not None:
                self.timer.beats_out(len(last), bool(last.any()))
            nbytes = data.size
            self.memory.device_view(ch.address + ch.done, nbytes)[:] = data.reshape(-1)
            ch.done += nbytes
            if last.any():
                ch.complete()


def _beats_as_u64(padded: np.ndarray, beat_bytes: int) -> np.ndarray:
    """Beats as uint64 words: one per beat up to 64 bits (zero-extended), else ``(beats, n)``."""
    if beat_bytes >= 8:
        words = padded.view("<u8").reshape(-1, beat_bytes // 8)
        return words[:, 0].copy() if beat_bytes == 8 else words
    wide = np.zeros((len(padded) // beat_bytes, 8), dtype=np.uint8)
    wide[:, :beat_bytes] = padded.reshape(-1, beat_bytes)
    return wide.view("<u8").reshape(-1)
