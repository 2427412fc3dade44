"""Finding Vivado and its HLS tool, and running them with a log, a deadline and progress.

The supported tools are :data:`HLS_SHAPES`, the one place that lists them
(``pynq-mnist build-overlay --help`` prints :func:`tool_matrix`). The IP that an
HLS version exports is read by the Vivado of the same version.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pynq_mnist.errors import Failed

_VERSION = re.compile(r"\bv(\d{4}\.\d)\b")


class BuildError(Failed, RuntimeError):
    """A build step failed; the message says which, why, and where the log is."""


def _version_tuple(version: str) -> tuple[int, int]:
    year, release = version.split(".")
    return int(year), int(release)


@dataclass(frozen=True)
class HlsShape:
    """One supported HLS tool: its program, the versions it covers, how it is called."""

    program: str
    label: str
    first: str
    last: str | None  # None: and every later version
    version_args: tuple[str, ...]
    script_args: tuple[str, ...]  # come before the Tcl script's path
    #: hls4ml backend whose sources this tool synthesises (see wrapper.VITIS_OVERLAY).
    backend: str
    needs_y2k22_patch: bool = False

    def covers(self, version: str) -> bool:
        v = _version_tuple(version)
        return _version_tuple(self.first) <= v and (
            self.last is None or v <= _version_tuple(self.last)
        )

    def versions(self) -> str:
        if self.last is None:
            return f"{self.first} and newer"
        return self.first if self.first == self.last else f"{self.first} to {self.last}"

    def command(self, path: str, script: str) -> list[str]:
        return [path, *self.script_args, script]


# UG1399 (2020.2 on) documents `vitis_hls -f`; Vivado HLS 2020.1 takes the same
# `-f`. From 2024.2 vitis_hls is deprecated: UG1702 (2024.2, 2025.1) documents
# `vitis-run --mode hls --tcl SCRIPT` running the same Tcl commands (UG1399's
# command reference). `v++ -c --mode hls` takes a config file, not Tcl, so it is
# not used. Vitis HLS 2020.2-2021.2 are left out: the Y2K22 export bug hit them
# as well, and hls4ml lists 2022.2-2024.1 as the Vitis versions it tests.
# vitis-run ends at 2025.1, the last release whose UG1702 we have read documenting
# `--mode hls --tcl`; releases after it change the tools (a 2026 release is
# reported to remove util_vector_logic, for one) and are refused until tried.
HLS_SHAPES = (
    HlsShape("vivado_hls", "Vivado HLS", "2020.1", "2020.1", ("-version",), ("-f",),
             "Vivado", needs_y2k22_patch=True),
    HlsShape("vitis_hls", "Vitis HLS", "2022.1", "2024.1", ("-version",), ("-f",), "Vitis"),
    HlsShape("vitis-run", "Vitis HLS (vitis-run)", "2024.2", "2025.1", ("--version",),
             ("--mode", "hls", "--tcl"), "Vitis"),
)  # fmt: skip

# Xilinx's Y2K22 patch (AR 76960, y2k22_patch-1.2.zip): its patch.py copies this
# file next to `common/scripts/automg.tcl` of every 2014.x-2021.x install under
# the install root, and nothing else; the patched automg.tcl sources it. PYNQ's
# own HLS IP build script tests for the same file under $XILINX_HLS.
Y2K22_PATCH_FILE = Path("common") / "scripts" / "automg_patch_20220104.tcl"
AR_76960 = "https://support.xilinx.com/s/article/76960"


def tool_matrix() -> str:
    """The supported tools, one line each (for ``--help``, refusals and the plan)."""
    lines = []
    for shape in HLS_SHAPES:
        call = " ".join((shape.program, *shape.script_args, "SCRIPT"))
        patch = ", with the Y2K22 patch of AR 76960" if shape.needs_y2k22_patch else ""
        lines.append(
            f"  {shape.label} {shape.versions()}{patch} (`{call}`, hls4ml {shape.backend} "
            f"sources) + Vivado of the same version"
        )
    lines.append(
        "  Vivado 2024.1 (the version PYNQ 3.1 builds its overlays with) pairs with Vitis HLS 2024.1"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Tool:
    """One tool found on PATH (``shape`` is set for an HLS tool)."""

    name: str
    path: str
    version: str  # "2022.1"
    shape: HlsShape | None = None

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def probe(name: str, args: tuple[str, ...] = ("-version",), timeout_s: float = 120) -> Tool | None:
    """The tool ``name`` on PATH with its version, or ``None`` when it is not there."""
    path = shutil.which(name)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, *args], capture_output=True, text=True, timeout=timeout_s
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"{path} {' '.join(args)} did not answer ({e})") from None
    m = _VERSION.search(out)
    if not m:
        raise BuildError(f"cannot read the version of {path} from:\n{out.strip()[:500]}")
    return Tool(name, path, m.group(1))


def _install_roots(tool_path: str) -> list[Path]:
    """Folders that may hold the tool's ``common/scripts`` (install, $XILINX_PATH overlays)."""
    path = Path(tool_path)
    roots = [path.parent.parent, path.resolve().parent.parent]
    roots += [Path(os.environ[v]) for v in ("XILINX_VIVADO", "XILINX_HLS") if os.environ.get(v)]
    # XILINX_PATH: patch areas laid out like the install (Xilinx AR 66722).
    roots += [Path(p) for p in os.environ.get("XILINX_PATH", "").split(os.pathsep) if p]
    return list(dict.fromkeys(roots))


