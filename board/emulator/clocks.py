"""The PS7 clock registers of the emulated board.

``pynq.Overlay.download`` programs the FCLK dividers named in the ``.hwh``
through ``pynq.Clocks``, which only knows ARM boards. Off the board the
emulated board supplies the clock block instead, so that call runs unchanged
and ``pynq.Clocks.fclk0_mhz`` reads back what the overlay asked for.
"""

from __future__ import annotations

from pynq import ps

from pynq_mnist.design import PYNQ_Z2

IO_PLL_MHZ = PYNQ_Z2.io_pll_mhz
CPU_MHZ = 650.0  # the PYNQ-Z2's Cortex-A9 clock (a model value, not measured)


def fclk_divisors(clock_mhz: float) -> tuple[int, int]:
    """Two PS7 FCLK dividers (each 1..63) giving the clock nearest ``clock_mhz``."""
    return min(
        ((d0, d1) for d0 in range(1, 64) for d1 in range(1, 64)),
        key=lambda d: (abs(IO_PLL_MHZ / (d[0] * d[1]) - clock_mhz), d[1]),
    )


class EmulatedClocks:
    """PL clocks 0..3 as divider pairs of the IO PLL."""

    def __init__(self):
        self._dividers = {k: (10, 1) for k in range(4)}

    def get_pl_clk(self, clk_idx: int) -> float:
        d0, d1 = self._dividers[clk_idx]
        return round(IO_PLL_MHZ / (d0 * d1), 6)

    def set_pl_clk(self, clk_idx, div0=None, div1=None, clk_mhz=ps.DEFAULT_PL_CLK_MHZ):
        if div0 is None or div1 is None:
            div0, div1 = fclk_divisors(clk_mhz)
        self._dividers[clk_idx] = (int(div0), int(div1))

    def get_cpu_mhz(self) -> float:
        return CPU_MHZ


def install_emulated_clocks() -> None:
    """Give ``pynq.Clocks`` the emulated clock block, only where pynq has none (not ARM)."""
    if not ps.CPU_ARCH_IS_SUPPORTED and not isinstance(
        getattr(ps.Clocks, "_real_instance", None), EmulatedClocks
    ):
        ps.Clocks._real_instance = EmulatedClocks()
