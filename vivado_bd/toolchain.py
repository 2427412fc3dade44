"""Finding Vivado and its HLS tool, and running them with a log, a deadline and progress.

Supported pairs (the IP that an HLS version exports is read by the Vivado of the
same version):

- Vivado 2020.1 with Vivado HLS 2020.1 (``vivado_hls``);
- Vivado 2022.1 or newer with Vitis HLS of the same version (``vitis_hls``).
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

SUPPORTED = "Vivado + Vivado HLS 2020.1, or Vivado + Vitis HLS 2022.1 or newer (the same version)"
_VERSION = re.compile(r"\bv(\d{4}\.\d)\b")


class BuildError(RuntimeError):
    """A build step failed; the message says which, why, and where the log is."""


@dataclass(frozen=True)
class Tool:
    """One tool found on PATH."""

    name: str
    path: str
    version: str  # "2022.1"

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _version_tuple(version: str) -> tuple[int, int]:
    year, release = version.split(".")
    return int(year), int(release)


def probe(name: str, timeout_s: float = 120) -> Tool | None:
    """The tool ``name`` on PATH with its version, or ``None`` when it is not there."""
    path = shutil.which(name)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=timeout_s
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"{path} -version did not answer ({e})") from None
    m = _VERSION.search(out)
    if not m:
        raise BuildError(f"cannot read the version of {path} from:\n{out.strip()[:500]}")
    return Tool(name, path, m.group(1))


def _hls_supported(hls: Tool, vivado: Tool) -> bool:
    if hls.version != vivado.version:
        return False
    if hls.name == "vivado_hls":
        return hls.version == "2020.1"
    return _version_tuple(hls.version) >= (2022, 1)


def find_toolchain() -> tuple[Tool, Tool]:
    """``(hls, vivado)``: a supported pair on PATH, or a :class:`BuildError` saying why not."""
    vivado = probe("vivado")
    found = [t for t in (probe("vitis_hls"), probe("vivado_hls")) if t is not None]
    if vivado is not None:
        for hls in found:
            if _hls_supported(hls, vivado):
                return hls, vivado
    seen = ", ".join(str(t) for t in [vivado, *found] if t is not None) or "none of them"
    raise BuildError(
        f"build-overlay needs Vivado and its HLS tool on PATH; supported: {SUPPORTED}. "
        f"Found: {seen}. Load the tools first, e.g. "
        "`source /tools/Xilinx/Vivado/2022.1/settings64.sh`."
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
