"""``pynq-mnist build-overlay`` against stand-in ``vivado`` / ``vivado_hls`` / ``vitis_hls`` /
``vitis-run`` programs (tests/standins), each installed in a folder laid out like a Xilinx
install, and the report parsers it relies on."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from standins.bundles import BACKEND_HEADER, make_bundle, metadata

from pynq_mnist.board.design_check import design_problems
from pynq_mnist.build_figures import figure_lines
from pynq_mnist.bundle import Bundle, BundleError, BundleMetadata, sha256_tree, write_metadata
from pynq_mnist.cli import main
from pynq_mnist.overlays import locate
from pynq_mnist.vivado_bd.build import build_overlay
from pynq_mnist.vivado_bd.params import ip_ports, latency_counter_info
from pynq_mnist.vivado_bd.reports import (
    ReportError,
    design_warnings,
    parse_csynth,
    parse_timing_summary,
    parse_utilization,
)
from pynq_mnist.vivado_bd.toolchain import Y2K22_PATCH_FILE, BuildError

STANDINS = Path(__file__).parent / "standins"
UTILIZATION = {"lut": 4321, "ff": 5678, "dsp": 9, "bram36": 2.5}
# Where each program lives in a Xilinx install: INSTALL/bin/PROGRAM.
PRODUCTS = {
    "vivado": "Vivado",
    "vivado_hls": "Vivado",
    "vitis_hls": "Vitis_HLS",
    "vitis-run": "Vitis",
}
# Each supported shape: (version, HLS program, the HLS command line build-overlay runs).
SHAPES = {
    "2020.1": ("vivado_hls", "vivado_hls -f build_hls.tcl"),
    "2022.1": ("vitis_hls", "vitis_hls -f build_hls.tcl"),
    "2024.1": ("vitis_hls", "vitis_hls -f build_hls.tcl"),
    "2024.2": ("vitis-run", "vitis-run --mode hls --tcl build_hls.tcl"),
    "2025.1": ("vitis-run", "vitis-run --mode hls --tcl build_hls.tcl"),
}


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """``tools(*names, y2k22_patch=True, **env)``: only those stand-ins on PATH, each in
    ``Xilinx/PRODUCT/standin/bin`` (with ``common/scripts``, and the AR 76960 patch file
    unless ``y2k22_patch`` is false), with STANDIN_* settings."""
    calls = tmp_path / "calls.txt"

    def use(*names: str, y2k22_patch: bool = True, **env: str) -> Path:
        bins = []
        for name in names:
            install = tmp_path / "Xilinx" / PRODUCTS[name] / "standin"
            (install / "bin").mkdir(parents=True, exist_ok=True)
            (install / "bin" / name).symlink_to(STANDINS / name)
            scripts = install / "common" / "scripts"
            scripts.mkdir(parents=True, exist_ok=True)
            (scripts / "automg.tcl").write_text("# stand-in\n")
            if y2k22_patch:
                (install / Y2K22_PATCH_FILE).write_text("# stand-in patch\n")
            bins.append(str(install / "bin"))
        # the stand-ins need python3 and tclsh; nothing else from the host PATH
        path = [*dict.fromkeys(bins), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        monkeypatch.setenv("PATH", os.pathsep.join(path))
        for var in ("XILINX_PATH", "XILINX_VIVADO", "XILINX_HLS"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("STANDIN_CALLS", str(calls))
        for key, value in env.items():
            monkeypatch.setenv(f"STANDIN_{key}", value)
        return calls

    return use


def ip_env(arch: str, **over: str) -> dict[str, str]:
    """Stand-in settings for an IP that matches the arch's metadata."""
    meta = metadata(arch)
    ports = ip_ports(meta)
    env = {
        "HLS_INTF": f"{ports['ip_in_port']} {ports['ip_out_port']}",
        "IP_STREAM_BYTES": f"{ports['ip_in_port']} {meta.input.stream_width_bits // 8} "
        f"{ports['ip_out_port']} {meta.output.stream_width_bits // 8}",
        "UTILIZATION": " ".join(f"{k} {v}" for k, v in UTILIZATION.items()),
        "WNS": "0.512",
    }
    return {**env, **over}


def tool_calls(calls: Path, tool: str) -> int:
    """How many builds (not version probes) ``tool`` ran."""
    if not calls.is_file():
        return 0
    return sum(
        1
        for ln in calls.read_text().splitlines()
        if ln.startswith(f"{tool} -") and "-version" not in ln
    )


