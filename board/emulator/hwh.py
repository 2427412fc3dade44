"""An EMULATED hardware handoff (``.hwh``) for bundles built without Vivado.

pynq learns a design from its ``.hwh``. A bundle converted here has no Vivado
output, so the emulated board writes a small handoff that describes the block
design ``pynq-mnist build-overlay`` builds (the hls4ml PYNQ-Z2 layout)::

    processing_system7_0 --M_AXI_GP0--> hier_0/axi_dma_0 (S_AXI_LITE, simple mode)
    hier_0/axi_dma_0 --M_AXIS_MM2S--> hier_0/<top>_0 --out--> S_AXIS_S2MM
    hier_0/axi_dma_0 --M_AXI_MM2S/S2MM--> processing_system7_0 S_AXI_HP0
    processing_system7_0 --M_AXI_GP0--> ip_reset_gpio (S_AXI; its bit resets the IP)

Widths, the DMA length width, the clock and the IP's VLNV come from the bundle
metadata. The file says it is emulated in its system name, in a comment, and in
the folder it is written to; a bundle with a real ``.hwh`` never gets one.
"""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from pynq_mnist.bundle import Bundle, BundleMetadata
from pynq_mnist.vivado_bd import params as bd

from .clocks import IO_PLL_MHZ, fclk_divisors

EMULATED_TAG = "EMULATED"
DMA_BASE = 0x40400000
DMA_RANGE = 0x10000
HIER = "hier_0"
DMA_NAME = "axi_dma_0"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
PS_NAME = "processing_system7_0"
PS_VLNV = "xilinx.com:ip:processing_system7:5.5"


def cache_root() -> Path:
    """Where emulated overlays go: ``emulated-overlays`` in the emulator's cache folder.

    That folder is ``$PYNQ_MNIST_EMULATOR_CACHE`` or ``~/.cache/pynq-mnist/emulator``,
    the one the compiled IP libraries use too.
    """
    env = os.environ.get("PYNQ_MNIST_EMULATOR_CACHE")
    return Path(env or "~/.cache/pynq-mnist/emulator").expanduser() / "emulated-overlays"


def ip_instance(vlnv: str) -> str:
    """The instance name of an IP in the design: its VLNV's name with ``_0``."""
    return vlnv.split(":")[2] + "_0"


# --------------------------------------------------------------------------- XML


def _params(parent: ET.Element, values: dict) -> None:
    params = ET.SubElement(parent, "PARAMETERS")
    for name, value in values.items():
        ET.SubElement(params, "PARAMETER", NAME=name, VALUE=str(value))


