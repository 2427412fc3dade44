"""The numbers and names the block design Tcl reads, derived once from ``bundle.json``.

Vivado never sees the metadata: :func:`design_params` turns it into a flat dict
and :func:`write_params_tcl` writes that dict as one Tcl ``dict`` in a file the
build script sources. So widths and the clock are typed once (in the bundle),
and the Tcl and the tests read the same values.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pynq_mnist.bundle import BundleError, BundleMetadata

# The HLS IP's ports. A bundle names them in ``ip.ports`` (keys input, output,
# clock, reset: written by convert); these defaults serve a bundle that does not.
IP_PORTS = {
    "ip_in_port": "in_stream",
    "ip_out_port": "out_stream",
    "ip_clk_port": "ap_clk",
    "ip_rst_port": "ap_rst_n",
}
_PORT_KEYS = {
    "ip_in_port": "input",
    "ip_out_port": "output",
    "ip_clk_port": "clock",
    "ip_rst_port": "reset",
}


def ip_ports(meta: BundleMetadata) -> dict[str, str]:
    """The IP's port names, keyed as the Tcl reads them (``ip_in_port`` ...)."""
    named = meta.ip.get("ports", {})
    return {key: named.get(_PORT_KEYS[key], default) for key, default in IP_PORTS.items()}


# The board: the block design and its PS configuration are written for this part.
BOARD_PART_PATTERN = "tul.com.tw:pynq-z2:part0:*"
PART = "xc7z020clg400-1"
HP0_WIDTH_BITS = 64
# Vivado's usual address for an AXI DMA on GP0; any free GP0 address would do.
DMA_LITE_BASE = 0x40400000
DMA_LITE_RANGE = 0x10000
DDR_RANGE = 0x20000000  # 512 MiB on the PYNQ-Z2

BD_NAME = "pynq_mnist"
# Instance names in the block design, hence in the .hwh the board reads.
CELLS = {
    "ps_cell": "processing_system7_0",
    "dma_cell": "axi_dma_0",
    "ip_cell": "nn_0",
    "timer_cell": "stream_timer_0",
}

# The optional latency counter (stream_timer.v; its header documents the registers).
TIMER_RTL = Path(__file__).parent / "stream_timer.v"
TIMER_BASE = 0x43C00000
TIMER_RANGE = 0x1000
TIMER_ID = 0x53544D52
TIMER_REGISTERS = {
    "id": 0x00,
    "cycles": 0x04,
    "runs": 0x08,
    "in_beats": 0x0C,
    "out_beats": 0x10,
    "busy": 0x14,
}


def latency_counter_info() -> dict:
    """Where the board finds the latency counter: recorded in ``bundle.json`` ``build``."""
    return {
        "instance": CELLS["timer_cell"],
        "base_address": f"0x{TIMER_BASE:08X}",
        "id": f"0x{TIMER_ID:08X}",
        "registers": {name: f"0x{offset:02X}" for name, offset in TIMER_REGISTERS.items()},
        "what": "cycles from the first input beat to the output beat with TLAST, last run",
    }


def check_target(meta: BundleMetadata) -> None:
    """Refuse a bundle this block design cannot build: another part, or an unusable name."""
    if meta.ip["part"] != PART:
        raise BundleError(
            f"the bundle targets part {meta.ip['part']} but this block design is for the "
            f"PYNQ-Z2 ({PART}); convert the model for the PYNQ-Z2"
        )
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", meta.name):
        raise BundleError(
            f"bundle name {meta.name!r} cannot name a bitstream: use letters, digits and _"
        )


def design_params(
    meta: BundleMetadata,
    ip_repo: str | os.PathLike,
    out_dir: str | os.PathLike,
    jobs: int,
    latency_counter: bool = False,
) -> dict[str, str | int | float]:
    """The block design's parameters for the bundle ``meta``.

    Parameters
    ----------
    meta : BundleMetadata
        The bundle's metadata: the source of stream widths, clock, DMA length
        width, part and IP VLNV.
    ip_repo : path
        The folder holding the HLS-exported IP (its ``component.xml``), or for an
        RTL bundle (``ip.backend == "rtl"``) its Verilog folder (``BUNDLE/rtl``).
    out_dir : path
        Where the Tcl leaves ``NAME.bit``, ``NAME.hwh`` and the reports.
    jobs : int
        Parallel jobs for synthesis and implementation runs.
    latency_counter : bool
        Put the stream_timer latency counter on the IP's streams (AXI-Lite on GP0).
    """
    check_target(meta)
    in_width = meta.input.stream_width_bits
    out_width = meta.output.stream_width_bits
    return {
        "name": meta.name,
        "part": meta.ip["part"],
        "board_part_pattern": BOARD_PART_PATTERN,
        "bd_name": BD_NAME,
        "ip_backend": meta.backend,
        "ip_top": meta.ip["top"],
        "ip_vlnv": meta.ip["vlnv"],
        "ip_repo": str(Path(ip_repo).resolve()),
        **ip_ports(meta),
        **CELLS,
        "in_width_bits": in_width,
        "out_width_bits": out_width,
        # AXI DMA: the memory-map side must be at least as wide as its stream.
        "dma_mm2s_mm_width_bits": max(HP0_WIDTH_BITS, in_width),
        "dma_s2mm_mm_width_bits": max(HP0_WIDTH_BITS, out_width),
        "dma_length_width_bits": int(meta.dma["length_width_bits"]),
        "fclk0_mhz": f"{float(meta.ip['clock_mhz']):g}",
        "hp0_width_bits": HP0_WIDTH_BITS,
        "dma_lite_base": f"0x{DMA_LITE_BASE:08X}",
        "dma_lite_range": f"0x{DMA_LITE_RANGE:X}",
        "ddr_range": f"0x{DDR_RANGE:X}",
        "latency_counter": int(latency_counter),
        "timer_rtl": str(TIMER_RTL),
        "timer_base": f"0x{TIMER_BASE:08X}",
        "timer_range": f"0x{TIMER_RANGE:X}",
        "out_dir": str(Path(out_dir).resolve()),
        "jobs": int(jobs),
    }


def _tcl_word(value: str | int | float) -> str:
    """``value`` as one literal Tcl word (braced), refusing what braces cannot hold."""
    text = str(value)
    if any(c in text for c in "{}\\\n"):
        raise BundleError(f"cannot pass {text!r} to Tcl: braces, backslashes or newlines")
    return "{" + text + "}"


def write_params_tcl(params: dict[str, str | int | float], path: str | os.PathLike) -> Path:
    """Write ``params`` as ``set params [dict create ...]`` to ``path``."""
    lines = ["# Generated by pynq_mnist.vivado_bd.params from bundle.json: do not edit.", ""]
    lines.append("set params [dict create \\")
    lines += [f"    {key} {_tcl_word(value)} \\" for key, value in params.items()]
    lines.append("]")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
