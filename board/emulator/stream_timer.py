"""A register-level model of the latency counter (``vivado_bd/stream_timer.v``).

The counter sits on both of the IP's streams. The AXI DMA model tells it of
every beat that crosses them (:meth:`StreamTimerModel.beats_in`,
:meth:`~StreamTimerModel.beats_out`, the S2MM drain of a soft reset included:
those beats cross the output stream too) and of the IP's reset
(:meth:`~StreamTimerModel.ip_reset`, the RTL's ``ip_aresetn``), which ends a
run in progress and keeps the last finished one, as the RTL does. The emulated
board has no cycle model: CYCLES reads 0; runs, beats and BUSY are modelled.
"""

from __future__ import annotations

from pynq_mnist.design import TIMER_ID, TIMER_REGISTERS

MAX = 0xFFFFFFFF


class StreamTimerModel:
    """The ``stream_timer`` register file, driven by the beats the DMA model moves."""

    def __init__(self):
        self.busy = False
        self.runs = 0
        self._run = (0, 0)  # input and output beats of the run in progress
        self.last = (0, 0)  # of the last finished run

    def beats_in(self, n: int) -> None:
        if n:
            self.busy = True
            self._run = (min(self._run[0] + n, MAX), self._run[1])

    def beats_out(self, n: int, tlast: bool) -> None:
        """``n`` output beats; ``tlast``: the last of them carries TLAST (the run ends)."""
        if not self.busy:
            return
        self._run = (self._run[0], min(self._run[1] + n, MAX))
        if tlast:
            self.busy, self.last, self._run = False, self._run, (0, 0)
            self.runs = min(self.runs + 1, MAX)

    def ip_reset(self) -> None:
        """The IP's reset: the run in progress ends uncounted."""
        self.busy, self._run = False, (0, 0)

    def read(self, offset: int) -> int:
        values = {
            "id": TIMER_ID,
            "cycles": 0,
            "runs": self.runs,
            "in_beats": self.last[0],
            "out_beats": self.last[1],
            "busy": int(self.busy),
        }
        return next((values[k] for k, off in TIMER_REGISTERS.items() if off == offset), 0)

    def write(self, offset: int, value: int) -> None:
        """Registers are read-only: writes are acknowledged and ignored."""
