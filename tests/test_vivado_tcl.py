"""The block design Tcl, checked without Vivado: it parses, and a dry run in tclsh
with stand-in Vivado commands builds the intended design graph from the metadata."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from standins.bundles import ARCHS, metadata

from pynq_mnist.vivado_bd import params as bd_params

ROOT = Path(__file__).resolve().parents[1]
BD_DIR = ROOT / "vivado_bd"
STANDINS = Path(__file__).parent / "standins"
TCLSH = shutil.which("tclsh") or "/usr/bin/tclsh"
# Files that only define procs: sourcing them must work in a bare tclsh.
LIBRARIES = [
    BD_DIR / "pynq_z2_ps7.tcl",
    BD_DIR / "pynq_z2_design.tcl",
    STANDINS / "vivado_standin.tcl",
]


def tclsh(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TCLSH], input=script, capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_every_tcl_file_parses(tmp_path):
    files = sorted(BD_DIR.glob("*.tcl")) + sorted(STANDINS.glob("*.tcl"))
    assert {f.name for f in files} >= {"build_overlay.tcl", "pynq_z2_design.tcl", "pynq_z2_ps7.tcl"}
    checks = [
        f'if {{![info complete [read [open {{{f}}}]]]}} {{puts "INCOMPLETE {f}"}}' for f in files
    ]
    checks += [f"source {{{f}}}" for f in LIBRARIES]
    checks.append('puts "ok [llength [info procs ::pynq_mnist::*]]"')
    result = tclsh("\n".join(checks) + "\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "INCOMPLETE" not in result.stdout
    assert result.stdout.strip().startswith("ok ")
    assert int(result.stdout.split()[-1]) >= 5  # the design procs were defined


# --------------------------------------------------------------------------- dry run


@dataclass
class Graph:
    """The stand-in's dump of a block design."""

    cells: dict[str, str] = field(default_factory=dict)
    props: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    intf_nets: list[tuple[str, str]] = field(default_factory=list)
    nets: list[list[str]] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    automation: list[list[str]] = field(default_factory=list)
    addresses: list[list[str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Graph:
        g = cls()
        for line in path.read_text().splitlines():
            kind, *rest = line.split("\t")
            if kind == "cell":
                g.cells[rest[0]] = rest[1]
            elif kind == "prop":
                g.props[rest[0]][rest[1]] = rest[2]
            elif kind == "intf_net":
                g.intf_nets.append((rest[0], rest[1]))
            elif kind == "net":
                g.nets.append(rest)
            elif kind == "external":
                g.external.append(rest[0])
            elif kind == "automation":
                g.automation.append(rest)
            elif kind == "address":
                g.addresses.append(rest)
            else:
                raise ValueError(f"unknown graph line {line!r}")
        return g

    def reaches(self, start: str, goal: str) -> bool:
        """Whether AXI interface ``start`` reaches ``goal`` through nets and interconnects."""
        seen, todo = set(), [start]
        while todo:
            pin = todo.pop()
            if pin == goal:
                return True
            if pin in seen:
                continue
            seen.add(pin)
            todo += [b for a, b in self.intf_nets if a == pin] + [
                a for a, b in self.intf_nets if b == pin
            ]
            cell = pin.rsplit("/", 1)[0]
            if self.cells.get(cell) == "xilinx.com:ip:smartconnect:1.0":
                todo += [f"{cell}/{k}{i:02d}_AXI" for k in "SM" for i in range(3)]
        return False

    def net_of(self, pin: str) -> set[str]:
        nets = [set(n) for n in self.nets if pin in n]
        assert len(nets) == 1, f"{pin} is on {len(nets)} nets"
        return nets[0]


def dry_run(
    tmp_path: Path, meta, board_preset: bool = False, stream_bytes=None, latency_counter=False
) -> Graph:
    """Run ``create_design`` for ``meta`` in tclsh with the stand-ins; return the graph."""
    tmp_path = tmp_path / meta.name
    tmp_path.mkdir()
    p = bd_params.design_params(meta, tmp_path / "ip_repo", tmp_path / "out", 1, latency_counter)
    params_file = bd_params.write_params_tcl(p, tmp_path / "params.tcl")
    if stream_bytes is None:
        stream_bytes = {
            p["ip_in_port"]: meta.input.stream_width_bits // 8,
            p["ip_out_port"]: meta.output.stream_width_bits // 8,
        }
    board_parts = "tul.com.tw:pynq-z2:part0:1.0" if board_preset else ""
    script = f"""
        source {{{STANDINS / "vivado_standin.tcl"}}}
        set ::standin::board_parts {{{board_parts}}}
        set ::standin::ipdefs [list {{{meta.ip["vlnv"]}}}]
        set ::standin::hls_intf {{{p["ip_in_port"]} {p["ip_out_port"]}}}
        set ::standin::ip_stream_bytes {{{" ".join(f"{k} {v}" for k, v in stream_bytes.items())}}}
        source {{{params_file}}}
        add_files [dict get $params ip_reset_and_rtl]
        if {{[dict get $params latency_counter]}} {{ add_files [dict get $params timer_rtl] }}
        source {{{BD_DIR / "pynq_z2_ps7.tcl"}}}
        source {{{BD_DIR / "pynq_z2_design.tcl"}}}
        set code [catch {{::pynq_mnist::create_design $params {int(board_preset)}}} msg]
        ::standin::dump graph.txt
        if {{$code}} {{ puts stderr $msg; exit 1 }}
    """
    result = tclsh(script, tmp_path)
    if result.returncode:
        raise RuntimeError(result.stderr)
    return Graph.read(tmp_path / "graph.txt")


CELLS = bd_params.CELLS
PS, DMA, IP, TIMER, GPIO, GATE = (
    f"/{CELLS[k]}"
    for k in ("ps_cell", "dma_cell", "ip_cell", "timer_cell", "ip_reset_cell", "ip_reset_and_cell")
)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_dry_run_design_graph_follows_the_metadata(tmp_path, arch):
    meta = metadata(arch)
    g = dry_run(tmp_path, meta)
    ports = bd_params.ip_ports(meta)
    ip_in, ip_out = f"{IP}/{ports['ip_in_port']}", f"{IP}/{ports['ip_out_port']}"

    # cells
    assert g.cells[DMA] == "xilinx.com:ip:axi_dma:7.1"
    assert g.cells[IP] == meta.ip["vlnv"]
    assert g.cells[PS].startswith("xilinx.com:ip:processing_system7:")
    # data path, in the right direction
    assert (f"{DMA}/M_AXIS_MM2S", ip_in) in g.intf_nets
    assert (ip_out, f"{DMA}/S_AXIS_S2MM") in g.intf_nets
    # control through GP0, memory through HP0
    assert g.reaches(f"{PS}/M_AXI_GP0", f"{DMA}/S_AXI_LITE")
    assert g.reaches(f"{DMA}/M_AXI_MM2S", f"{PS}/S_AXI_HP0")
    assert g.reaches(f"{DMA}/M_AXI_S2MM", f"{PS}/S_AXI_HP0")
    assert not g.reaches(f"{PS}/M_AXI_GP0", f"{PS}/S_AXI_HP0")

    ps, dma = g.props[PS], g.props[DMA]
    assert ps["CONFIG.PCW_USE_S_AXI_HP0"] == "1"
    assert ps["CONFIG.PCW_S_AXI_HP0_DATA_WIDTH"] == "64"
    assert ps["CONFIG.PCW_USE_M_AXI_GP0"] == "1"
    assert float(ps["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == meta.ip["clock_mhz"]
    assert dma["CONFIG.c_include_sg"] == "0"
    assert int(dma["CONFIG.c_sg_length_width"]) == meta.dma["length_width_bits"]
    assert int(dma["CONFIG.c_m_axis_mm2s_tdata_width"]) == meta.input.stream_width_bits
    assert int(dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == meta.output.stream_width_bits
    assert int(dma["CONFIG.c_m_axi_mm2s_data_width"]) >= meta.input.stream_width_bits
    assert int(dma["CONFIG.c_m_axi_s2mm_data_width"]) >= meta.output.stream_width_bits

    # one clock from FCLK0 for everything; resets from one proc_sys_reset
    clock = g.net_of(f"{PS}/FCLK_CLK0")
    assert {
        f"{IP}/{ports['ip_clk_port']}",
        f"{DMA}/s_axi_lite_aclk",
        f"{DMA}/m_axi_mm2s_aclk",
        f"{DMA}/m_axi_s2mm_aclk",
        f"{PS}/M_AXI_GP0_ACLK",
        f"{PS}/S_AXI_HP0_ACLK",
    } <= clock
    assert f"{PS}/FCLK_RESET0_N" in g.net_of("/rst_fclk0/ext_reset_in")
    # the IP's reset is the system reset AND the GPIO bit; the DMA's is the system reset only
    system = g.net_of("/rst_fclk0/peripheral_aresetn")
    assert {f"{DMA}/axi_resetn", f"{GPIO}/s_axi_aresetn", f"{GATE}/Op1"} <= system
    assert f"{IP}/{ports['ip_rst_port']}" not in system
    assert g.net_of(f"{IP}/{ports['ip_rst_port']}") == {
        f"{GATE}/Res",
        f"{IP}/{ports['ip_rst_port']}",
    }
    assert g.net_of(f"{GPIO}/gpio_io_o") == {f"{GPIO}/gpio_io_o", f"{GATE}/Op2"}
    assert g.cells[GPIO] == str(bd_params.DESIGN.ip_reset.vlnv)
    assert g.cells[GATE] == str(bd_params.DESIGN.ip_reset_and.vlnv)
    gpio = g.props[GPIO]
    assert (gpio["CONFIG.C_GPIO_WIDTH"], gpio["CONFIG.C_ALL_OUTPUTS"]) == ("1", "1")
    assert int(gpio["CONFIG.C_DOUT_DEFAULT"], 16) & 1  # the IP runs from power-up
    assert g.cells[GATE] == "xilinx.com:module_ref:ip_reset_and:1.0"
    assert not any("util_vector_logic" in vlnv for vlnv in g.cells.values())
    assert g.reaches(f"{PS}/M_AXI_GP0", f"{GPIO}/S_AXI")
    assert f"{GPIO}/s_axi_aclk" in clock

    # address map
    assert [f"{PS}/Data", f"{DMA}/S_AXI_LITE/Reg", "0x40400000", "0x10000"] in g.addresses
    design = bd_params.DESIGN
    gpio_at = [f"0x{design.ip_reset.segment.base:08X}", f"0x{design.ip_reset.segment.size:X}"]
    assert [f"{PS}/Data", f"{GPIO}/S_AXI/Reg", *gpio_at] in g.addresses
    for space in ("Data_MM2S", "Data_S2MM"):
        assert [
            f"{DMA}/{space}",
            f"{PS}/S_AXI_HP0/HP0_DDR_LOWOCM",
            "0x00000000",
            "0x20000000",
        ] in g.addresses


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_the_latency_counter_sits_on_both_streams_and_on_gp0(tmp_path, arch):
    meta = metadata(arch)
    g = dry_run(tmp_path, meta, latency_counter=True)
    ports = bd_params.ip_ports(meta)
    ip_in, ip_out = f"{IP}/{ports['ip_in_port']}", f"{IP}/{ports['ip_out_port']}"
    assert g.cells[TIMER] == "xilinx.com:module_ref:stream_timer:1.0"
    assert set(g.intf_nets) >= {
        (f"{DMA}/M_AXIS_MM2S", f"{TIMER}/s_axis_in"),
        (f"{TIMER}/m_axis_in", ip_in),
        (ip_out, f"{TIMER}/s_axis_out"),
        (f"{TIMER}/m_axis_out", f"{DMA}/S_AXIS_S2MM"),
    }
    assert (f"{DMA}/M_AXIS_MM2S", ip_in) not in g.intf_nets
    assert int(g.props[TIMER]["CONFIG.IN_BYTES"]) * 8 == meta.input.stream_width_bits
    assert int(g.props[TIMER]["CONFIG.OUT_BYTES"]) * 8 == meta.output.stream_width_bits
    assert g.reaches(f"{PS}/M_AXI_GP0", f"{TIMER}/s_axi")
    assert g.reaches(f"{PS}/M_AXI_GP0", f"{DMA}/S_AXI_LITE")
    assert f"{TIMER}/aclk" in g.net_of(f"{PS}/FCLK_CLK0")
    assert f"{TIMER}/aresetn" in g.net_of("/rst_fclk0/peripheral_aresetn")
    assert [f"{PS}/Data", f"{TIMER}/s_axi/reg0", "0x43C00000", "0x1000"] in g.addresses


def test_the_two_archs_give_different_designs(tmp_path):
    """Widths and clock come from the metadata: different bundles, different settings."""
    a, b = dry_run(tmp_path, metadata("mlp")), dry_run(tmp_path, metadata("cnn"))
    keys = ["CONFIG.c_m_axis_mm2s_tdata_width", "CONFIG.c_s_axis_s2mm_tdata_width"]
    assert [a.props[DMA][k] for k in keys] != [b.props[DMA][k] for k in keys]
    clock = "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"
    assert a.props[PS][clock] != b.props[PS][clock]


def test_without_board_files_the_shipped_ps_configuration_is_used(tmp_path):
    g = dry_run(tmp_path, metadata("mlp"), board_preset=False)
    assert g.automation == []
    assert g.props[PS]["CONFIG.PCW_UIPARAM_DDR_PARTNO"] == "MT41J256M16 RE-125"
    assert g.props[PS]["CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ"] == "50"
    assert {f"{PS}/DDR", f"{PS}/FIXED_IO"} <= set(g.external)


def test_with_board_files_the_board_preset_is_used(tmp_path):
    g = dry_run(tmp_path, metadata("mlp"), board_preset=True)
    [(rule, config, obj)] = g.automation
    assert rule == "xilinx.com:bd_rule:processing_system7" and obj == PS
    assert 'apply_board_preset "1"' in config
    assert "CONFIG.PCW_UIPARAM_DDR_PARTNO" not in g.props[PS]
    assert {f"{PS}/DDR", f"{PS}/FIXED_IO"} <= set(g.external)
    # the PL side is still set from the metadata on top of the preset
    assert g.props[PS]["CONFIG.PCW_USE_S_AXI_HP0"] == "1"


def test_an_ip_whose_stream_width_differs_from_the_metadata_is_refused(tmp_path):
    meta = metadata("mlp")  # 64 bits in, 128 out
    swapped = {"in_stream": 16, "out_stream": 8}
    with pytest.raises(RuntimeError, match=r"in_stream carries 128 bits .* in_width_bits = 64"):
        dry_run(tmp_path, meta, stream_bytes=swapped)


def test_params_refuse_another_part_and_unusable_names(tmp_path):
    meta = metadata("mlp")
    other = type(meta).from_dict({**meta.to_dict(), "ip": {**meta.ip, "part": "xc7z010clg400-1"}})
    with pytest.raises(bd_params.BundleError, match="PYNQ-Z2"):
        bd_params.design_params(other, tmp_path, tmp_path, 1)
    spaced = type(meta).from_dict({**meta.to_dict(), "name": "mnist-v2.1"})
    with pytest.raises(bd_params.BundleError, match="cannot name a bitstream"):
        bd_params.design_params(spaced, tmp_path, tmp_path, 1)


# --------------------------------------------------------------------------- real IP parameters


def _hwh_parameters(hwh: Path) -> dict[str, set[str]]:
    """``{MODTYPE: parameter names}`` of the IP modules in a Vivado-made ``.hwh``."""
    import xml.etree.ElementTree as ET

    names: dict[str, set[str]] = defaultdict(set)
    for module in ET.parse(hwh).getroot().iter("MODULE"):
        params = module.find("PARAMETERS")
        if params is not None:
            names[module.get("MODTYPE")] |= {p.get("NAME") for p in params}
    return names


@pytest.mark.parametrize("board_preset", [False, True])
@pytest.mark.parametrize("latency_counter", [False, True])
def test_every_config_name_set_on_the_dma_and_ps_exists_in_a_real_hwh(
    tmp_path, pynq_z2_base_hwh, board_preset, latency_counter
):
    """Vivado rejects an unknown CONFIG name only when it runs: check ours against the
    parameters that Vivado itself wrote for axi_dma 7.1 and processing_system7 5.5 into
    the Pynq-Z2 base overlay's .hwh (pynq 3.0.1)."""
    known = _hwh_parameters(pynq_z2_base_hwh)
    g = dry_run(tmp_path, metadata("cnn"), board_preset, latency_counter=latency_counter)
    checked = 0
    for cell, modtype in ((DMA, "axi_dma"), (PS, "processing_system7")):
        assert g.cells[cell].startswith(f"xilinx.com:ip:{modtype}:")
        names = {key.removeprefix("CONFIG.") for key in g.props[cell] if key.startswith("CONFIG.")}
        # a property's VALUE_SRC attribute belongs to the parameter it names
        names = {n.removesuffix(".VALUE_SRC") for n in names}
        unknown = sorted(names - known[modtype])
        assert not unknown, f"{modtype} has no parameters {unknown} in {pynq_z2_base_hwh}"
        checked += len(names)
    assert checked >= (12 if board_preset else 60)


def test_the_s2mm_stream_width_is_marked_as_set_by_the_user(tmp_path):
    g = dry_run(tmp_path, metadata("mlp"))
    assert g.props[DMA]["CONFIG.c_s_axis_s2mm_tdata_width.VALUE_SRC"] == "USER"