def _module(modules: ET.Element, instance: str, vlnv: str, fullname: str, **attrs) -> ET.Element:
    vendor, lib, name, version = vlnv.split(":")
    return ET.SubElement(
        modules,
        "MODULE",
        FULLNAME="/" + fullname,
        HWVERSION=version,
        INSTANCE=instance,
        IPTYPE="PERIPHERAL",
        IS_ENABLE="1",
        MODCLASS="PERIPHERAL",
        MODTYPE=name,
        VLNV=vlnv,
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


def emulated_hwh(meta: BundleMetadata) -> str:
    """The text of an emulated ``.hwh`` for a bundle's metadata (see the module docstring)."""
    return design_hwh(
        meta.name,
        meta.ip["vlnv"],
        meta.input.stream_width_bits,
        meta.output.stream_width_bits,
        int(meta.dma["length_width_bits"]),
        float(meta.ip["clock_mhz"]),
    )


def design_hwh(
    name: str,
    vlnv: str,
    in_w: int,
    out_w: int,
    length_width_bits: int,
    clock_mhz: float,
    ip_reset: bool = True,
) -> str:
    """The text of an emulated ``.hwh``: PS7, an AXI DMA and the IP ``vlnv`` between them.

    ``in_w`` / ``out_w`` are the stream widths in bits into and out of the IP;
    ``ip_reset=False`` leaves out the IP reset GPIO (a design built before it existed).
    """
    ip_name = ip_instance(vlnv)
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

    dma = _module(modules, DMA_NAME, DMA_VLNV, f"{HIER}/{DMA_NAME}")
    _params(
        dma,
        {
            "c_include_sg": 0,
            "c_micro_dma": 0,
            "c_sg_length_width": length_width_bits,
            "c_include_mm2s": 1,
            "c_include_s2mm": 1,
            "c_include_mm2s_dre": 0,
            "c_include_s2mm_dre": 0,
            "c_m_axi_mm2s_data_width": max(32, in_w),
            "c_m_axis_mm2s_tdata_width": in_w,
            "c_m_axi_s2mm_data_width": max(32, out_w),
            "c_s_axis_s2mm_tdata_width": out_w,
            "c_mm2s_burst_size": 256,
            "c_s2mm_burst_size": 256,
            "EDK_IPTYPE": "PERIPHERAL",
        },
    )
    busses = ET.SubElement(dma, "BUSINTERFACES")
    _bus(busses, "S_AXI_LITE", "ps7_M_AXI_GP0", "SLAVE", "aximm", 32)
    _bus(busses, "M_AXI_MM2S", "dma_M_AXI_MM2S", "MASTER", "aximm", max(32, in_w))
    _bus(busses, "M_AXI_S2MM", "dma_M_AXI_S2MM", "MASTER", "aximm", max(32, out_w))
    _bus(busses, "M_AXIS_MM2S", "dma_M_AXIS_MM2S", "INITIATOR", "axis")
    _bus(busses, "S_AXIS_S2MM", "ip_out", "TARGET", "axis")
    mmap = ET.SubElement(dma, "MEMORYMAP")
    for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
        _memrange(mmap, PS_NAME, "S_AXI_HP0", master, 0, 0x20000000, "MEMORY")

    ip = _module(modules, ip_name, vlnv, f"{HIER}/{ip_name}")
    _params(ip, {"clock_mhz": clock_mhz, "EDK_IPTYPE": "PERIPHERAL"})
    busses = ET.SubElement(ip, "BUSINTERFACES")
    _bus(busses, "in_r", "dma_M_AXIS_MM2S", "TARGET", "axis").set("DATAWIDTH", str(in_w))
    _bus(busses, "out_r", "ip_out", "INITIATOR", "axis").set("DATAWIDTH", str(out_w))

    gpio_name = bd.CELLS["ip_reset_cell"]
    if ip_reset:
        gpio = _module(modules, gpio_name, bd.IP_RESET_VLNV, gpio_name)
        _params(
            gpio,
            {
                "C_GPIO_WIDTH": 1,
                "C_ALL_INPUTS": 0,
                "C_ALL_OUTPUTS": 1,
                "C_DOUT_DEFAULT": "0x00000001",
                "C_IS_DUAL": 0,
                "C_BASEADDR": f"0x{bd.IP_RESET_BASE:08X}",
                "C_HIGHADDR": f"0x{bd.IP_RESET_BASE + bd.IP_RESET_RANGE - 1:08X}",
                "EDK_IPTYPE": "PERIPHERAL",
            },
        )
        _bus(ET.SubElement(gpio, "BUSINTERFACES"), "S_AXI", "ps7_M_AXI_GP0", "SLAVE", "aximm", 32)

    d0, d1 = fclk_divisors(clock_mhz)
    ps = _module(modules, PS_NAME, PS_VLNV, PS_NAME, IS_PL="FALSE")
    ps_params = {"PCW_UIPARAM_DDR_PARTNO": "MT41K256M16 RE-125"}
    for k in range(4):
        on = k == 0
        ps_params[f"PCW_FPGA_FCLK{k}_ENABLE"] = int(on)
        ps_params[f"PCW_FCLK{k}_PERIPHERAL_DIVISOR0"] = d0 if on else 1
        ps_params[f"PCW_FCLK{k}_PERIPHERAL_DIVISOR1"] = d1 if on else 1
        ps_params[f"PCW_FPGA{k}_PERIPHERAL_FREQMHZ"] = IO_PLL_MHZ / (d0 * d1) if on else 0
    _params(ps, ps_params)
    busses = ET.SubElement(ps, "BUSINTERFACES")
    _bus(busses, "M_AXI_GP0", "ps7_M_AXI_GP0", "MASTER", "aximm", 32)
    _bus(busses, "S_AXI_HP0", "dma_M_AXI_MM2S", "SLAVE", "aximm", 64)
    mmap = ET.SubElement(ps, "MEMORYMAP")
    _memrange(mmap, DMA_NAME, "S_AXI_LITE", "M_AXI_GP0", DMA_BASE, DMA_RANGE, "REGISTER")
    if ip_reset:
        _memrange(
            mmap, gpio_name, "S_AXI", "M_AXI_GP0", bd.IP_RESET_BASE, bd.IP_RESET_RANGE, "REGISTER"
        )

    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(
        root, encoding="unicode"
    )


def emulated_overlay_files(bundle: Bundle) -> tuple[Path, Path]:
    """``(bit, hwh)`` of an emulated overlay for ``bundle``, written once into the cache.

    The folder is named by a hash of ``bundle.json``, so a changed bundle gets a
    fresh handoff (pynq caches parsed metadata by bitstream, FIELD_NOTES §5). The
    ``.bit`` is a labelled placeholder: the emulated board never configures a PL.
    """
    meta = bundle.metadata
    key = hashlib.sha256(json.dumps(meta.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_root() / f"{meta.name}-{key}"
    bit, hwh = folder / f"{meta.name}.bit", folder / f"{meta.name}.hwh"
    if not (bit.is_file() and hwh.is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in (
            (hwh, emulated_hwh(meta)),
            (bit, f"{EMULATED_TAG} placeholder bitstream for {meta.name}: not a Xilinx .bit\n"),
        ):
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, path)
    return bit, hwh
