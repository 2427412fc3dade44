"""Numbers from Vivado's text reports: utilization and the timing summary.

The reports themselves go into the bundle; these parsers pull out the few
numbers recorded in ``bundle.json`` (and the slack that decides pass or fail).
Both formats are read by column name, so the extra ``Prohibited`` column that
newer Vivado versions add to utilization tables does not matter.
"""

from __future__ import annotations

import re


class ReportError(ValueError):
    """A report lacks the table or row the build needs."""


# Utilization rows (7-series names) -> the keys recorded in the metadata.
UTILIZATION_ROWS = {
    "Slice LUTs": "lut",
    "Slice Registers": "ff",
    "DSPs": "dsp",
    "Block RAM Tile": "bram36",
}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_utilization(text: str) -> dict[str, float]:
    """LUT, FF, DSP and BRAM36 use from ``report_utilization`` text.

    Returns
    -------
    dict
        ``{"lut", "ff", "dsp", "bram36"}`` (BRAM in 36 Kb tiles, so halves occur).
    """
    found: dict[str, float] = {}
    used_col = None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if "Site Type" in cells and "Used" in cells:
            used_col = cells.index("Used")
            continue
        name = cells[0].rstrip("*").strip()
        key = UTILIZATION_ROWS.get(name)
        if key and key not in found and used_col is not None:
            try:
                found[key] = float(cells[used_col])
            except (ValueError, IndexError):
                raise ReportError(f"utilization row {name!r} has no number: {line!r}") from None
    missing = [row for row, key in UTILIZATION_ROWS.items() if key not in found]
    if missing:
        raise ReportError(f"the utilization report has no rows {missing}")
    return {key: (int(v) if v.is_integer() else v) for key, v in found.items()}


_TIMING_KEYS = {"WNS(ns)": "wns_ns", "TNS(ns)": "tns_ns", "WHS(ns)": "whs_ns", "THS(ns)": "ths_ns"}


def parse_timing_summary(text: str) -> dict[str, float]:
    """Worst and total setup/hold slack from ``report_timing_summary`` text.

    Returns
    -------
    dict
        ``{"wns_ns", "tns_ns", "whs_ns", "ths_ns"}``.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("WNS(ns)"):
            header = re.split(r"\s{2,}", line.strip())
            values = lines[i + 2].split() if i + 2 < len(lines) else []
            if len(values) != len(header):
                break
            row = dict(zip(header, values, strict=True))
            try:
                return {key: float(row[col]) for col, key in _TIMING_KEYS.items()}
            except (KeyError, ValueError):
                break
    raise ReportError("the timing summary has no readable 'Design Timing Summary' table")


def timing_failures(timing: dict[str, float]) -> list[str]:
    """What is wrong with the timing: negative setup or hold slack."""
    problems = []
    if timing["wns_ns"] < 0:
        problems.append(f"setup slack WNS {timing['wns_ns']} ns (TNS {timing['tns_ns']} ns)")
    if timing["whs_ns"] < 0:
        problems.append(f"hold slack WHS {timing['whs_ns']} ns (THS {timing['ths_ns']} ns)")
    return problems
