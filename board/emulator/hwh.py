"""An EMULATED hardware handoff (``.hwh``) for bundles built without Vivado.

pynq learns a design from its ``.hwh``. A bundle converted here has no Vivado
output, so the emulated board writes a small handoff of the block design
``pynq-mnist build-overlay`` builds: every cell name, VLNV, parameter and
address comes from :data:`pynq_mnist.design.PYNQ_Z2` (the description the Tcl
is built from), so the board code meets here the names the board will show.
Stream widths, the DMA length width, the clock and the IP's VLNV come from the
bundle metadata. The file says it is emulated in its system name, in a comment,
and in the folder it is written to; a bundle with a real ``.hwh`` never gets one.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.bundle import Bundle, BundleMetadata
from pynq_mnist.design import (
    DMA_PARAMS,
    FCLK_SOURCE,
    IP_RESET_PARAMS,
    PYNQ_Z2,
    BlockDesign,
    Cell,
    Vlnv,
    ps_fclk_params,
)

from .cache import cache_dir, cache_writes
from .clocks import fclk_divisors

EMULATED_TAG = "EMULATED"


def cache_root() -> Path:
    """Where emulated overlays go: ``emulated-overlays`` in the emulator's cache folder."""
    return cache_dir() / "emulated-overlays"


# --------------------------------------------------------------------------- XML


def _params(parent: ET.Element, values: dict) -> None:
    params = ET.SubElement(parent, "PARAMETERS")
    for name, value in values.items():
        ET.SubElement(params, "PARAMETER", NAME=name, VALUE=str(value))


def _module(modules: ET.Element, cell: Cell, **attrs) -> ET.Element:
    return ET.SubElement(
        modules,
        "MODULE",
        FULLNAME="/" + cell.path,
        HWVERSION=cell.vlnv.version,
        INSTANCE=cell.instance,
        IPTYPE="PERIPHERAL",
        IS_ENABLE="1",
        MODCLASS="PERIPHERAL",
        MODTYPE=cell.vlnv.name,
        VLNV=str(cell.vlnv),
        **attrs,
    )


def _bus(parent: ET.Element, name: str, busname: str, type_: str, kind: str, width=None):
    attrs = {"BUSNAME": busname, "NAME": name, "TYPE": type_}
    if width is not None:
        attrs["DATAWIDTH"] = str(width)
    attrs["VLNV"] = f"xilinx.com:interface:{kind}:1.0"
    return ET.SubElement(parent, "BUSINTERFACE", **attrs)


def _memrange(
    parent: ET.Element, instance: str, slave: str, master: str, base: int, size: int, memtype: str
):
    ET.SubElement(
        parent,
        "MEMRANGE",
        ADDRESSBLOCK="Reg" if memtype == "REGISTER" else "HP0_DDR_LOWOCM",
        BASENAME="C_BASEADDR",
        BASEVALUE=f"0x{base:08X}",
        HIGHNAME="C_HIGHADDR",
        HIGHVALUE=f"0x{base + size - 1:08X}",
        INSTANCE=instance,
        IS_DATA="TRUE",
        IS_INSTRUCTION="TRUE",
        MASTERBUSINTERFACE=master,
        MEMTYPE=memtype,
        SLAVEBUSINTERFACE=slave,
    )


def emulated_hwh(meta: BundleMetadata, design: BlockDesign = PYNQ_Z2) -> str:
    """The text of an emulated ``.hwh`` for a bundle's metadata (see the module docstring)."""
    return design_hwh(
        design.with_ip(Vlnv.parse(meta.ip["vlnv"])),
        meta.name,
        meta.input.stream_width_bits,
        meta.output.stream_width_bits,
        int(meta.dma["length_width_bits"]),
        float(meta.ip["clock_mhz"]),
    )


