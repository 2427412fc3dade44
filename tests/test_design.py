"""The design description: the emulated ``.hwh`` is the block design, in a real ``.hwh``'s terms."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pynq
import pytest
from test_board_fakes import synthetic_ip, synthetic_metadata

from pynq_mnist.board.emulator.device import EmulatedDevice
from pynq_mnist.board.emulator.hwh import emulated_hwh
from pynq_mnist.design import DMA_PARAMS, PS_PARAMS, PYNQ_Z2, DesignError, Vlnv, ps_fclk_params
from pynq_mnist.vivado_bd import params as bd_params

ROOT = Path(__file__).resolve().parents[1]


def _modules(hwh_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(hwh_text)
    return {m.get("FULLNAME").lstrip("/"): m for m in root.iter("MODULE")}


def _param_names(module: ET.Element) -> set[str]:
    return {p.get("NAME") for p in module.iter("PARAMETER")}


def test_emulated_hwh_has_the_block_designs_cells_and_addresses(tmp_path):
    meta = synthetic_metadata()
    text = emulated_hwh(meta)
    modules = _modules(text)
    cells = (PYNQ_Z2.ps, PYNQ_Z2.dma, PYNQ_Z2.ip, PYNQ_Z2.ip_reset)
    assert set(modules) == {c.path for c in cells}
    assert modules[PYNQ_Z2.ip_reset.path].get("VLNV") == str(PYNQ_Z2.ip_reset.vlnv)
    assert modules[PYNQ_Z2.dma.path].get("VLNV") == str(PYNQ_Z2.dma.vlnv)
    assert modules[PYNQ_Z2.ps.path].get("VLNV") == str(PYNQ_Z2.ps.vlnv)
    assert modules[PYNQ_Z2.ip.path].get("VLNV") == meta.ip["vlnv"]
    # the same cell names the Tcl builds the design with
    assert bd_params.CELLS["dma_cell"] == PYNQ_Z2.dma.path
    assert bd_params.CELLS["ip_cell"] == PYNQ_Z2.ip.path
    assert bd_params.CELLS["ps_cell"] == PYNQ_Z2.ps.path
    assert bd_params.CELLS["ip_reset_cell"] == PYNQ_Z2.ip_reset.path

    (tmp_path / "d.hwh").write_text(text)
    (tmp_path / "d.bit").write_text("placeholder")
    ol = pynq.Overlay(str(tmp_path / "d.bit"), device=EmulatedDevice(synthetic_ip))
    dma = ol.ip_dict[PYNQ_Z2.dma.path]
    assert dma["phys_addr"] == PYNQ_Z2.dma.segment.base
    assert dma["addr_range"] == PYNQ_Z2.dma.segment.size
    p = dma["parameters"]
    assert int(p["c_mm2s_burst_size"]) == int(p["c_s2mm_burst_size"]) == PYNQ_Z2.dma_burst_size
    assert int(p["c_sg_length_width"]) == PYNQ_Z2.dma_length_width_bits
    assert int(p["c_m_axis_mm2s_tdata_width"]) == PYNQ_Z2.stream_width_bits
    gpio = ol.ip_dict[PYNQ_Z2.ip_reset.path]
    assert gpio["phys_addr"] == PYNQ_Z2.ip_reset.segment.base
    assert gpio["addr_range"] == PYNQ_Z2.ip_reset.segment.size


def test_emulated_hwh_parameters_are_the_described_ones():
    modules = _modules(emulated_hwh(synthetic_metadata()))
    assert _param_names(modules[PYNQ_Z2.dma.path]) - {"EDK_IPTYPE"} == set(DMA_PARAMS)
    assert _param_names(modules[PYNQ_Z2.ps.path]) == set(PS_PARAMS)


def test_every_parameter_the_board_reads_is_in_a_real_vivado_hwh(pynq_z2_base_hwh):
    """Names read by our board code and by pynq's DMA driver and clock set-up exist in
    the Vivado-made Pynq-Z2 base overlay's .hwh, spelt the same."""
    root = ET.parse(pynq_z2_base_hwh).getroot()
    real = {}
    for m in root.iter("MODULE"):
        vlnv = m.get("VLNV", "")
        for cell in (PYNQ_Z2.dma, PYNQ_Z2.ps):
            if vlnv == str(cell.vlnv):
                real.setdefault(cell.vlnv.name, set()).update(_param_names(m))
    assert set(DMA_PARAMS) <= real["axi_dma"], set(DMA_PARAMS) - real["axi_dma"]
    assert set(PS_PARAMS) <= real["processing_system7"]

    # What the board code reads is among the described names.
    board_reads = set()
    for path in (ROOT / "board").rglob("*.py"):
        board_reads |= set(re.findall(r"[\"'](c_[a-z0-9_]+)[\"']", path.read_text()))
    dma_py = Path(pynq.__file__).parent / "lib" / "dma.py"
    board_reads |= set(re.findall(r"\[\"parameters\"\]\[\"(c_[a-z0-9_]+)\"\]", dma_py.read_text()))
    board_reads |= set(re.findall(r"\"(c_[a-z0-9_]+)\" in ", dma_py.read_text()))
    assert board_reads, "found no parameter names read: the scan is broken"
    assert board_reads <= set(DMA_PARAMS), board_reads - set(DMA_PARAMS)


