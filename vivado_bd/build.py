"""``pynq-mnist build-overlay BUNDLE``: HLS, then Vivado, then the bundle updated last.

The work happens under ``BUNDLE/build/``::

    build/logs/hls.log, vivado.log   the tools' output (kept)
    build/hls/                       a copy of the bundle's hls/ where HLS runs, so the
                                     bundle's own hls/ (and its sha256) stays as converted;
                                     for Vitis HLS with hls4ml's Vitis sources laid over it
    build/hls.done.json              stamp of a finished, checked HLS run: resume point
    build/vivado/                    params.tcl, the Vivado project, out/ (staged results)

Each step checks the tool's exit status and its outputs (a tool that exits 0
with no IP, no bitstream or no ``.hwh`` is a failure; so is a ``.hwh`` whose DMA
or IP disagrees with the metadata, or negative slack), and a failure raises
:class:`~pynq_mnist.vivado_bd.toolchain.BuildError` with the log excerpt. Only
when everything passed are ``NAME.bit``, ``NAME.hwh`` and ``reports/`` moved into
the bundle and ``bundle.json`` rewritten, last, to list them with their hashes.
The tools' logs are scanned for known design-breaking warnings
(:data:`~pynq_mnist.vivado_bd.reports.KNOWN_WARNINGS`), printed at the end and
recorded in ``build["warnings"]``; ``build["hls"]`` holds the II, latency and
resources from HLS's ``csynth.xml``. ``--check`` runs every check that needs no
Xilinx tool and prints the plan (:func:`check_plan`).
A failed rebuild leaves the previous build as it was; a kill in the moment
between moving the files and rewriting ``bundle.json`` leaves hashes that no
longer match, which :meth:`Bundle.verify_hashes` (and so the board) refuses.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from pynq_mnist import limits
from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.board.design_check import design_problems
from pynq_mnist.build_figures import figure_lines
from pynq_mnist.bundle import (
    Bundle,
    BundleError,
    BundleMetadata,
    sha256_tree,
    staged_dir,
    write_metadata,
)
from pynq_mnist.host_training.conversion.wrapper import HLS_TOOL_FILE, sources_for_backend
from pynq_mnist.vivado_bd.params import (
    CELLS,
    check_target,
    design_params,
    latency_counter_info,
    write_params_tcl,
)
from pynq_mnist.vivado_bd.reports import (
    ReportError,
    design_warnings,
    parse_csynth,
    parse_timing_summary,
    parse_utilization,
    timing_failures,
)
from pynq_mnist.vivado_bd.toolchain import (
    BuildError,
    Tool,
    find_toolchain,
    log_excerpt,
    probe,
    run_logged,
    tool_matrix,
)

BUILD_TCL = Path(__file__).parent / "build_overlay.tcl"
HLS_SCRIPT = "build_hls.tcl"
REPORTS_DIR = "reports"


@dataclasses.dataclass(frozen=True)
class WorkDirs:
    """The folders of one bundle's build (and the stamp of a finished HLS run)."""

    root: Path
    logs: Path
    hls: Path
    hls_stamp: Path
    ip_repo: Path
    csynth: Path
    vivado: Path
    out: Path

    @classmethod
    def under(cls, root: Path) -> WorkDirs:
        """The layout below ``root``: ``logs/``, ``hls/`` and ``vivado/``."""
        hls, vivado = root / "hls", root / "vivado"
        return cls(
            root,
            logs=root / "logs",
            hls=hls,
            hls_stamp=root / "hls.done.json",
            ip_repo=hls / "ip_repo",
            csynth=hls / "reports" / "csynth.xml",
            vivado=vivado,
            out=vivado / "out",
        )


def _say(msg: str) -> None:
    print(f"[build-overlay] {msg}", flush=True)


# --------------------------------------------------------------------------- HLS


def _component_vlnv(component_xml: Path) -> str:
    """``vendor:library:name:version`` of an IP-XACT ``component.xml``."""
    root = ET.parse(component_xml).getroot()
    parts = {}
    for child in root:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in ("vendor", "library", "name", "version") and tag not in parts:
            parts[tag] = (child.text or "").strip()
    return ":".join(parts.get(k, "?") for k in ("vendor", "library", "name", "version"))