def design_hwh(
    design: BlockDesign,
    name: str,
    in_w: int,
    out_w: int,
    length_width_bits: int,
    clock_mhz: float,
    ip_reset: bool = True,
) -> str:
    """The text of an emulated ``.hwh`` of ``design``: its PS7, AXI DMA, IP and IP reset cells.

    ``in_w`` / ``out_w`` are the stream widths in bits into and out of the IP;
    ``ip_reset=False`` leaves out the IP reset GPIO (a design built before it existed).
    """
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="0", VIVADOVERSION=EMULATED_TAG)
    root.append(
        ET.Comment(
            f" {EMULATED_TAG}: written by pynq_mnist.board.emulator.hwh from bundle.json "
            f"for {name!r}; no Vivado produced this file "
        )
    )
    ET.SubElement(
        root,
        "SYSTEMINFO",
        ARCH="zynq",
        DEVICE="7z020",
        NAME=f"{name}_{EMULATED_TAG.lower()}",
        PACKAGE="clg400",
        SPEEDGRADE="-1",
    )
    ET.SubElement(root, "EXTERNALPORTS")
    ET.SubElement(root, "EXTERNALINTERFACES")
    modules = ET.SubElement(root, "MODULES")
    _dma_module(modules, design, in_w, out_w, length_width_bits)
    _ip_module(modules, design, in_w, out_w)
    if ip_reset:
        _ip_reset_module(modules, design)
    _ps_module(modules, design, clock_mhz, ip_reset)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(
        root, encoding="unicode"
    )


def _dma_module(
    modules: ET.Element, design: BlockDesign, in_w: int, out_w: int, length_width_bits: int
) -> None:
    """The AXI DMA: simple mode, both channels, no DRE, the values the Tcl sets (PG021)."""
    dma = _module(modules, design.dma)
    mm_in, mm_out = max(design.hp0_width_bits, in_w), max(design.hp0_width_bits, out_w)
    dma_values = dict.fromkeys(DMA_PARAMS, 0)
    dma_values.update(
        c_sg_length_width=length_width_bits,
        c_include_mm2s=1,
        c_include_s2mm=1,
        c_m_axi_mm2s_data_width=mm_in,
        c_m_axis_mm2s_tdata_width=in_w,
        c_m_axi_s2mm_data_width=mm_out,
        c_s_axis_s2mm_tdata_width=out_w,
        c_mm2s_burst_size=design.dma_burst_size,
        c_s2mm_burst_size=design.dma_burst_size,
    )
    _params(dma, {**dma_values, "EDK_IPTYPE": "PERIPHERAL"})
    busses = ET.SubElement(dma, "BUSINTERFACES")
    _bus(busses, "S_AXI_LITE", "ps7_M_AXI_GP0", "SLAVE", "aximm", 32)
    _bus(busses, "M_AXI_MM2S", "dma_M_AXI_MM2S", "MASTER", "aximm", mm_in)
    _bus(busses, "M_AXI_S2MM", "dma_M_AXI_S2MM", "MASTER", "aximm", mm_out)
    _bus(busses, "M_AXIS_MM2S", "dma_M_AXIS_MM2S", "INITIATOR", "axis")
    _bus(busses, "S_AXIS_S2MM", "ip_out", "TARGET", "axis")
    mmap = ET.SubElement(dma, "MEMORYMAP")
    for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
        _memrange(mmap, design.ps.instance, "S_AXI_HP0", master, 0, design.ddr_range, "MEMORY")


def _ip_module(modules: ET.Element, design: BlockDesign, in_w: int, out_w: int) -> None:
    """The IP: its two AXI-Stream ports, at the bundle's widths."""
    ip = _module(modules, design.ip)
    _params(ip, {"EDK_IPTYPE": "PERIPHERAL"})
    busses = ET.SubElement(ip, "BUSINTERFACES")
    ports = design.ip_ports
    _bus(busses, ports.input, "dma_M_AXIS_MM2S", "TARGET", "axis").set("DATAWIDTH", str(in_w))
    _bus(busses, ports.output, "ip_out", "INITIATOR", "axis").set("DATAWIDTH", str(out_w))