@pytest.mark.parametrize(
    "text", ["xilinx.com:ip:axi_dma", "a:b:c:d:e", "a::c:1.0", "a:b/..:c:1.0", 7, "a:b:c:1 0"]
)
def test_a_vlnv_that_does_not_parse_is_refused(text):
    with pytest.raises(DesignError, match="not a VLNV"):
        Vlnv.parse(text)


def test_vlnv_round_trips():
    assert str(Vlnv.parse("xilinx.com:ip:axi_dma:7.1")) == str(PYNQ_Z2.dma.vlnv)


def test_the_emulated_hwh_carries_the_pl_clocks_as_a_real_handoff_does(tmp_path, pynq_z2_base_hwh):
    """pynq reads each PL clock's enable and dividers at download; pynqmetadata's clock
    view (pynq 4's) also reads its source PLL (``PCW_FCLKn_PERIPHERAL_CLKSRC``) and fails
    without it. A real Vivado-made Z2 handoff has them all, spelt so: the emulated one too."""
    from pynqmetadata.frontends import Metadata
    from pynqmetadata.views.runtime.clock_dict_view import ClockDictView

    text = emulated_hwh(synthetic_metadata())
    (tmp_path / "d.hwh").write_text(text)
    (tmp_path / "d.bit").write_text("placeholder")
    ol = pynq.Overlay(str(tmp_path / "d.bit"), device=EmulatedDevice(synthetic_ip), download=False)
    clocks = {k: dict(v) for k, v in ol.clock_dict.items()}
    assert clocks[0]["enable"] == 1 and all(clocks[k]["enable"] == 0 for k in (1, 2, 3))
    divided = PYNQ_Z2.io_pll_mhz / (clocks[0]["divisor0"] * clocks[0]["divisor1"])
    assert divided == pytest.approx(float(synthetic_metadata().ip["clock_mhz"]), rel=0.01)

    views = ClockDictView(Metadata(str(tmp_path / "d.hwh"))).clock_dict
    assert [views[k]["src_sel"] for k in range(4)] == ["IO PLL"] * 4
    assert views[0]["divisor0"] == clocks[0]["divisor0"]

    real = next(
        m for m in ET.parse(pynq_z2_base_hwh).getroot().iter("MODULE")
        if m.get("VLNV") == str(PYNQ_Z2.ps.vlnv)
    )  # fmt: skip
    for k in range(4):
        assert set(ps_fclk_params(k)) <= _param_names(real) & _param_names(
            _modules(text)[PYNQ_Z2.ps.path]
        )