def _hls_stamp(bundle: Bundle, hls: Tool) -> dict:
    return {"source_sha256": sha256_tree(bundle.file("hls")), "tool": str(hls)}


def run_hls(bundle: Bundle, hls: Tool, work: WorkDirs, timeout_s: float) -> None:
    """Run HLS on a copy of the bundle's ``hls/`` unless a checked run of it already exists."""
    stamp = _hls_stamp(bundle, hls)
    done = work.hls_stamp.is_file() and json.loads(work.hls_stamp.read_text()) == stamp
    if done and (work.ip_repo / "component.xml").is_file():
        _say(f"HLS: already done for these sources ({work.hls_stamp}); resuming at Vivado")
        return
    work.hls_stamp.unlink(missing_ok=True)
    shutil.rmtree(work.hls, ignore_errors=True)
    try:
        sources_for_backend(bundle.file("hls"), hls.shape.backend, work.hls)
    except FileNotFoundError as e:
        raise BuildError(str(e)) from None
    if not (work.hls / HLS_SCRIPT).is_file():
        raise BuildError(f"{bundle.file('hls')} has no {HLS_SCRIPT}: convert the model again")
    (work.hls / HLS_TOOL_FILE).write_text(
        f"# written by pynq-mnist build-overlay for {hls}\nset hls_backend {hls.shape.backend}\n"
    )
    log = work.logs / "hls.log"
    cmd = hls.shape.command(hls.path, HLS_SCRIPT)
    _say(
        f"HLS: {hls} ({' '.join([hls.name, *cmd[1:]])}) on hls4ml {hls.shape.backend}-backend "
        f"sources in {work.hls} (log: {log})"
    )
    rc = run_logged(
        cmd,
        cwd=work.hls,
        log=log,
        timeout_s=timeout_s,
        echo=lambda line: line.startswith(("ERROR", "pynq-mnist:")),
    )
    errors = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("ERROR")]
    logged = f" (and logged {len(errors)} errors)" if errors else ""
    problem = None
    if rc != 0:
        problem = f"{hls.name} exited with status {rc}"
    elif not (work.ip_repo / "component.xml").is_file():
        problem = f"{hls.name} exited 0 but exported no IP{logged} ({work.ip_repo}/component.xml)"
    elif not work.csynth.is_file():
        problem = f"{hls.name} exited 0 but wrote no synthesis report{logged} ({work.csynth})"
    if problem:
        raise BuildError(f"HLS failed: {problem}. Log: {log}\n{log_excerpt([log])}")
    if errors:
        # A script may catch a tool error on purpose (an option one HLS version lacks).
        _say(f"HLS exported the IP but logged {len(errors)} errors (see {log}):")
        for line in errors[:5]:
            print(f"  {line}", flush=True)
    vlnv = _component_vlnv(work.ip_repo / "component.xml")
    if vlnv != bundle.metadata.ip["vlnv"]:
        raise BuildError(
            f"HLS exported IP {vlnv} but bundle.json names {bundle.metadata.ip['vlnv']}: "
            "the HLS project and the metadata disagree; convert the model again"
        )
    write_text_atomic(work.hls_stamp, json.dumps(stamp, indent=2) + "\n")  # the "HLS done" mark
    _say(f"HLS: done, IP {vlnv} in {work.ip_repo}")


# --------------------------------------------------------------------------- Vivado


def run_vivado(
    bundle: Bundle,
    vivado: Tool,
    work: WorkDirs,
    jobs: int,
    timeout_s: float,
    latency_counter: bool,
) -> None:
    """Build the block design and bitstream; the results land in ``work.out``."""
    shutil.rmtree(work.vivado, ignore_errors=True)
    work.vivado.mkdir(parents=True)
    ip_repo = bundle.file("rtl") if bundle.metadata.backend == "rtl" else work.ip_repo
    params = design_params(bundle.metadata, ip_repo, work.out, jobs, latency_counter)
    params_file = write_params_tcl(params, work.vivado / "params.tcl")
    log = work.logs / "vivado.log"
    _say(f"Vivado: {vivado} batch build in {work.vivado} (log: {log})")
    rc = run_logged(
        [vivado.path, "-mode", "batch", "-nojournal", "-nolog", "-notrace",
         "-source", str(BUILD_TCL), "-tclargs", str(params_file)],
        cwd=work.vivado,
        log=log,
        timeout_s=timeout_s,
        echo=lambda line: line.startswith(("pynq-mnist:", "ERROR")),
    )  # fmt: skip
    if rc != 0:
        run_logs = sorted(work.vivado.glob("project/*.runs/*/runme.log"))
        raise BuildError(
            f"Vivado failed: exit status {rc}. Log: {log}\n" + log_excerpt([log, *run_logs])
        )