def _ip_reset_module(modules: ET.Element, design: BlockDesign) -> None:
    """The IP reset: a 1-bit, all-output AXI GPIO (PG144)."""
    gpio = _module(modules, design.ip_reset)
    seg = design.ip_reset.segment
    _params(
        gpio,
        {
            **IP_RESET_PARAMS,
            "C_ALL_INPUTS": 0,
            "C_IS_DUAL": 0,
            "C_BASEADDR": f"0x{seg.base:08X}",
            "C_HIGHADDR": f"0x{seg.high:08X}",
            "EDK_IPTYPE": "PERIPHERAL",
        },
    )
    _bus(ET.SubElement(gpio, "BUSINTERFACES"), "S_AXI", "ps7_M_AXI_GP0", "SLAVE", "aximm", 32)


def _ps_module(modules: ET.Element, design: BlockDesign, clock_mhz: float, ip_reset: bool) -> None:
    """The PS7: FCLK0 at ``clock_mhz`` (as a real handoff records a PL clock), HP0, GP0."""
    d0, d1 = fclk_divisors(clock_mhz)
    ps = _module(modules, design.ps, IS_PL="FALSE")
    ps_params: dict[str, object] = {"PCW_UIPARAM_DDR_PARTNO": design.ddr_partno}
    for k in range(4):
        on = k == 0
        names = ps_fclk_params(k)
        ps_params[names.enable] = int(on)
        ps_params[names.divisor0] = d0 if on else 1
        ps_params[names.divisor1] = d1 if on else 1
        ps_params[names.mhz] = design.io_pll_mhz / (d0 * d1) if on else 0
        ps_params[names.actual_mhz] = f"{ps_params[names.mhz]:.6f}"
        ps_params[names.source] = FCLK_SOURCE
    _params(ps, ps_params)
    busses = ET.SubElement(ps, "BUSINTERFACES")
    _bus(busses, "M_AXI_GP0", "ps7_M_AXI_GP0", "MASTER", "aximm", 32)
    _bus(busses, "S_AXI_HP0", "dma_M_AXI_MM2S", "SLAVE", "aximm", design.hp0_width_bits)
    mmap = ET.SubElement(ps, "MEMORYMAP")
    registers = [(design.dma, "S_AXI_LITE")] + ([(design.ip_reset, "S_AXI")] if ip_reset else [])
    for cell, port in registers:
        _memrange(
            mmap, cell.instance, port, "M_AXI_GP0", cell.segment.base, cell.segment.size, "REGISTER"
        )


def emulated_overlay_files(bundle: Bundle) -> tuple[Path, Path]:
    """``(bit, hwh)`` of an emulated overlay for ``bundle``, written once into the cache.

    The folder is named by a hash of the handoff's text, so a changed bundle or
    design gets a fresh one (pynq caches a design's parsed metadata by the
    bitstream's path and time stamp). A cached file whose text is not the one
    expected (corrupted, truncated) is written again: the cache heals. The
    ``.bit`` is a labelled placeholder: the emulated board never configures a PL.
    """
    meta = bundle.metadata
    hwh_text = emulated_hwh(meta)
    key = hashlib.sha256(hwh_text.encode()).hexdigest()[:16]
    folder = cache_root() / f"{meta.name}-{key}"
    bit, hwh = folder / f"{meta.name}.bit", folder / f"{meta.name}.hwh"
    bit_text = f"{EMULATED_TAG} placeholder bitstream for {meta.name}: not a Xilinx .bit\n"
    stale = [
        (path, text) for path, text in ((hwh, hwh_text), (bit, bit_text)) if not _holds(path, text)
    ]
    if stale:
        with cache_writes():
            folder.mkdir(parents=True, exist_ok=True)
            for path, text in stale:
                write_text_atomic(path, text)
    return bit, hwh


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False
