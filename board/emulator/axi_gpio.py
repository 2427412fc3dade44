"""A register-level model of the AXI GPIO 2.0 (PG144), single channel, all outputs.

======  =========  ==================================================
offset  register   modelled
======  =========  ==================================================
0x00    GPIO_DATA  writes set the output bits (``C_GPIO_WIDTH`` of them);
                   reads give the input pins, 0 (none is driven)
0x04    GPIO_TRI   reads 0 (``C_ALL_OUTPUTS``: no tristate register)
======  =========  ==================================================

Every write of GPIO_DATA drives ``on_output`` with the new output bits, as the
``gpio_io_o`` wire would: the emulated board connects it to what the block design
connects it to (the IP's reset, through the AND with the system reset).

A read of GPIO_DATA does not give back what was written. On the board a read
returns the ``gpio_io_i`` pins, which the block design leaves undriven, so it
is taken as 0 here: the strictest reading of PG144 (reads of output bits
return 0), and what pynq's own ``AxiGPIO`` assumes, which answers reads of an
output slice from its software copy (``Channel._val``) and refuses to read an
output channel (``pynq/lib/axigpio.py``). A driver must keep its own copy.
"""

from __future__ import annotations

from collections.abc import Callable

GPIO_DATA, GPIO_TRI = 0x00, 0x04


class AxiGpioModel:
    """One AXI GPIO channel whose outputs drive ``on_output(bits)``.

    Parameters
    ----------
    width : int
        ``C_GPIO_WIDTH``.
    dout_default : int
        ``C_DOUT_DEFAULT``: the outputs after the PL comes out of reset.
    on_output : callable
        Called with the output bits after every GPIO_DATA write.
    """

    def __init__(self, width: int, dout_default: int, on_output: Callable[[int], None]):
        self.mask = (1 << width) - 1
        self.data = dout_default & self.mask
        self.on_output = on_output
        self.writes = 0

    def read(self, offset: int) -> int:
        """0 for every register: the input pins are undriven and outputs never read back."""
        return 0

    def write(self, offset: int, value: int) -> None:
        if offset == GPIO_DATA:
            self.data = value & self.mask
            self.writes += 1
            self.on_output(self.data)
