"""What every benchmark records beside its figures: the command that made them, when, on
what host, and paths that name no machine (relative to the repository)."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def repo_relative(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it lies inside it (results name no machine)."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _cpu() -> dict:
    """The CPU's model name and whether it has AVX-512, as Linux reports them: the kernels
    TensorFlow's oneDNN picks depend on the instruction set, so trained weights can too."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in info.splitlines())
    )
    return {"cpu": fields.get("model name"), "avx512": "avx512f" in fields.get("flags", "").split()}


def header(script: str, argv: list[str]) -> dict:
    """``command`` (as typed from the repository root), ``date_utc``, ``host``, ``python``
    and ``versions`` (the host stack's packages: a new TensorFlow means new students)."""
    from pynq_mnist.host_training.tf_stack import versions

    return {
        "command": shlex.join(["python", f"bench/{script}", *argv]),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), **_cpu()},
        "python": sys.version.split()[0],
        "versions": versions(),
    }


def emulated_timings() -> str:
    """The label every timing taken on the emulated board carries."""
    return f"host timings on the emulated board ({platform.machine()}), not board timings"
