"""The PYNQ-Z2 block design, described once.

``vivado_bd/pynq_z2_design.tcl`` builds this design (its parameters come from
:mod:`pynq_mnist.vivado_bd.params`, which reads this module), the emulated
board writes its ``.hwh`` from it, the design check and the overlay look for
its cells, and the converter takes its part, clock and stream width from it::

    processing_system7_0 M_AXI_GP0 -> ctrl_interconnect -> axi_dma_0 S_AXI_LITE
    axi_dma_0 M_AXIS_MM2S -> nn_0 in_stream;  nn_0 out_stream -> axi_dma_0 S_AXIS_S2MM
    axi_dma_0 M_AXI_MM2S, M_AXI_S2MM -> mem_interconnect -> processing_system7_0 S_AXI_HP0
    FCLK_CLK0 clocks everything; rst_fclk0 (proc_sys_reset) releases it after FCLK_RESET0_N
    processing_system7_0 M_AXI_GP0 -> ctrl_interconnect -> ip_reset_gpio S_AXI
    nn_0 ap_rst_n = rst_fclk0 peripheral_aresetn AND ip_reset_gpio gpio_io_o[0] (ip_reset_and)

The IP's software reset: a DMA soft reset (DMACR.Reset) never reaches the IP,
which keeps a half-read input frame and output words the DMA has not taken after
an interrupted transfer. A 1-bit AXI GPIO (PG144) that powers up at 1, ANDed
with the system reset, lets the driver reset the IP alone.

This module imports the standard library only: the board uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import NamedTuple

from pynq_mnist.errors import Refused

_VLNV_PART = re.compile(r"[A-Za-z0-9_.\-]+")


class DesignError(Refused, ValueError):
    """A design description (or a VLNV in it) is not well formed."""


@dataclass(frozen=True)
class Vlnv:
    """A Xilinx IP identifier ``vendor:library:name:version``."""

    vendor: str
    library: str
    name: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Vlnv:
        """``text`` as a VLNV, or :class:`DesignError` saying what a VLNV looks like."""
        parts = text.split(":") if isinstance(text, str) else []
        if len(parts) != 4 or not all(_VLNV_PART.fullmatch(p) for p in parts):
            raise DesignError(
                f"{text!r} is not a VLNV: expected vendor:library:name:version, each of "
                "letters, digits, '_', '.' or '-'"
            )
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.vendor}:{self.library}:{self.name}:{self.version}"

    @property
    def type_prefix(self) -> str:
        """``vendor:library:name:``: what any version of this IP's VLNV starts with."""
        return f"{self.vendor}:{self.library}:{self.name}:"


@dataclass(frozen=True)
class Segment:
    """An address segment a cell's registers answer at: ``[base, base + size)``."""

    base: int
    size: int

    @property
    def high(self) -> int:
        """The segment's last address (Vivado's ``C_HIGHADDR``)."""
        return self.base + self.size - 1


@dataclass(frozen=True)
class Cell:
    """One cell of the block design: its path (``hier/name`` or ``name``), its IP and,
    for a cell with registers on GP0, its address segment."""

    path: str
    vlnv: Vlnv
    segment: Segment | None = None

    @property
    def instance(self) -> str:
        """The cell's own name, without its hierarchy."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class IpPorts:
    """The HLS IP's port names (C argument names, which HLS keeps for AXI-Stream)."""

    input: str = "in_stream"
    output: str = "out_stream"
    clock: str = "ap_clk"
    reset: str = "ap_rst_n"


#: The network IP the converter exports (``vendor:library:top:version``).
IP_TOP = "pynq_mnist_top"
IP_VLNV = Vlnv("pynq_mnist", "hls", IP_TOP, "1.0")


@dataclass(frozen=True)
class BlockDesign:
    """Everything the Tcl, the ``.hwh`` and the board agree on about one block design."""

    part: str
    board_part_pattern: str
    bd_name: str
    ps: Cell
    dma: Cell
    ip: Cell
    reset: Cell
    timer: Cell
    #: The IP's software reset: the AXI GPIO and the AND gate into the IP's reset.
    ip_reset: Cell
    ip_reset_and: Cell
    ctrl_interconnect: Cell
    mem_interconnect: Cell
    ip_ports: IpPorts
    #: AXI DMA simple mode: width of the LENGTH register (bits), bursts, stream widths.
    dma_length_width_bits: int
    dma_burst_size: int
    stream_width_bits: int
    #: The PS's high-performance port the DMA masters reach DDR through.
    hp0_width_bits: int
    #: PL clock 0 (FCLK_CLK0), which clocks the whole design, and its source.
    fclk0_mhz: float
    io_pll_mhz: float
    ddr_partno: str
    #: The DDR the DMA reaches through HP0 (the register segments are the cells').
    ddr_range: int

    def with_ip(self, vlnv: Vlnv, path: str | None = None) -> BlockDesign:
        """The same design around another IP (``path`` defaults to the IP cell's)."""
        return replace(self, ip=Cell(path or self.ip.path, vlnv))

    def max_transfer_bytes(self) -> int:
        """The longest simple-mode transfer: LENGTH's largest value."""
        return (1 << self.dma_length_width_bits) - 1


_XILINX = "xilinx.com"