def assert_not_built(path: Path) -> None:
    """The bundle still loads, and claims no bitstream."""
    meta = Bundle(path).metadata
    assert "bitstream" not in meta.files and "hwh" not in meta.files and meta.build is None


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("version", sorted(SHAPES))
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_each_supported_tool_shape_builds_a_complete_bundle(tmp_path, tools, arch, version):
    program, command = SHAPES[version]
    calls = tools("vivado", program, VERSION=version, CSYNTH="98 98 130 131", **ip_env(arch))
    path = make_bundle(tmp_path, arch)
    hls_hash = sha256_tree(path / "hls")

    bundle = build_overlay(path, jobs=1, keep_work=True)

    again = Bundle(path)
    again.verify_hashes()
    meta = again.metadata
    assert meta.files["bitstream"] == f"{meta.name}.bit" and meta.files["hwh"] == f"{meta.name}.hwh"
    assert again.file("bitstream").read_bytes() == b"stand-in bitstream"
    assert meta.ip["vlnv"] in again.file("hwh").read_text()
    assert sorted(p.name for p in again.file("reports").iterdir()) == [
        "hls_csynth.xml",
        "vivado_timing_summary.rpt",
        "vivado_utilization.rpt",
    ]
    assert meta.build["utilization"] == UTILIZATION
    assert meta.build["timing"]["wns_ns"] == 0.512
    assert meta.build["clock_mhz"] == meta.build["fclk0_mhz_actual"] == meta.ip["clock_mhz"]
    assert meta.build["tools"] == {"hls": f"{program} {version}", "vivado": f"vivado {version}"}
    # HLS's own numbers, from its csynth.xml
    backend = "Vivado" if program == "vivado_hls" else "Vitis"
    assert meta.build["hls"]["backend"] == backend
    assert meta.build["hls"]["ii_cycles"] == {"min": 98, "max": 98}
    assert meta.build["hls"]["latency_cycles"] == {"best": 130, "worst": 131}
    assert meta.build["hls"]["resources"] == {"lut": 7890, "ff": 3456, "dsp": 12, "bram18": 4}
    assert meta.build["hls"]["target_clock_ns"] == pytest.approx(1000 / meta.ip["clock_mhz"])
    assert meta.build["warnings"] == []
    assert "latency_counter" not in meta.build
    assert bundle.metadata == meta
    # the tool ran in its own command-line shape, on its backend's sources
    runs = [
        ln
        for ln in calls.read_text().splitlines()
        if ln.startswith(program) and "version" not in ln
    ]
    assert runs == [command]
    work_header = (path / "build" / "hls" / BACKEND_HEADER).read_text()
    assert work_header == f"// hls4ml {backend} backend\n"
    # the bundle's own HLS sources are untouched; logs stay
    assert sha256_tree(path / "hls") == hls_hash == meta.sha256["hls"]
    assert (path / "build" / "logs" / "vivado.log").is_file()


