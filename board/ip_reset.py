"""The IP's software reset: the 1-bit AXI GPIO the block design ANDs into ``ap_rst_n``.

A DMA soft reset (DMACR.Reset) resets the DMA only. The IP keeps what an
interrupted transfer left in it: part of an input frame, and output words the
DMA has not taken. Left there, they shift every later transfer by a fraction of
a frame, and every answer after that is wrong without any error. The block
design (``vivado_bd/pynq_z2_design.tcl``) therefore drives the IP's reset with
``peripheral_aresetn AND gpio_io_o[0]`` of an AXI GPIO (PG144) that powers up
at 1; :class:`IPReset` holds it at 0 while the DMA is reset, then lets go.

The GPIO is all outputs and nothing drives its input pins, so reading GPIO_DATA
back does not tell whether the IP is held (PG144: reads return the inputs;
pynq's ``AxiGPIO`` keeps a software copy of its outputs for the same reason and
refuses to read an output channel). :class:`IPReset` keeps its own copy of the
bit it last wrote, and writes it once when made, so the copy is never a guess.

The driver is a :class:`pynq.DefaultIP` made from the GPIO's ``ip_dict`` entry
by :func:`find_ip_reset`. It declares no ``bindto``: binding the AXI GPIO's
VLNV would replace pynq's own ``AxiGPIO`` driver for
every overlay in the process (pynq keeps one driver per VLNV), so the overlay
binds it by that VLNV and the design's cell path (:data:`pynq_mnist.design.PYNQ_Z2`).
"""

from __future__ import annotations

import pynq

from pynq_mnist.design import IP_RESET_DATA_REG, PYNQ_Z2

GPIO_DATA = IP_RESET_DATA_REG


class IPReset(pynq.DefaultIP):
    """Holds and releases the network IP's reset (GPIO_DATA bit 0: 0 = in reset).

    Made released: the bit is written to 1 (its power-up value) at construction.
    """

    def __init__(self, description: dict):
        super().__init__(description)
        self._bit = 0
        self.release()

    def _drive(self, bit: int) -> None:
        self.write(GPIO_DATA, bit)
        self._bit = bit
        # A read of the same device returns only after the write has reached the
        # GPIO; the AXI-Lite round trip lasts many FCLK cycles, far more than
        # ap_rst_n needs. Its value is the undriven input pins: not used.
        self.read(GPIO_DATA)

    def hold(self) -> None:
        """Put the IP in reset: it drops its input and output, its streams stop."""
        self._drive(0)

    def release(self) -> None:
        """Let the IP run again."""
        self._drive(1)

    @property
    def held(self) -> bool:
        """True while the IP is held in reset (from the bit last written, never read back)."""
        return not self._bit


def find_ip_reset(overlay: pynq.Overlay) -> IPReset | None:
    """The design's IP reset, or None for a design built without one."""
    ip = overlay.ip_dict.get(PYNQ_Z2.ip_reset.path)
    if ip is None or ip.get("type") != str(PYNQ_Z2.ip_reset.vlnv):
        return None
    return IPReset({**ip, "device": overlay.device})
