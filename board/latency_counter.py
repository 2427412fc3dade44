"""The in-fabric latency counter (``stream_timer``), where the overlay has one.

``pynq-mnist build-overlay --latency-counter`` puts ``vivado_bd/stream_timer.v``
on the IP's two streams and records it in ``bundle.json`` under
``build["latency_counter"]``: instance, base address, ID and register offsets.
It counts FCLK cycles from a run's first input beat to its output beat with
TLAST: the IP's latency without the DMA, the memory or the ARM.

A run ends at the output beat with TLAST or at the IP's reset (``ip_aresetn``):
after a failed call the overlay's recovery holds the IP in reset, so
:meth:`LatencyCounter.last_run` then reports the golden run, never the failed call.

The emulated board has no cycle model, so the overlay makes no counter there;
its register model (:mod:`pynq_mnist.board.emulator.stream_timer`, CYCLES 0)
serves the tests of runs, beats and resets.
"""

from __future__ import annotations

import pynq

from pynq_mnist.errors import Failed


class LatencyCounterError(Failed, RuntimeError):
    """The overlay's latency counter is not where the bundle says, or not a stream_timer."""


class LatencyCounter:
    """Reads the ``stream_timer`` registers of a loaded overlay.

    Parameters
    ----------
    overlay : pynq.Overlay
        The loaded overlay; its ``ip_dict`` gives the counter's address when it lists it.
    info : dict
        ``build["latency_counter"]`` of the bundle.
    """

    def __init__(self, overlay: pynq.Overlay, info: dict):
        self.registers = {name: int(off, 16) for name, off in info["registers"].items()}
        entry = next(
            (ip for name, ip in overlay.ip_dict.items() if name.split("/")[-1] == info["instance"]),
            None,
        )
        base = entry["phys_addr"] if entry else int(info["base_address"], 16)
        self.mmio = pynq.MMIO(base, 0x1000, device=overlay.device)
        found, expected = self.read("id"), int(info["id"], 16)
        if found != expected:
            raise LatencyCounterError(
                f"no stream_timer at 0x{base:08x}: ID register reads 0x{found:08x}, "
                f"expected 0x{expected:08x}; the bitstream and bundle.json disagree"
            )

    def read(self, name: str) -> int:
        return self.mmio.read(self.registers[name])

    def last_run(self) -> dict[str, int]:
        """Cycles, input and output beats of the last finished run."""
        return {k: self.read(k) for k in ("cycles", "in_beats", "out_beats", "runs")}
