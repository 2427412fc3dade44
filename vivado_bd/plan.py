"""``pynq-mnist build-overlay --check BUNDLE``: what a build would do, before it is run.

Every check here needs no Xilinx tool: the bundle's metadata, hashes and HLS
sources, the block design's parameters, the Tcl scripts' syntax (when a
``tclsh`` is at hand), and which tools are on PATH. The plan printed names the
tools and versions found, the part, the command lines, the expected outputs
and the known risks of this design with those tools.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pynq_mnist.bundle import Bundle, BundleError, BundleMetadata
from pynq_mnist.host_training.conversion.wrapper import VITIS_OVERLAY
from pynq_mnist.vivado_bd.params import check_target, design_params, write_params_tcl
from pynq_mnist.vivado_bd.toolchain import (
    BuildError,
    Tool,
    find_hls_tools,
    find_toolchain,
    probe,
    tool_matrix,
)

BD_DIR = Path(__file__).parent
#: The Vitis HLS versions hls4ml is reported to test (this project's issue 11).
HLS4ML_TESTED_VITIS = ("2022.2", "2024.1")


@dataclass
class Plan:
    """Checks passed and failed, and what the build would do."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    toolchain: tuple[Tool, Tool] | None = None

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        (self.passed if ok else self.failed).append(what if ok else f"{what}: {why}")
        return ok

    def format(self) -> str:
        lines = ["checks (no Xilinx tool needed):"]
        lines += [f"  ok    {c}" for c in self.passed] + [f"  FAIL  {c}" for c in self.failed]
        lines += ["plan:"] + [f"  {p}" for p in self.plan]
        lines += ["known risks:"] + [f"  - {r}" for r in self.risks]
        ready = not self.failed and self.toolchain is not None
        lines.append(
            "ready to build: "
            + ("yes" if ready else "no (" + ("failed checks" if self.failed else "no tools") + ")")
        )
        return "\n".join(lines)


def _tcl_complete(paths: list[Path]) -> list[str]:
    """The scripts among ``paths`` that tclsh finds incomplete (unbalanced braces, quotes)."""
    script = "".join(
        f"if {{![info complete [read [open {{{p}}}]]]}} {{puts {{{p}}}}}\n" for p in paths
    )
    out = subprocess.run(
        [shutil.which("tclsh")], input=script, capture_output=True, text=True, timeout=60
    )
    if out.returncode:
        return [f"tclsh failed: {out.stderr.strip()[:200]}"]
    return out.stdout.split()


def checked_backends(meta) -> list[str]:
    """The hls4ml backends whose sources conversion checked bit-exact (older bundles: Vivado)."""
    acc = meta.accuracy
    return acc.get("bit_exact_backends", ["Vivado"] if acc.get("csim_bit_exact") else [])


def _bundle_checks(p: Plan, bundle: Bundle) -> None:
    meta = bundle.metadata
    try:
        bundle.verify_hashes()
        p.check(True, "every bundle file matches its sha256 in bundle.json")
    except BundleError as e:
        p.check(False, "bundle hashes", str(e))
    try:
        check_target(meta)
        p.check(True, f"part {meta.ip['part']} and name {meta.name!r} suit the PYNQ-Z2 design")
    except BundleError as e:
        p.check(False, "target", str(e))
    if meta.backend == "rtl":
        _rtl_checks(p, bundle)
    else:
        _hls_checks(p, bundle)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            write_params_tcl(design_params(meta, tmp, tmp, 1), Path(tmp) / "params.tcl")
            p.check(True, "block design parameters derive from bundle.json")
        except (BundleError, KeyError, ValueError) as e:
            p.check(False, "block design parameters", str(e))
    scripts = sorted(BD_DIR.glob("*.tcl"))
    if meta.backend != "rtl":
        scripts.insert(0, bundle.file("hls") / "build_hls.tcl")
    if shutil.which("tclsh") is None:
        p.plan.append("(no tclsh on PATH: the Tcl scripts' syntax was not checked)")
    else:
        scripts = [s for s in scripts if s.is_file()]
        bad = _tcl_complete(scripts)
        p.check(not bad, f"{len(scripts)} Tcl scripts are complete (tclsh)", ", ".join(bad))


def _bit_exact_check(p: Plan, meta: BundleMetadata, key: str, claim: str, detail: str = "") -> None:
    """The conversion's bit-exact verdict ``accuracy[key]``, as recorded in the bundle."""
    frames = meta.accuracy.get("frames")
    p.check(bool(meta.accuracy.get(key)), f"{claim} at conversion ({detail}{frames} frames)",
            "not recorded")  # fmt: skip


def _rtl_checks(p: Plan, bundle: Bundle) -> None:
    """An rtl bundle: its Verilog is there and was bit-exact in Verilator at conversion."""
    meta = bundle.metadata
    rtl = bundle.file("rtl")
    top = rtl / f"{meta.ip['top']}.v"
    p.check(top.is_file(), f"RTL top {top.relative_to(bundle.path)} is there", "missing")
    p.check(
        any((rtl / "net").glob("*.v")), "the network's Verilog (rtl/net/*.v) is there", "missing"
    )
    _bit_exact_check(p, meta, "reference_bit_exact",
                     "the Verilog was bit-exact with the numpy reference in Verilator")  # fmt: skip


