"""The numbers and names the block design Tcl reads: the design description and ``bundle.json``.

Vivado never sees either: :func:`design_params` turns the bundle's metadata and
:data:`pynq_mnist.design.PYNQ_Z2` (cell names, VLNVs, addresses, bursts) into a
flat dict and :func:`write_params_tcl` writes that dict as one Tcl ``dict`` in a
file the build script sources. So each fact is typed once, and the Tcl, the
emulated ``.hwh`` and the tests read the same values.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.bundle import BundleError, BundleMetadata
from pynq_mnist.design import IP_RESET_PARAMS, PYNQ_Z2, TIMER_ID, TIMER_REGISTERS, Cell

_PORT_KEYS = {
    "ip_in_port": "input",
    "ip_out_port": "output",
    "ip_clk_port": "clock",
    "ip_rst_port": "reset",
}


def ip_ports(meta: BundleMetadata) -> dict[str, str]:
    """The IP's port names, keyed as the Tcl reads them (``ip_in_port`` ...).

    A bundle names them in ``ip.ports`` (written by convert); the design's
    defaults serve a bundle that does not.
    """
    named = meta.ip.get("ports", {})
    defaults = asdict(DESIGN.ip_ports)
    return {key: named.get(role, defaults[role]) for key, role in _PORT_KEYS.items()}


DESIGN = PYNQ_Z2
# Instance names in the block design, hence in the .hwh the board reads.
CELLS = {
    "ps_cell": DESIGN.ps.path,
    "dma_cell": DESIGN.dma.path,
    "ip_cell": DESIGN.ip.path,
    "timer_cell": DESIGN.timer.path,
    "reset_cell": DESIGN.reset.path,
    "ip_reset_cell": DESIGN.ip_reset.path,
    "ip_reset_and_cell": DESIGN.ip_reset_and.path,
    "ctrl_interconnect_cell": DESIGN.ctrl_interconnect.path,
    "mem_interconnect_cell": DESIGN.mem_interconnect.path,
}
# The VLNVs the Tcl creates its Xilinx cells with.
VLNVS = {
    "ps_vlnv": str(DESIGN.ps.vlnv),
    "dma_vlnv": str(DESIGN.dma.vlnv),
    "reset_vlnv": str(DESIGN.reset.vlnv),
    "ip_reset_vlnv": str(DESIGN.ip_reset.vlnv),
    "interconnect_vlnv": str(DESIGN.ctrl_interconnect.vlnv),
}

# The IP reset's AND gate, a module reference (no library IP: ip_reset_and.v says why).
GATE_RTL = Path(__file__).parent / "ip_reset_and.v"

# The optional latency counter (stream_timer.v; its header documents the registers).
TIMER_RTL = Path(__file__).parent / "stream_timer.v"


def latency_counter_info() -> dict:
    """Where the board finds the latency counter: recorded in ``bundle.json`` ``build``."""
    return {
        "instance": DESIGN.timer.path,
        "base_address": f"0x{DESIGN.timer.segment.base:08X}",
        "id": f"0x{TIMER_ID:08X}",
        "registers": {name: f"0x{offset:02X}" for name, offset in TIMER_REGISTERS.items()},
        "what": "cycles from the first input beat to the output beat with TLAST, last run",
    }


def check_target(meta: BundleMetadata) -> None:
    """Refuse a bundle this block design cannot build: another part, or an unusable name."""
    if meta.ip["part"] != DESIGN.part:
        raise BundleError(
            f"the bundle targets part {meta.ip['part']} but this block design is for the "
            f"PYNQ-Z2 ({DESIGN.part}); convert the model for the PYNQ-Z2"
        )
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", meta.name):
        raise BundleError(
            f"bundle name {meta.name!r} cannot name a bitstream: use letters, digits and _"
        )


def _segment_params(name: str, cell: Cell) -> dict[str, str]:
    """``<name>_base`` and ``<name>_range`` of a cell's segment, as the Tcl reads them."""
    return {
        f"{name}_base": f"0x{cell.segment.base:08X}",
        f"{name}_range": f"0x{cell.segment.size:X}",
    }


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
        "board_part_pattern": DESIGN.board_part_pattern,
        "bd_name": DESIGN.bd_name,
        "ip_backend": meta.backend,
        "ip_top": meta.ip["top"],
        "ip_vlnv": meta.ip["vlnv"],
        "ip_repo": str(Path(ip_repo).resolve()),
        **ip_ports(meta),
        **CELLS,
        **VLNVS,
        "in_width_bits": in_width,
        "out_width_bits": out_width,
        # AXI DMA: the memory-map side must be at least as wide as its stream.
        "dma_mm2s_mm_width_bits": max(DESIGN.hp0_width_bits, in_width),
        "dma_s2mm_mm_width_bits": max(DESIGN.hp0_width_bits, out_width),
        "dma_length_width_bits": int(meta.dma["length_width_bits"]),
        "dma_burst_size": DESIGN.dma_burst_size,
        "fclk0_mhz": f"{float(meta.ip['clock_mhz']):g}",
        "hp0_width_bits": DESIGN.hp0_width_bits,
        **_segment_params("dma_lite", DESIGN.dma),
        "ddr_range": f"0x{DESIGN.ddr_range:X}",
        "latency_counter": int(latency_counter),
        "timer_rtl": str(TIMER_RTL),
        "ip_reset_and_rtl": str(GATE_RTL),
        "ip_reset_and_module": DESIGN.ip_reset_and.vlnv.name,
        **_segment_params("timer", DESIGN.timer),
        **_segment_params("ip_reset", DESIGN.ip_reset),
        **{f"ip_reset_{k.lower()}": v for k, v in IP_RESET_PARAMS.items()},
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
    return write_text_atomic(path, "\n".join(lines) + "\n")