def hls_results(hls: Tool, work: WorkDirs) -> dict:
    """``build["hls"]``: the tool, the sources' backend, and the numbers of ``csynth.xml``."""
    try:
        figures = parse_csynth(work.csynth.read_text())
    except ReportError as e:
        raise BuildError(f"cannot read HLS's report {work.csynth}: {e}") from None
    return {"tool": str(hls), "backend": hls.shape.backend, **figures}


def check_vivado_outputs(meta: BundleMetadata, work: WorkDirs, latency_counter: bool) -> dict:
    """The ``build`` facts from ``work.out``, or a :class:`BuildError` if anything is off."""
    log = work.logs / "vivado.log"
    out = work.out
    expected = {
        "bitstream": out / f"{meta.name}.bit",
        "hwh": out / f"{meta.name}.hwh",
        "utilization report": out / "utilization.rpt",
        "timing report": out / "timing_summary.rpt",
    }
    missing = [
        f"{what} ({p.name})"
        for what, p in expected.items()
        if not p.is_file() or not p.stat().st_size
    ]
    if missing:
        raise BuildError(
            f"Vivado exited 0 but left no {', '.join(missing)} in {out}: the build did not "
            f"finish. Log: {log}\n{log_excerpt([log])}"
        )
    mismatches = design_problems(meta, expected["hwh"])
    modules = {m.get("INSTANCE"): m for m in ET.parse(expected["hwh"]).getroot().iter("MODULE")}
    if latency_counter and CELLS["timer_cell"] not in modules:
        mismatches.append(f"no latency counter {CELLS['timer_cell']}")
    if mismatches:
        raise BuildError(
            f"the built design disagrees with bundle.json: {'; '.join(mismatches)}. Log: {log}"
        )
    try:
        utilization = parse_utilization(expected["utilization report"].read_text())
        timing = parse_timing_summary(expected["timing report"].read_text())
    except ReportError as e:
        raise BuildError(f"cannot read Vivado's reports in {out}: {e}") from None
    problems = timing_failures(timing)
    if problems:
        raise BuildError(
            f"timing failed at {meta.ip['clock_mhz']} MHz: {'; '.join(problems)}. The "
            f"bitstream was not installed. Report: {expected['timing report']}. Lower "
            "ip.clock_mhz (convert again) or simplify the model."
        )
    build = {"utilization": utilization, "timing": timing, "clock_mhz": meta.ip["clock_mhz"]}
    # The PS makes FCLK0 by dividing a PLL: the clock it really runs may differ.
    ps = modules.get(CELLS["ps_cell"])
    actual = (
        None
        if ps is None
        else ps.find("PARAMETERS/PARAMETER[@NAME='PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ']")
    )
    if actual is not None:
        build["fclk0_mhz_actual"] = float(actual.get("VALUE"))
    if latency_counter:
        build["latency_counter"] = latency_counter_info()
    return build


# --------------------------------------------------------------------------- bundle