def _hls_checks(p: Plan, bundle: Bundle) -> None:
    """An hls bundle: hls4ml's sources for both HLS tools, bit-exact at conversion."""
    meta = bundle.metadata
    hls = bundle.file("hls")
    top = hls / f"{meta.ip['top']}.cpp"
    for path in (hls / "build_hls.tcl", top, hls / "firmware"):
        p.check(path.exists(), f"HLS source {path.relative_to(bundle.path)} is there", "missing")
    p.check(
        (hls / VITIS_OVERLAY).is_dir(),
        f"hls4ml's Vitis-backend sources ({VITIS_OVERLAY}/) are there for Vitis HLS",
        "missing: convert again (only Vivado HLS 2020.1 could build this bundle)",
    )
    sources = f"{', '.join(checked_backends(meta))} sources, "
    _bit_exact_check(p, meta, "csim_bit_exact",
                     "the IP's C++ was bit-exact with hls4ml's C simulation", sources)  # fmt: skip


def _tool_plan(p: Plan) -> None:
    try:
        vivado, found, problems = find_hls_tools()
    except BuildError as e:
        p.plan.append(f"tools: {e}")
        return
    seen = ", ".join(f"{t} ({t.path})" for t in [vivado, *found] if t is not None)
    p.plan.append(f"tools on PATH: {seen or 'none'}")
    p.plan += [f"(unreadable: {problem})" for problem in problems]
    try:
        p.toolchain = find_toolchain()
    except BuildError as e:  # the matrix is printed below once
        p.plan.append(f"the build would stop here: {str(e).split('; supported:')[0]}")
        return
    hls, vivado = p.toolchain
    p.plan.append(f"HLS: {' '.join(hls.shape.command(hls.name, 'build_hls.tcl'))} "
                  f"on hls4ml {hls.shape.backend}-backend sources")  # fmt: skip
    p.plan.append(f"Vivado: {vivado} -mode batch -source build_overlay.tcl")
    lo, hi = HLS4ML_TESTED_VITIS
    version = tuple(map(int, hls.version.split(".")))
    tested = tuple(map(int, lo.split("."))) <= version <= tuple(map(int, hi.split(".")))
    if hls.shape.backend == "Vitis" and not tested:
        p.risks.append(
            f"{hls} is outside the Vitis HLS versions hls4ml is reported to test ({lo} to {hi}): "
            "expect "
            "other IIs than the model, or synthesis errors in hls4ml's headers"
        )
    if hls.shape.program == "vitis-run":
        p.risks.append(
            "the vitis-run shape follows UG1702 (2024.2 on) but has not met the real tool here"
        )


def check_plan(bundle_dir: str | Path) -> Plan:
    """All tool-free checks of ``bundle_dir`` and the build plan (see the module doc)."""
    from pynq_mnist.overlays import locate

    p = Plan()
    bundle = locate(bundle_dir)
    meta = bundle.metadata
    p.check(True, f"bundle.json of {meta.name!r} loads ({bundle.path})")
    _bundle_checks(p, bundle)
    ip = meta.ip
    p.plan.append(
        f"part {ip['part']}, IP {ip['vlnv']} at {ip['clock_mhz']:g} MHz, "
        f"{meta.input.stream_width_bits}-bit in / {meta.output.stream_width_bits}-bit out, "
        f"modelled frame interval {ip['target_ii_cycles']} cycles ({ip.get('target_ii_basis', 'model')})"
    )
    if meta.backend == "rtl":
        vivado = probe("vivado")
        p.plan.append(f"tools on PATH: {vivado or 'no vivado'} (an RTL IP needs no HLS tool)")
        p.plan.append(
            "Vivado: vivado -mode batch -source build_overlay.tcl, the Verilog as a module reference"
        )
    else:
        _tool_plan(p)
    if p.toolchain is not None:
        backend = p.toolchain[0].shape.backend
        p.check(
            backend in checked_backends(meta),
            f"the sources {p.toolchain[0]} synthesises ({backend}) were checked bit-exact",
            "they were not: convert the model again with this version of pynq-mnist",
        )
    p.plan.append(
        f"outputs: {bundle.path}/{meta.name}.bit, {meta.name}.hwh, reports/ ("
        f"{'' if meta.backend == 'rtl' else 'hls_csynth.xml, '}vivado_utilization.rpt, vivado_timing_summary.rpt); logs in {bundle.path}/build/logs/"
    )
    p.plan.append("supported tools:\n" + tool_matrix())
    io_type = ip.get("hls4ml", {}).get("io_type")
    p.risks.append(
        "no line of the HLS or Vivado scripts has run in a real Xilinx tool in this project's "
        "tests (stand-ins mimic their command lines and output layout only)"
    )
    if io_type == "io_parallel":
        p.risks.append(
            "io_parallel (MLP): the fit on the xc7z020 is unmeasured; the input array is one "
            "register (8 bits x pixels) read through multiplexers, and the LUT-based "
            "multipliers are the larger unknown (docs/build-bitstream.md: 'Risk: does the MLP "
            "fit the xc7z020?')"
        )
    p.risks.append(
        "without the PYNQ-Z2 board files the PS comes from the shipped configuration "
        "(pynq_z2_ps7.tcl, PYNQ's pynqz2.tcl values)"
    )
    return p
