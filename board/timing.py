"""Named, timed stages of the data path (FINN's driver style)."""

from __future__ import annotations

STAGES = ("pack", "copy_in", "dma", "copy_out", "unpack")


class StageTimer:
    """Seconds per stage, for the last call and summed over all calls.

    Attributes
    ----------
    last : dict
        ``{stage: seconds}`` of the most recent call.
    total : dict
        ``{stage: seconds}`` since :meth:`clear`.
    frames : int
        Frames processed since :meth:`clear`.
    """

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.last = dict.fromkeys(STAGES, 0.0)
        self.total = dict.fromkeys(STAGES, 0.0)
        self.frames = 0

    def begin_call(self) -> None:
        """Zero :attr:`last` for a new call."""
        for stage in STAGES:
            self.last[stage] = 0.0

    def record(self, stage: str, seconds: float) -> None:
        """Add ``seconds`` to ``stage`` (callers stamp ``time.perf_counter()`` themselves)."""
        self.last[stage] += seconds
        self.total[stage] += seconds

    def per_frame(self) -> dict[str, float]:
        """Mean seconds per frame of each stage since :meth:`clear`."""
        return {k: v / self.frames if self.frames else 0.0 for k, v in self.total.items()}