def test_work_folders_go_after_a_build_unless_kept(tmp_path, tools, capsys):
    tools("vivado", "vitis_hls", CSYNTH="120 125 300 310", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    assert figure_lines(Bundle(path).metadata) == []  # nothing synthesised yet
    meta = build_overlay(path, jobs=1).metadata
    # the model beside the synthesised figures, as build-overlay and bench print them
    lines = figure_lines(meta)
    assert any(ln.split()[:3] == ["frame", "interval,", "cycles"] and "98" in ln and "120-125" in ln
               for ln in lines)  # fmt: skip
    assert any("latency, cycles" in ln and "300-310" in ln for ln in lines)
    assert any("LUT (HLS estimate / Vivado)" in ln and "7890 / 4321" in ln for ln in lines)
    assert any("WNS, ns (Vivado)" in ln and "0.512" in ln for ln in lines)
    assert "\n".join(lines) in capsys.readouterr().out
    assert not (path / "build" / "vivado").exists() and not (path / "build" / "hls").exists()
    assert (path / "build" / "logs" / "hls.log").is_file()


def test_vivado_2020_1_takes_vivado_hls_not_its_early_vitis_hls(tmp_path, tools):
    """2020.1 also ships an early vitis_hls, which is not supported."""
    tools("vivado", "vitis_hls", "vivado_hls", VERSION="2020.1", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    meta = build_overlay(path, jobs=1).metadata
    assert meta.build["tools"] == {"hls": "vivado_hls 2020.1", "vivado": "vivado 2020.1"}
    assert Bundle(path).has("hwh")  # found under .srcs, not .gen


def test_2024_2_takes_vitis_run_and_2024_1_vitis_hls(tmp_path, tools, monkeypatch):
    """Both programs are there from 2023.2 on; each version range has one shape."""
    tools("vivado", "vitis_hls", "vitis-run", VERSION="2024.2", **ip_env("mlp"))
    assert build_overlay(make_bundle(tmp_path, "mlp"), jobs=1).metadata.build["tools"]["hls"] == (
        "vitis-run 2024.2"
    )
    monkeypatch.setenv("STANDIN_VERSION", "2024.1")
    path = make_bundle(tmp_path / "b", "mlp")
    assert build_overlay(path, jobs=1).metadata.build["tools"]["hls"] == "vitis_hls 2024.1"


def test_an_hls_program_of_unreadable_version_does_not_hide_a_supported_pair(
    tmp_path, tools, monkeypatch
):
    tools("vivado", "vitis_hls", **ip_env("mlp"))
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "vitis-run").write_text("#!/bin/sh\necho 'some other tool'\n")
    (odd / "vitis-run").chmod(0o755)
    monkeypatch.setenv("PATH", f"{odd}{os.pathsep}{os.environ['PATH']}")
    meta = build_overlay(make_bundle(tmp_path, "mlp"), jobs=1).metadata
    assert meta.build["tools"]["hls"] == "vitis_hls 2022.1"


def test_unpatched_vivado_hls_2020_1_is_refused_before_any_work(tmp_path, tools, capsys):
    calls = tools("vivado", "vivado_hls", y2k22_patch=False, VERSION="2020.1", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    assert main(["build-overlay", str(path)]) == 1
    err = capsys.readouterr().err
    assert "vivado_hls 2020.1" in err and "Y2K22" in err and "AR 76960" in err
    assert "support.xilinx.com/s/article/76960" in err
    assert "automg_patch_20220104.tcl" in err
    assert "Vitis HLS 2022.1 to 2024.1" in err and "vitis-run" in err  # the supported versions
    assert (tool_calls(calls, "vivado_hls"), tool_calls(calls, "vivado")) == (0, 0)
    assert not (path / "build" / "hls").exists()
    assert_not_built(path)


def test_the_unpatched_stand_in_fails_as_the_real_tool_does(tmp_path, tools):
    """What the refusal spares the user: export_design dies after synthesis."""
    tools("vivado_hls", y2k22_patch=False, VERSION="2020.1")
    path = make_bundle(tmp_path, "mlp")
    (path / "hls" / "hls_tool.tcl").write_text("set hls_backend Vivado\n")
    out = subprocess.run(
        ["vivado_hls", "-f", "build_hls.tcl"], cwd=path / "hls", capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "bad lexical cast" in out.stdout and "IMPL 213-28" in out.stdout
    assert not (path / "hls" / "ip_repo").exists()


def test_a_patch_in_xilinx_path_counts(tmp_path, tools, monkeypatch):
    tools("vivado", "vivado_hls", y2k22_patch=False, VERSION="2020.1", **ip_env("mlp"))
    patch_area = tmp_path / "patches"
    (patch_area / Y2K22_PATCH_FILE).parent.mkdir(parents=True)
    (patch_area / Y2K22_PATCH_FILE).write_text("# stand-in patch\n")
    monkeypatch.setenv("XILINX_PATH", str(patch_area))
    from pynq_mnist.vivado_bd.toolchain import find_toolchain

    hls, vivado = find_toolchain()
    assert (str(hls), str(vivado)) == ("vivado_hls 2020.1", "vivado 2020.1")


def test_the_build_script_refuses_to_run_unprepared(tmp_path, tools):
    """Run by hand on the bundle's hls/, it would synthesise one backend's sources
    whatever the tool: it asks for build-overlay's preparation instead."""
    tools("vitis_hls")
    path = make_bundle(tmp_path, "mlp")
    out = subprocess.run(
        ["vitis_hls", "-f", "build_hls.tcl"], cwd=path / "hls", capture_output=True, text=True
    )
    assert out.returncode == 1 and "pynq-mnist build-overlay" in out.stderr


def test_a_vitis_build_of_a_bundle_without_vitis_sources_is_refused(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    shutil.rmtree(path / "hls" / "vitis")
    d = json.loads((path / "bundle.json").read_text())
    d["sha256"]["hls"] = sha256_tree(path / "hls")
    write_metadata(path, BundleMetadata.from_dict(d))
    with pytest.raises(BuildError, match=r"has no vitis/ \(hls4ml's Vitis-backend sources\)"):
        build_overlay(path, jobs=1)


def test_design_breaking_warnings_are_printed_at_the_end_and_recorded(tmp_path, tools, capsys):
    warnings = "|".join(
        [
            "WARNING: [HLS 207-5514] Pragma 'PIPELINE' is ignored in an if block (stand-in)",
            "WARNING: [HLS 200-885] The II Violation in module 'dense' (stand-in)",
        ]
    )
    tools("vivado", "vitis_hls", HLS_WARNINGS=warnings, **ip_env("mlp"))
    meta = build_overlay(make_bundle(tmp_path, "mlp"), jobs=1).metadata
    out = capsys.readouterr().out
    tail = out[out.index("known design-breaking warnings") :]
    assert "HLS pragma was ignored" in tail and "HLS 207-5514" in tail
    assert "could not reach a pipeline's II" in tail
    assert [(w["log"], w["count"]) for w in meta.build["warnings"]] == [
        ("logs/hls.log", 1),
        ("logs/hls.log", 1),
    ]


@pytest.mark.parametrize("board_parts", ["", "tul.com.tw:pynq-z2:part0:1.0"])
def test_full_flow_uses_the_board_preset_only_when_the_board_files_exist(
    tmp_path, tools, board_parts
):
    graph = tmp_path / "graph.txt"
    tools("vivado", "vitis_hls", BOARD_PARTS=board_parts, GRAPH=str(graph), **ip_env("cnn"))
    build_overlay(make_bundle(tmp_path, "cnn"), jobs=1)
    lines = graph.read_text().splitlines()
    preset = any(ln.startswith("automation\txilinx.com:bd_rule:processing_system7") for ln in lines)
    explicit = any("CONFIG.PCW_UIPARAM_DDR_PARTNO" in ln for ln in lines)
    assert (preset, explicit) == ((True, False) if board_parts else (False, True))


def test_the_latency_counter_is_built_and_recorded_on_request(tmp_path, tools):
    calls = tools("vivado", "vitis_hls", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    build_overlay(path, jobs=1)
    meta = build_overlay(path, jobs=1, latency_counter=True).metadata  # a different design: rebuilt
    assert tool_calls(calls, "vivado") == 2
    assert meta.build["latency_counter"] == latency_counter_info()
    assert 'INSTANCE="stream_timer_0"' in Bundle(path).file("hwh").read_text()


def test_a_built_bundle_is_not_rebuilt_without_force(tmp_path, tools):
    calls = tools("vivado", "vitis_hls", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    build_overlay(path, jobs=1)
    build_overlay(path, jobs=1)
    assert (tool_calls(calls, "vitis_hls"), tool_calls(calls, "vivado")) == (1, 1)
    build_overlay(path, jobs=1, force=True)
    assert (tool_calls(calls, "vitis_hls"), tool_calls(calls, "vivado")) == (2, 2)


# --------------------------------------------------------------------------- failures


def test_vivado_exit_0_without_a_bitstream_fails(tmp_path, tools):
    tools("vivado", "vitis_hls", VIVADO_MODE="exit0_nothing", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    with pytest.raises(
        BuildError, match=r"(?s)Vivado exited 0 but left no bitstream .*Exiting Vivado"
    ):
        build_overlay(path, jobs=1)
    assert_not_built(path)
    assert not (path / "mnist_mlp.bit").exists()


def test_vivado_failure_shows_the_log_excerpt(tmp_path, tools):
    tools("vivado", "vitis_hls", RUN_FAILS="1", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    with pytest.raises(BuildError) as err:
        build_overlay(path, jobs=1)
    msg = str(err.value)
    assert "exit status 1" in msg
    assert "run impl_1 stopped: place_design ERROR" in msg  # vivado.log
    assert "Place 30-640" in msg  # the run's own runme.log
    assert_not_built(path)


def test_negative_slack_fails_and_installs_nothing(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp", WNS="-0.321"))
    path = make_bundle(tmp_path, "mlp")
    with pytest.raises(BuildError, match=r"timing failed at 100.0 MHz: setup slack WNS -0.321 ns"):
        build_overlay(path, jobs=1)
    assert_not_built(path)
    assert not (path / "mnist_mlp.bit").exists() and not (path / "reports").exists()


def test_negative_hold_slack_fails(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp", WHS="-0.05"))
    with pytest.raises(BuildError, match=r"hold slack WHS -0.05 ns"):
        build_overlay(make_bundle(tmp_path, "mlp"), jobs=1)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("fail", r"vitis_hls exited with status 1.*HLS 207-812"),
        (
            "error_exit0",
            r"vitis_hls exited 0 but exported no IP \(and logged 1 errors\).*HLS 207-812",
        ),
        ("no_ip", r"vitis_hls exited 0 but exported no IP"),
    ],
)
def test_hls_errors_fail_before_vivado(tmp_path, tools, mode, message):
    calls = tools("vivado", "vitis_hls", HLS_MODE=mode, **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    with pytest.raises(BuildError, match=f"(?s)HLS failed: {message}"):
        build_overlay(path, jobs=1)
    assert tool_calls(calls, "vivado") == 0
    assert not (path / "build" / "hls.done.json").exists()
    assert_not_built(path)


def test_hls_errors_a_script_caught_are_shown_but_do_not_fail(tmp_path, tools, capsys):
    tools("vivado", "vitis_hls", HLS_MODE="caught_error", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    build_overlay(path, jobs=1)
    assert "HLS 200-1023" in capsys.readouterr().out
    assert Bundle(path).has("bitstream")


def test_hls_exporting_another_ip_than_the_metadata_names_fails(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp", IP_VLNV="example.org:hls:other:1.0"))
    with pytest.raises(
        BuildError, match="HLS exported IP example.org:hls:other:1.0 but bundle.json names"
    ):
        build_overlay(make_bundle(tmp_path, "mlp"), jobs=1)


def test_ip_stream_width_unlike_the_metadata_fails_in_vivado(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp", IP_STREAM_BYTES="in_stream 8 out_stream 8"))
    with pytest.raises(BuildError, match=r"out_stream carries 64 bits but bundle.json says"):
        build_overlay(make_bundle(tmp_path, "mlp"), jobs=1)


def test_a_hanging_tool_is_stopped_at_its_deadline(tmp_path, tools):
    tools("vivado", "vitis_hls", HLS_MODE="hang", **ip_env("mlp"))
    with pytest.raises(BuildError, match="ran past its .* limit"):
        build_overlay(make_bundle(tmp_path, "mlp"), jobs=1, timeout_min=0.03)


# --------------------------------------------------------------------------- resume and rebuild


def test_an_interrupted_run_resumes_after_hls(tmp_path, tools, monkeypatch):
    calls = tools("vivado", "vitis_hls", RUN_FAILS="1", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    with pytest.raises(BuildError):
        build_overlay(path, jobs=1)
    assert (path / "build" / "hls.done.json").is_file()

    monkeypatch.setenv("STANDIN_RUN_FAILS", "0")
    build_overlay(path, jobs=1)
    assert tool_calls(calls, "vitis_hls") == 1  # HLS ran once, Vivado twice
    assert tool_calls(calls, "vivado") == 2
    assert "place_design ERROR" in (path / "build" / "logs" / "vivado.prev.log").read_text()
    Bundle(path).verify_hashes()


def test_a_failed_rebuild_keeps_the_previous_build(tmp_path, tools, monkeypatch):
    tools("vivado", "vitis_hls", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    before = build_overlay(path, jobs=1).metadata
    monkeypatch.setenv("STANDIN_RUN_FAILS", "1")
    with pytest.raises(BuildError):
        build_overlay(path, jobs=1, force=True)
    after = Bundle(path)
    assert after.metadata == before
    after.verify_hashes()


# --------------------------------------------------------------------------- refusals


def test_a_second_build_of_the_same_bundle_is_refused_while_one_runs(tmp_path, tools):
    tools("vivado", "vitis_hls", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    (path / "build").mkdir()
    with open(path / "build" / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BuildError, match="another build-overlay is running"):
            build_overlay(path)
    build_overlay(path, jobs=1)  # the lock went with its holder


def test_missing_tools_are_refused_with_the_supported_versions(tmp_path, tools, capsys):
    tools()  # nothing on PATH
    path = make_bundle(tmp_path, "mlp")
    assert main(["build-overlay", str(path)]) == 1
    err = capsys.readouterr().err
    assert "needs Vivado and its HLS tool on PATH" in err
    assert "Vivado HLS 2020.1" in err and "Vitis HLS 2022.1 to 2024.1" in err
    assert "vitis-run --mode hls --tcl" in err
    assert "Found: none of them" in err
    assert_not_built(path)


def test_vivado_without_an_hls_tool_is_refused(tmp_path, tools):
    tools("vivado")
    with pytest.raises(BuildError, match="Found: vivado 2022.1. Load the tools"):
        build_overlay(make_bundle(tmp_path, "mlp"))


@pytest.mark.parametrize("version", ["2021.2", "2019.2", "2025.2", "2026.1"])
def test_unsupported_versions_are_refused(tmp_path, tools, version):
    tools("vivado", "vitis_hls", "vivado_hls", "vitis-run", VERSION=version)
    found = ", ".join(f"{t} {version}" for t in ("vivado", "vivado_hls", "vitis_hls", "vitis-run"))
    with pytest.raises(BuildError, match=f"Found: {found}"):
        build_overlay(make_bundle(tmp_path, "mlp"))


def test_a_bundle_for_another_part_is_refused_before_any_tool_runs(tmp_path, tools):
    calls = tools("vivado", "vitis_hls")
    path = make_bundle(tmp_path, "mlp")
    d = json.loads((path / "bundle.json").read_text())
    d["ip"]["part"] = "xczu3eg-sbva484-1-e"
    write_metadata(path, BundleMetadata.from_dict(d))
    with pytest.raises(BundleError, match="for the PYNQ-Z2"):
        build_overlay(path)
    assert not calls.exists()


# --------------------------------------------------------------------------- --check


@pytest.mark.slow
def test_check_on_a_converted_bundle_runs_the_tool_free_checks_and_prints_the_plan(
    tiny_bundle, tools, capsys
):
    calls = tools()  # no Xilinx tool at all
    assert main(["build-overlay", "--check", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    for check in (
        "every bundle file matches its sha256",
        "part xc7z020clg400-1",
        "hls4ml's Vitis-backend sources (vitis/) are there",
        "bit-exact with hls4ml's C simulation at conversion (Vivado, Vitis sources, 1000 frames)",
        "block design parameters derive from bundle.json",
        "Tcl scripts are complete (tclsh)",
    ):
        assert check in out
    assert "modelled frame interval" in out and "outputs:" in out
    assert "the build would stop here: build-overlay needs Vivado" in out
    assert "known risks:" in out and "ready to build: no (no tools)" in out
    assert not calls.exists()  # nothing was run
    assert_not_built(tiny_bundle)
    assert not (tiny_bundle / "build").exists()


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2020.1", "2024.2"])
def test_a_converted_bundle_builds_against_the_stand_ins(tiny_bundle, tools, tmp_path, version):
    """The real build_hls.tcl of a converted bundle, with its real sources, in each shape."""
    meta = Bundle(tiny_bundle).metadata
    ports = ip_ports(meta)
    program = SHAPES[version][0]
    tools(
        "vivado",
        program,
        VERSION=version,
        HLS_INTF=f"{ports['ip_in_port']} {ports['ip_out_port']}",
        IP_STREAM_BYTES=f"{ports['ip_in_port']} {meta.input.stream_width_bits // 8} "
        f"{ports['ip_out_port']} {meta.output.stream_width_bits // 8}",
        UTILIZATION=" ".join(f"{k} {v}" for k, v in UTILIZATION.items()),
        WNS="0.2",
    )
    path = tmp_path / tiny_bundle.name
    shutil.copytree(tiny_bundle, path, ignore=shutil.ignore_patterns("build"))
    built = build_overlay(path, jobs=1, keep_work=True).metadata
    assert built.build["tools"]["hls"] == f"{program} {version}"
    Bundle(path).verify_hashes()
    header = "firmware/nnet_utils/nnet_conv2d_stream.h"
    expected = path / "hls" / ("vitis/" + header if program != "vivado_hls" else header)
    assert (path / "build" / "hls" / header).read_bytes() == expected.read_bytes()


def test_check_names_the_tools_found_and_what_they_would_run(tmp_path, tools, capsys):
    tools("vivado", "vitis_hls", "vitis-run", VERSION="2025.1")
    path = make_bundle(tmp_path, "cnn")
    assert main(["build-overlay", "--check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "vitis-run 2025.1 (" in out and "vitis_hls 2025.1 (" in out
    assert "HLS: vitis-run --mode hls --tcl build_hls.tcl on hls4ml Vitis-backend sources" in out
    assert "outside the Vitis HLS versions hls4ml is reported to test (2022.2 to 2024.1)" in out
    assert "the sources vitis-run 2025.1 synthesises (Vitis) were checked bit-exact" in out
    assert "ready to build: yes" in out
    assert tool_calls(tmp_path / "calls.txt", "vitis-run") == 0


def test_check_fails_when_the_tools_sources_were_not_checked(tmp_path, tools, capsys):
    """A bundle converted before the Vitis check: Vitis HLS would build unchecked C++."""
    tools("vivado", "vitis_hls", VERSION="2023.2")
    path = make_bundle(tmp_path, "mlp")
    d = json.loads((path / "bundle.json").read_text())
    del d["accuracy"]["bit_exact_backends"]
    write_metadata(path, BundleMetadata.from_dict(d))
    assert main(["build-overlay", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "(Vivado sources, 100 frames)" in out
    assert "FAIL  the sources vitis_hls 2023.2 synthesises (Vitis) were checked bit-exact" in out


def test_check_fails_on_a_hand_edited_bundle(tmp_path, tools, capsys):
    tools()
    path = make_bundle(tmp_path, "mlp")
    (path / "hls" / "build_hls.tcl").write_text("proc broken {} {\n")
    assert main(["build-overlay", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  bundle hashes" in out and "build_hls.tcl" in out
    assert "FAIL  " in out and "Tcl scripts are complete" in out


# --------------------------------------------------------------------------- report parsers

# Vivado 2020.1 layout: no "Prohibited" column; post-synthesis rows carry a '*'.
UTILIZATION_2020 = """
1. Slice Logic
--------------

+----------------------------+-------+-------+-----------+-------+
|          Site Type         |  Used | Fixed | Available | Util% |
+----------------------------+-------+-------+-----------+-------+
| Slice LUTs*                | 18611 |     0 |     53200 | 34.98 |
|   LUT as Logic             | 17002 |     0 |     53200 | 31.96 |
| Slice Registers            | 22050 |     0 |    106400 | 20.72 |
+----------------------------+-------+-------+-----------+-------+

3. Memory
---------

+-------------------+------+-------+-----------+-------+
|     Site Type     | Used | Fixed | Available | Util% |
+-------------------+------+-------+-----------+-------+
| Block RAM Tile    |   46 |     0 |       140 | 32.86 |
+-------------------+------+-------+-----------+-------+

4. DSP
------

+----------------+------+-------+-----------+-------+
|    Site Type   | Used | Fixed | Available | Util% |
+----------------+------+-------+-----------+-------+
| DSPs           |   11 |     0 |       220 |  5.00 |
+----------------+------+-------+-----------+-------+
"""


def test_parse_utilization_reads_both_table_layouts(tmp_path):
    assert parse_utilization(UTILIZATION_2020) == {
        "lut": 18611,
        "ff": 22050,
        "bram36": 46,
        "dsp": 11,
    }
    with pytest.raises(ReportError, match="DSPs"):
        parse_utilization(UTILIZATION_2020.replace("| DSPs ", "| Other"))


def test_parse_timing_summary_and_its_errors():
    text = (
        "| Design Timing Summary\n\n"
        "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)\n"
        "    -------      -------  ---------------------  -------------------      -------      -------\n"
        "     -1.250      -40.500                     57                 9000        0.021        0.000\n"
    )
    assert parse_timing_summary(text) == {
        "wns_ns": -1.25,
        "tns_ns": -40.5,
        "whs_ns": 0.021,
        "ths_ns": 0.0,
    }
    with pytest.raises(ReportError):
        parse_timing_summary("no table here")


CSYNTH_2020 = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
  <ReportVersion><Version>2020.1</Version></ReportVersion>
  <UserAssignments><TargetClockPeriod>10.00</TargetClockPeriod></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><unit>ns</unit><EstimatedClockPeriod>8.513</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency><Best-caseLatency>undef</Best-caseLatency><Worst-caseLatency>undef</Worst-caseLatency><Interval-min>undef</Interval-min><Interval-max>undef</Interval-max></SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates><Resources><BRAM_18K>10</BRAM_18K><DSP48E>3</DSP48E><FF>12001</FF><LUT>23002</LUT></Resources></AreaEstimates>
</profile>
"""


def test_parse_csynth_reads_vivado_hls_names_and_undef():
    assert parse_csynth(CSYNTH_2020) == {
        "ii_cycles": {"min": None, "max": None},
        "latency_cycles": {"best": None, "worst": None},
        "estimated_clock_ns": 8.513,
        "target_clock_ns": 10,
        "resources": {"lut": 23002, "ff": 12001, "dsp": 3, "bram18": 10},
    }
    with pytest.raises(ReportError, match="no SummaryOfOverallLatency"):
        parse_csynth("<profile/>")
    with pytest.raises(ReportError, match="not XML"):
        parse_csynth("<profile>")


def test_design_warnings_name_each_kind_once_with_its_count():
    log = "\n".join(
        [
            "INFO: [HLS 200-10] fine",
            "WARNING: [HLS 200-880] The II Violation in module 'a'",
            "WARNING: [HLS 200-885] The II Violation in module 'b'",
            "CRITICAL WARNING: [Timing 38-282] The design failed to meet the timing requirements.",
            "WARNING: [IP_Flow 19-3374] An attempt to modify the value of disabled parameter",
        ]
    )
    found = {w["meaning"].split(":")[0]: w["count"] for w in design_warnings(log)}
    assert found == {
        "HLS could not reach a pipeline's II": 2,
        "the implemented design does not meet timing": 1,
        "Vivado ignored an IP parameter value (a CONFIG the IP derives itself)": 1,
    }
    assert design_warnings("INFO: all good") == []


# --------------------------------------------------------------------------- real Vivado

Z2_RESOURCES = {"lut": 53200, "ff": 106400, "dsp": 220, "bram36": 140}


def _default_bundle(arch: str, request, tmp_path: Path) -> Path:
    """``$PYNQ_MNIST_VIVADO_BUNDLES/mnist_ARCH`` (e.g. ``bench/runs/bundles`` after
    ``make pipeline ARGS="--arch all"``), else a smoke-trained student converted here."""
    where = os.environ.get("PYNQ_MNIST_VIVADO_BUNDLES")
    if where:
        return locate(Path(where) / f"mnist_{arch}").path
    if arch == "cnn":
        return request.getfixturevalue("tiny_bundle")
    from pynq_mnist.host_training.conversion.convert import convert
    from pynq_mnist.host_training.training.train import train

    train({"arch": arch, "preset": "smoke"}, tmp_path / "run")
    convert(tmp_path / "run", tmp_path / f"mnist_{arch}", frames=1000, progress=lambda m: None)
    return tmp_path / f"mnist_{arch}"


@pytest.mark.vivado
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_real_build_of_each_default_bundle(arch, request, tmp_path):
    """The whole flow with the real tools on a copy of each default bundle, its results
    checked against the bundle's metadata."""
    from pynq_mnist.vivado_bd.toolchain import find_toolchain

    src = _default_bundle(arch, request, tmp_path / "source")
    path = tmp_path / src.name
    shutil.copytree(src, path, ignore=shutil.ignore_patterns("build"))
    hls_tool, vivado = find_toolchain()

    meta = build_overlay(path, jobs=os.cpu_count() or 2, force=True).metadata

    bundle = Bundle(path)
    bundle.verify_hashes()
    assert design_problems(meta, bundle.file("hwh")) == []
    assert bundle.file("bitstream").stat().st_size > 1_000_000
    assert meta.build["tools"] == {"hls": str(hls_tool), "vivado": str(vivado)}
    assert meta.build["timing"]["wns_ns"] >= 0 and meta.build["timing"]["whs_ns"] >= 0
    assert meta.build["fclk0_mhz_actual"] == pytest.approx(meta.ip["clock_mhz"], rel=0.05)
    for key, available in Z2_RESOURCES.items():
        assert 0 <= meta.build["utilization"][key] <= available
    hls = meta.build["hls"]
    assert hls["backend"] == hls_tool.shape.backend
    assert hls["backend"] in meta.accuracy["bit_exact_backends"]
    assert hls["target_clock_ns"] == pytest.approx(1000 / meta.ip["clock_mhz"], rel=1e-3)
    # the cycle model leaves out pipeline depths: HLS's interval may only be longer
    if hls["ii_cycles"]["min"] is not None:
        assert hls["ii_cycles"]["min"] >= meta.ip["target_ii_cycles"]
    ignored = [w for w in meta.build["warnings"] if "pragma was ignored" in w["meaning"]]
    assert ignored == [], ignored