PYNQ_Z2 = BlockDesign(
    part="xc7z020clg400-1",
    board_part_pattern="tul.com.tw:pynq-z2:part0:*",
    bd_name="pynq_mnist",
    ps=Cell("processing_system7_0", Vlnv(_XILINX, "ip", "processing_system7", "5.5")),
    # The segments: Vivado's usual addresses for an AXI DMA, a module reference and
    # a first AXI GPIO on GP0 (the base overlay's start at these too); any free
    # GP0 address would do.
    dma=Cell("axi_dma_0", Vlnv(_XILINX, "ip", "axi_dma", "7.1"), Segment(0x40400000, 0x10000)),
    ip=Cell("nn_0", IP_VLNV),
    reset=Cell("rst_fclk0", Vlnv(_XILINX, "ip", "proc_sys_reset", "5.0")),
    timer=Cell(
        "stream_timer_0",
        Vlnv(_XILINX, "module_ref", "stream_timer", "1.0"),
        Segment(0x43C00000, 0x1000),
    ),
    ip_reset=Cell(
        "ip_reset_gpio", Vlnv(_XILINX, "ip", "axi_gpio", "2.0"), Segment(0x41200000, 0x10000)
    ),
    ip_reset_and=Cell("ip_reset_and", Vlnv(_XILINX, "module_ref", "ip_reset_and", "1.0")),
    ctrl_interconnect=Cell("ctrl_interconnect", Vlnv(_XILINX, "ip", "smartconnect", "1.0")),
    mem_interconnect=Cell("mem_interconnect", Vlnv(_XILINX, "ip", "smartconnect", "1.0")),
    ip_ports=IpPorts(),
    # 26 bits: LENGTH up to 64 MiB - 1 (PG021 allows 8..26).
    dma_length_width_bits=26,
    dma_burst_size=16,
    stream_width_bits=64,
    hp0_width_bits=64,
    fclk0_mhz=100.0,
    # The PYNQ-Z2's FCLKs divide the IO PLL (1 GHz from the 50 MHz PS crystal).
    io_pll_mhz=1000.0,
    ddr_partno="MT41J256M16 RE-125",
    ddr_range=0x20000000,  # 512 MiB on the PYNQ-Z2
)

#: The AXI DMA ``.hwh`` parameters the board side reads (design check, emulated
#: device, pynq's DMA driver). A Vivado-made ``.hwh`` lists each IP's CONFIG names in
#: lower case beside its upper-case HDL generics; pynq's DMA driver reads the former.
DMA_PARAMS = (
    "c_include_sg",
    "c_micro_dma",
    "c_sg_length_width",
    "c_include_mm2s",
    "c_include_s2mm",
    "c_include_mm2s_dre",
    "c_include_s2mm_dre",
    "c_m_axi_mm2s_data_width",
    "c_m_axis_mm2s_tdata_width",
    "c_m_axi_s2mm_data_width",
    "c_s_axis_s2mm_tdata_width",
    "c_mm2s_burst_size",
    "c_s2mm_burst_size",
)


#: The IP reset GPIO's ``.hwh`` parameters the emulated board reads, and their
#: values in this design: one output bit, 1 (the IP running) after power-up.
IP_RESET_PARAMS = {"C_GPIO_WIDTH": "1", "C_ALL_OUTPUTS": "1", "C_DOUT_DEFAULT": "0x00000001"}
#: GPIO_DATA (PG144): channel 1's outputs; bit 0 is the IP's active-low reset.
IP_RESET_DATA_REG = 0x00


class FclkParams(NamedTuple):
    """The PS7 ``.hwh`` parameters of one PL clock, as a Vivado-made handoff spells them.

    pynq reads the enable and the dividers at download; pynqmetadata's clock view also
    reads the source PLL (``PCW_FCLKn_PERIPHERAL_CLKSRC``, e.g. ``IO PLL``) and the
    frequency met (``PCW_ACT_FPGAn_PERIPHERAL_FREQMHZ``), and fails without them.
    """

    enable: str
    divisor0: str
    divisor1: str
    mhz: str
    source: str
    actual_mhz: str


def ps_fclk_params(k: int) -> FclkParams:
    """The PS7 ``.hwh`` parameters of PL clock ``k``."""
    return FclkParams(
        f"PCW_FPGA_FCLK{k}_ENABLE",
        f"PCW_FCLK{k}_PERIPHERAL_DIVISOR0",
        f"PCW_FCLK{k}_PERIPHERAL_DIVISOR1",
        f"PCW_FPGA{k}_PERIPHERAL_FREQMHZ",
        f"PCW_FCLK{k}_PERIPHERAL_CLKSRC",
        f"PCW_ACT_FPGA{k}_PERIPHERAL_FREQMHZ",
    )


#: The PLL every PL clock of this design divides (``PCW_FCLKn_PERIPHERAL_CLKSRC``).
FCLK_SOURCE = "IO PLL"


#: The PS7 ``.hwh`` parameters the board side reads (pynq's clock set-up at download).
PS_PARAMS = ("PCW_UIPARAM_DDR_PARTNO", *(p for k in range(4) for p in ps_fclk_params(k)))


#: The stream timer's (latency counter's, ``vivado_bd/stream_timer.v``) ID word and
#: register offsets: the Verilog, the Tcl parameters and the board's driver read them here.
TIMER_ID = 0x53544D52
TIMER_REGISTERS = {
    "id": 0x00,
    "cycles": 0x04,
    "runs": 0x08,
    "in_beats": 0x0C,
    "out_beats": 0x10,
    "busy": 0x14,
}