def y2k22_patched(tool_path: str) -> tuple[bool, list[Path]]:
    """Whether the install of ``tool_path`` carries the AR 76960 patch; the files looked for."""
    looked = [root / Y2K22_PATCH_FILE for root in _install_roots(tool_path)]
    return any(p.is_file() for p in looked), looked


def _refuse_unpatched(hls: Tool, looked: list[Path]) -> BuildError:
    return BuildError(
        f"{hls} ({hls.path}) lacks Xilinx's Y2K22 patch: since 1 January 2022 its "
        "export_design fails after synthesis (run_ippack.tcl: 'bad lexical cast' on "
        "core_revision, then [IMPL 213-28] Failed to generate IP), so no IP would come out. "
        f"Apply the patch of AR 76960 ({AR_76960}): unzip y2k22_patch into the Xilinx install "
        "root and run `python y2k22_patch/patch.py` there; it adds "
        f"{Y2K22_PATCH_FILE} (looked for: {', '.join(map(str, looked))}). "
        f"Or use another supported version:\n{tool_matrix()}"
    )


def find_hls_tools() -> tuple[Tool | None, list[Tool], list[str]]:
    """``(vivado, hls_tools, problems)``: what is on PATH, supported or not.

    An HLS program whose version cannot be read is a problem, not an error: another
    release's program on PATH (``vitis-run`` of an unrelated Vitis install, say) must
    not stop a supported pair from being found.
    """
    vivado = probe("vivado")
    found, problems = [], []
    for shape in HLS_SHAPES:
        try:
            tool = probe(shape.program, shape.version_args)
        except BuildError as e:
            problems.append(str(e))
            continue
        if tool is not None:
            found.append(Tool(tool.name, tool.path, tool.version, shape))
    return vivado, found, problems


def find_toolchain() -> tuple[Tool, Tool]:
    """``(hls, vivado)``: a supported pair on PATH, or a :class:`BuildError` saying why not.

    An unpatched Vivado HLS 2020.1 is refused here, before any tool does work.
    """
    vivado, found, problems = find_hls_tools()
    if vivado is not None:
        for hls in found:
            if hls.shape.covers(hls.version) and hls.version == vivado.version:
                if hls.shape.needs_y2k22_patch:
                    patched, looked = y2k22_patched(hls.path)
                    if not patched:
                        raise _refuse_unpatched(hls, looked)
                return hls, vivado
    seen = ", ".join(str(t) for t in [vivado, *found] if t is not None) or "none of them"
    unreadable = "".join(f"\n  ({p})" for p in problems)
    raise BuildError(
        f"build-overlay needs Vivado and its HLS tool on PATH; supported:\n{tool_matrix()}\n"
        f"Found: {seen}.{unreadable} Load the tools first, e.g. "
        "`source /tools/Xilinx/Vivado/2024.1/settings64.sh`."
    )


def log_excerpt(logs: Iterable[Path], tail: int = 25, max_errors: int = 15) -> str:
    """The ERROR / CRITICAL WARNING lines of ``logs`` and the last lines of the first."""
    parts = []
    for i, log in enumerate(logs):
        if not log.is_file():
            continue
        lines = log.read_text(errors="replace").splitlines()
        errors = [ln for ln in lines if ln.lstrip().startswith(("ERROR", "CRITICAL WARNING"))]
        if errors:
            parts.append(f"--- errors in {log}:\n" + "\n".join(errors[:max_errors]))
        if i == 0:
            parts.append(
                f"--- last {min(tail, len(lines))} lines of {log}:\n" + "\n".join(lines[-tail:])
            )
    return "\n".join(parts)


def run_logged(
    cmd: list[str],
    cwd: Path,
    log: Path,
    timeout_s: float,
    echo: Callable[[str], bool],
    heartbeat_s: float = 60,
) -> int:
    """Run ``cmd`` with its output in ``log``; return its exit status.

    A log already at ``log`` is kept as ``*.prev.log``.

    Lines for which ``echo(line)`` is true are printed as they come; otherwise a
    heartbeat every ``heartbeat_s`` says the tool is still working. Past
    ``timeout_s`` (or on Ctrl-C) the whole process group is killed.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():  # the previous run's log (often the failure being retried) stays
        os.replace(log, log.with_suffix(".prev.log"))
    with open(log, "w") as out:
        out.write(f"$ {' '.join(cmd)}\n# in {cwd}\n")
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        last = [""]

        def pump() -> None:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                last[0] = line.rstrip()
                if echo(line):
                    print(f"  {line.rstrip()}", flush=True)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        start = time.monotonic()
        try:
            while True:
                remaining = timeout_s - (time.monotonic() - start)
                try:
                    proc.wait(timeout=max(0.1, min(heartbeat_s, remaining)))
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - start
                    if elapsed >= timeout_s:
                        _kill(proc)
                        reader.join(5)
                        raise BuildError(
                            f"{Path(cmd[0]).name} ran past its {timeout_s / 60:.0f} min limit "
                            f"and was stopped (raise --timeout-min); log: {log}\n"
                            + log_excerpt([log])
                        ) from None
                    print(f"  ... {elapsed / 60:.0f} min, last: {last[0][:100]}", flush=True)
        except KeyboardInterrupt:
            _kill(proc)
            raise
        reader.join(5)
    return proc.returncode


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
