"""Resources before Vivado: Yosys ``synth_xilinx -family xc7 -flatten`` on the whole IP, and the budget.

Yosys maps the Verilog onto 7-series primitives (LUT1..LUT6, FD*, CARRY4,
DSP48E1, RAMB18E1/RAMB36E1, LUT RAM, SRL) and counts them with ``stat``. It
does no placement or routing: the counts say whether the design fits, not
whether it meets 100 MHz. The budget is held against ``slice_luts``: LUTs
for logic, plus the LUTs that shift registers (SRL16E/SRLC32E) and LUT RAM take. Vivado's numbers replace them once
``pynq-mnist build-overlay`` ran. An ``INV`` cell becomes a LUT1 in Vivado, so
it is counted among the LUTs.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError

#: The xc7z020's LUTs (DS190, Zynq-7000 product table: 53,200 LUTs for the Z-7020).
XC7Z020_LUTS = 53_200
#: The share of them a design may take before it is refused at conversion.
LUT_BUDGET_FRACTION = 0.8
LUT_BUDGET = int(XC7Z020_LUTS * LUT_BUDGET_FRACTION)
TIMEOUT_S = 3600

_GROUPS = {
    "lut": re.compile(r"^(LUT[1-6]|INV)$"),
    "ff": re.compile(r"^FD[A-Z]*$"),
    "carry4": re.compile(r"^CARRY4$"),
    "dsp": re.compile(r"^DSP48E1$"),
    "bram36": re.compile(r"^RAMB36E1$"),
    "bram18": re.compile(r"^RAMB18E1$"),
    "lutram": re.compile(r"^RAM(32|64|128|256)[MX0-9SD]*$"),
    "srl": re.compile(r"^SRL"),
    "muxf": re.compile(r"^MUXF[78]$"),
}
#: LUTs each LUT-RAM primitive takes (UG474, distributed RAM configurations).
_LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4}


def check_budget(luts: int, source: str, budget: int = LUT_BUDGET) -> None:
    """Refuse a design of more than ``budget`` LUTs, with the numbers."""
    if luts > budget:
        raise ConversionError(
            f"the design needs {luts:,} LUTs by {source}, over the budget of {budget:,} "
            f"({100 * budget / XC7Z020_LUTS:.3g}% of the xc7z020's {XC7Z020_LUTS:,}); "
            "prune harder, use fewer weight or activation bits, or fewer hidden units"
        )


def synthesize(top: str, sources: list[Path], log: Path | None = None) -> dict:
    """Yosys's cell counts for ``top`` (``lut`` includes INV; ``bram`` in RAMB36 units).

    Raises
    ------
    ConversionError
        When yosys is missing or fails (the message holds the end of its log).
    """
    with tempfile.TemporaryDirectory(prefix="pynq-mnist-yosys-") as work:
        stat = Path(work) / "stat.txt"
        script = "".join(f"read_verilog {Path(p).resolve()}\n" for p in sources)
        script += f"synth_xilinx -family xc7 -flatten -top {top}\ntee -q -o {stat} stat\n"
        (Path(work) / "synth.ys").write_text(script)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                ["yosys", "-q", "-s", "synth.ys"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except FileNotFoundError:
            raise ConversionError(
                "yosys is not installed: the rtl backend counts resources with it "
                "(Debian/Ubuntu: apt-get install yosys)"
            ) from None
        except subprocess.TimeoutExpired:
            raise ConversionError(f"yosys took over {TIMEOUT_S} s; gave up") from None
        if log is not None:
            log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not stat.is_file():
            raise ConversionError(f"yosys failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        cells = _cells(stat.read_text(), top)
        seconds = time.perf_counter() - t0
    counts = {group: 0 for group in _GROUPS}
    other = {}
    for cell, n in cells.items():
        group = next((g for g, rx in _GROUPS.items() if rx.match(cell)), None)
        if group is None:
            other[cell] = n
        else:
            counts[group] += n
    lutram_luts = sum(_LUTRAM_LUTS.get(cell, 1) * n for cell, n in cells.items()
                      if _GROUPS["lutram"].match(cell))  # fmt: skip
    return {
        **counts,
        # What Vivado reports as Slice LUTs: logic, shift registers and LUT RAM.
        "slice_luts": counts["lut"] + counts["srl"] + lutram_luts,
        "inv": int(cells.get("INV", 0)),
        "bram": counts["bram36"] + counts["bram18"] / 2,
        "other_cells": other,
        "cells": cells,
        "yosys_s": round(seconds, 1),
        "basis": "Yosys synth_xilinx -family xc7 (no place and route); lut includes inv",
        "yosys_version": _version(),
    }


def _cells(stat: str, top: str) -> dict[str, int]:
    """The cell counts of module ``top`` in the text of Yosys's ``stat``.

    (The text: Yosys 0.23's ``stat -json``, teed to a file, did not parse as JSON here.)
    """
    lines = iter(stat.splitlines())
    for line in lines:
        if line.strip() == f"=== {top} ===":
            break
    else:
        raise ConversionError(f"yosys's statistics hold no module {top!r}")
    cells: dict[str, int] = {}
    counting = False
    for line in lines:
        if line.startswith("==="):
            break
        if "Number of cells:" in line:
            counting = True
            continue
        match = re.match(r"^\s+(\S+)\s+(\d+)$", line)
        if counting and match:
            cells[match.group(1).lstrip("\\$")] = int(match.group(2))
        elif counting and line.strip():
            counting = False
    if not cells:
        raise ConversionError(f"yosys's statistics list no cells for {top!r}")
    return cells


def _version() -> str:
    proc = subprocess.run(["yosys", "-V"], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip()