def _install_file(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def install(bundle: Bundle, work: WorkDirs, build: dict) -> None:
    """Move the checked results into the bundle, then rewrite ``bundle.json`` last."""
    meta = bundle.metadata
    names = {"bitstream": f"{meta.name}.bit", "hwh": f"{meta.name}.hwh"}
    with staged_dir(bundle.path / REPORTS_DIR) as reports:
        shutil.copyfile(work.out / "utilization.rpt", reports / "vivado_utilization.rpt")
        shutil.copyfile(work.out / "timing_summary.rpt", reports / "vivado_timing_summary.rpt")
        if work.csynth.is_file():  # an RTL IP has no HLS report
            shutil.copyfile(work.csynth, reports / "hls_csynth.xml")
    for name in names.values():
        _install_file(work.out / name, bundle.path / name)
    files = {**meta.files, **names, "reports": REPORTS_DIR}
    sha = dict(meta.sha256)
    for rel in (*names.values(), REPORTS_DIR):
        sha[rel] = sha256_tree(bundle.path / rel)
    new = dataclasses.replace(meta, files=files, sha256=sha, build=build)
    write_metadata(bundle.path, new)
    bundle.metadata = new


def is_built(bundle: Bundle, latency_counter: bool = False) -> bool:
    """Whether the bundle lists a bitstream and ``.hwh`` that are there and match their
    hashes, built with (or without) the latency counter as asked."""
    build = bundle.metadata.build
    if not (bundle.has("bitstream") and bundle.has("hwh") and build):
        return False
    if ("latency_counter" in build) != latency_counter:
        return False
    try:
        bundle.verify_hashes()
    except BundleError:
        return False
    return True


def build_overlay(
    bundle_dir: str | os.PathLike,
    *,
    jobs: int = 2,
    timeout_min: float = 240,
    force: bool = False,
    keep_work: bool = False,
    latency_counter: bool = False,
) -> Bundle:
    """Build ``NAME.bit`` and ``NAME.hwh`` for a bundle and record them in ``bundle.json``.

    Parameters
    ----------
    bundle_dir : path
        The bundle folder (the output of ``pynq-mnist convert``).
    jobs : int
        Parallel Vivado jobs.
    timeout_min : float
        The limit for each tool run, in minutes.
    force : bool
        Rebuild from HLS on, even if the bundle is built or an HLS run can be resumed.
    keep_work : bool
        Keep the HLS and Vivado projects under ``build/`` after a success (logs are always kept).
    latency_counter : bool
        Add the in-fabric latency counter (``stream_timer.v``) on the IP's streams;
        its address and registers go into ``build["latency_counter"]``.

    Returns
    -------
    Bundle
        The bundle, its metadata listing the bitstream, ``.hwh``, reports and build facts.
    """
    from pynq_mnist.overlays import locate

    bundle = locate(bundle_dir)
    if is_built(bundle, latency_counter) and not force:
        _say(
            f"{bundle.path} is already built ({bundle.metadata.files['bitstream']}); --force rebuilds"
        )
        return bundle
    check_target(bundle.metadata)  # refuse before any tool runs
    if bundle.path.resolve().name != bundle.metadata.name:
        _say(
            f"note: the folder is {bundle.path.name!r} but the overlay is "
            f"{bundle.metadata.name!r}; pynq.Overlay finds NAME.bit by name only in a folder NAME"
        )
    hls, vivado = _tools(bundle.metadata)
    _say(f"tools: {hls or 'no HLS (an RTL IP)'}, {vivado}")
    work = WorkDirs.under(bundle.path.resolve() / "build")
    work.logs.mkdir(parents=True, exist_ok=True)
    with _only_build(work):
        if force:
            work.hls_stamp.unlink(missing_ok=True)
        _build(bundle, hls, vivado, work, jobs, timeout_min * 60, keep_work, latency_counter)
    return bundle


@contextlib.contextmanager
def _only_build(work: WorkDirs) -> Iterator[None]:
    """Refuse a second build of the same bundle while one runs (the lock dies with its process)."""
    with open(work.root / "lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build-overlay is running on {work.root.parent}") from None
        yield


def _tools(meta: BundleMetadata) -> tuple[Tool | None, Tool]:
    """``(hls, vivado)``; an RTL bundle's Verilog goes into Vivado as it is: no HLS tool."""
    if meta.backend != "rtl":
        return find_toolchain()
    vivado = probe("vivado")
    if vivado is None:
        raise BuildError("build-overlay needs Vivado on PATH (an RTL bundle needs no HLS tool)")
    return None, vivado


def _build(
    bundle: Bundle,
    hls: Tool | None,
    vivado: Tool,
    work: WorkDirs,
    jobs: int,
    timeout_s: float,
    keep_work: bool,
    latency_counter: bool,
) -> None:
    """HLS, Vivado, checks, install: the steps of :func:`build_overlay`."""
    start = time.monotonic()
    started = time.time()
    hls_figures = None
    try:
        if hls is not None:  # an RTL IP's Verilog goes into Vivado as it is
            run_hls(bundle, hls, work, timeout_s)
            hls_figures = hls_results(hls, work)
        run_vivado(bundle, vivado, work, jobs, timeout_s, latency_counter)
        build = check_vivado_outputs(bundle.metadata, work, latency_counter)
    finally:  # a failed build's warnings often say why
        warnings = scan_logs(work, since=started)
        print_warnings(warnings)
    if hls_figures is not None:
        build["hls"] = hls_figures
    build["warnings"] = warnings
    build["tools"] = {"hls": str(hls) if hls else None, "vivado": str(vivado)}
    build["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    install(bundle, work, build)
    if not keep_work:
        for path in (work.hls, work.vivado):
            shutil.rmtree(path, ignore_errors=True)
        work.hls_stamp.unlink(missing_ok=True)
    u, t = build["utilization"], build["timing"]
    _say(
        f"done in {(time.monotonic() - start) / 60:.1f} min: {bundle.path}/{bundle.metadata.files['bitstream']} "
        f"(LUT {u['lut']}, FF {u['ff']}, DSP {u['dsp']}, BRAM36 {u['bram36']}, WNS {t['wns_ns']} ns)"
    )
    _say("the cycle model beside HLS's and Vivado's figures:")
    for line in figure_lines(bundle.metadata):
        print(line, flush=True)


# --------------------------------------------------------------------------- warnings


def scan_logs(work: WorkDirs, since: float = 0.0) -> list[dict]:
    """Known design-breaking warnings in the HLS and Vivado logs (and Vivado's run logs)
    written since ``since`` (a resumed build's HLS log counts: its IP is the one used)."""
    logs = [work.logs / "hls.log", work.logs / "vivado.log"]
    logs += sorted(work.vivado.glob("project/*.runs/*/runme.log"))
    found = []
    for log in logs:
        if log.is_file() and (log.name == "hls.log" or log.stat().st_mtime >= since):
            for warning in design_warnings(log.read_text(errors="replace")):
                found.append({"log": str(log.relative_to(work.root)), **warning})
    return found


def print_warnings(warnings: list[dict]) -> None:
    if not warnings:
        _say("no known design-breaking warnings in the logs")
        return
    _say(f"{len(warnings)} kinds of known design-breaking warnings in the logs:")
    for w in warnings:
        print(f"  {w['log']}: {w['count']} x {w['meaning']}", flush=True)
        for line in w["lines"][:3]:
            print(f"      {line[:160]}", flush=True)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"supported tools (one pair on PATH):\n{tool_matrix()}"
    parser.add_argument("bundle", help="bundle folder, or a bundle name the overlay locator finds")
    parser.add_argument("--check", action="store_true",
                        help="run every check that needs no Xilinx tool and print the plan "
                             "(tools, versions, part, outputs, known risks); build nothing")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="parallel Vivado jobs (default: up to 4)")  # fmt: skip
    parser.add_argument("--timeout-min", type=float, default=240,
                        help="limit for each tool run in minutes (default 240)")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="rebuild from HLS on, even if built or resumable")  # fmt: skip
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the HLS and Vivado projects under BUNDLE/build/")  # fmt: skip
    parser.add_argument("--latency-counter", action="store_true",
                        help="add the in-fabric latency counter between the DMA and the IP "
                             "(registers recorded in bundle.json build.latency_counter)")  # fmt: skip


#: Bounds of --jobs and --timeout-min (a day: HLS and Vivado on this design take an hour
#: or two on a workstation; a NaN or infinite timeout would never stop a hung tool).
MAX_JOBS, MAX_TIMEOUT_MIN = 64, 24 * 60


def run(args: argparse.Namespace) -> int:
    """A bad bundle or option is refused (exit 2), a failed tool is a failure (exit 1):
    both mapped by ``cli.py`` from :mod:`pynq_mnist.errors`."""
    if args.check:
        from pynq_mnist.vivado_bd.plan import check_plan

        plan = check_plan(args.bundle)
        print(plan.format())
        return 1 if plan.failed else 0
    limits.count(args.jobs, "--jobs", high=MAX_JOBS)
    limits.seconds(args.timeout_min, "--timeout-min", high=MAX_TIMEOUT_MIN)
    build_overlay(
        args.bundle,
        jobs=args.jobs,
        timeout_min=args.timeout_min,
        force=args.force,
        keep_work=args.keep_work,
        latency_counter=args.latency_counter,
    )
    return 0
