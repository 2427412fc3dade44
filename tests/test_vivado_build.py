"""``pynq-mnist build-overlay`` against stand-in ``vivado`` / ``vitis_hls`` / ``vivado_hls``
programs (tests/standins), and the report parsers it relies on."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from standins.bundles import make_bundle, metadata

from pynq_mnist.board.design_check import design_problems
from pynq_mnist.bundle import Bundle, BundleError, BundleMetadata, sha256_tree, write_metadata
from pynq_mnist.cli import main
from pynq_mnist.overlays import locate
from pynq_mnist.vivado_bd.build import build_overlay
from pynq_mnist.vivado_bd.params import ip_ports, latency_counter_info
from pynq_mnist.vivado_bd.reports import ReportError, parse_timing_summary, parse_utilization
from pynq_mnist.vivado_bd.toolchain import BuildError

STANDINS = Path(__file__).parent / "standins"
UTILIZATION = {"lut": 4321, "ff": 5678, "dsp": 9, "bram36": 2.5}


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """``tools(*names, **env)``: only those stand-ins on PATH, with STANDIN_* settings."""
    calls = tmp_path / "calls.txt"

    def use(*names: str, **env: str) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        for name in names:
            (bin_dir / name).symlink_to(STANDINS / name)
        # the stand-ins need python3 and tclsh; nothing else from the host PATH
        path = [str(bin_dir), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        monkeypatch.setenv("PATH", os.pathsep.join(path))
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
        "IP_VLNV": meta.ip["vlnv"],
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


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_success_yields_a_complete_bundle(tmp_path, tools, arch):
    tools("vivado", "vitis_hls", **ip_env(arch))
    path = make_bundle(tmp_path, arch)
    hls_hash = sha256_tree(path / "hls")

    bundle = build_overlay(path, jobs=1)

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
    assert meta.build["tools"] == {"hls": "vitis_hls 2022.1", "vivado": "vivado 2022.1"}
    assert "latency_counter" not in meta.build
    assert bundle.metadata == meta
    # the bundle's own HLS sources are untouched; work folders go, logs stay
    assert sha256_tree(path / "hls") == hls_hash == meta.sha256["hls"]
    assert not (path / "build" / "vivado").exists() and not (path / "build" / "hls").exists()
    assert (path / "build" / "logs" / "vivado.log").is_file()


def test_vivado_2020_1_with_vivado_hls(tmp_path, tools):
    """The older pair: Vivado HLS (2020.1 also ships an early vitis_hls, not supported),
    and the .hwh under .srcs instead of .gen."""
    tools("vivado", "vitis_hls", "vivado_hls", VERSION="2020.1", **ip_env("mlp"))
    path = make_bundle(tmp_path, "mlp")
    meta = build_overlay(path, jobs=1).metadata
    assert meta.build["tools"] == {"hls": "vivado_hls 2020.1", "vivado": "vivado 2020.1"}
    assert Bundle(path).has("hwh")


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
    assert "Vivado HLS 2020.1" in err and "Vitis HLS 2022.1 or newer" in err
    assert "Found: none of them" in err
    assert_not_built(path)


def test_vivado_without_an_hls_tool_is_refused(tmp_path, tools):
    tools("vivado")
    with pytest.raises(BuildError, match="Found: vivado 2022.1. Load the tools"):
        build_overlay(make_bundle(tmp_path, "mlp"))


@pytest.mark.parametrize("version", ["2021.2", "2019.2"])
def test_unsupported_versions_are_refused(tmp_path, tools, version):
    tools("vivado", "vitis_hls", "vivado_hls", VERSION=version)
    with pytest.raises(
        BuildError, match=f"Found: vivado {version}, vitis_hls {version}, vivado_hls {version}"
    ):
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


# --------------------------------------------------------------------------- real Vivado

Z2_RESOURCES = {"lut": 53200, "ff": 106400, "dsp": 220, "bram36": 140}


@pytest.mark.vivado
def test_real_build_of_a_converted_bundle(tiny_bundle, tmp_path):
    """The whole flow with the real tools, on a copy of ``$PYNQ_MNIST_VIVADO_BUNDLE``.

    Without that variable it builds the session's tiny converted bundle.
    """
    source = os.environ.get("PYNQ_MNIST_VIVADO_BUNDLE")
    src = locate(source).path if source else tiny_bundle
    path = tmp_path / src.name
    shutil.copytree(src, path, ignore=shutil.ignore_patterns("build"))

    meta = build_overlay(path, jobs=os.cpu_count() or 2, force=True).metadata

    bundle = Bundle(path)
    bundle.verify_hashes()
    assert design_problems(meta, bundle.file("hwh")) == []
    assert bundle.file("bitstream").stat().st_size > 1_000_000
    assert meta.build["timing"]["wns_ns"] >= 0 and meta.build["timing"]["whs_ns"] >= 0
    for key, available in Z2_RESOURCES.items():
        assert 0 <= meta.build["utilization"][key] <= available
