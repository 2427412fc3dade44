"""Numbers from Vivado's text reports: utilization and the timing summary.

The reports themselves go into the bundle; these parsers pull out the few
numbers recorded in ``bundle.json`` (and the slack that decides pass or fail).
Both formats are read by column name, so the extra ``Prohibited`` column that
newer Vivado versions add to utilization tables does not matter.
"""

from __future__ import annotations

import re

from pynq_mnist.errors import Failed


class ReportError(Failed, ValueError):
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


# --------------------------------------------------------------------------- HLS report


def _number(text: str | None) -> int | float | None:
    """A report number; ``None`` for what HLS cannot bound (``undef``) or leaves out."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def parse_csynth(text: str) -> dict:
    """II, latency, clock estimate and resources of the top from HLS's ``csynth.xml``.

    Vivado HLS and Vitis HLS write the same ``<profile>`` layout
    (``PerformanceEstimates/SummaryOfOverallLatency``, ``AreaEstimates/Resources``);
    Vivado HLS calls the DSP count ``DSP48E``, Vitis HLS ``DSP``. A count that
    HLS cannot bound reads ``undef`` and is recorded as ``None``.

    Returns
    -------
    dict
        ``{"ii_cycles": {"min", "max"}, "latency_cycles": {"best", "worst"},
        "estimated_clock_ns", "target_clock_ns", "resources": {"lut", "ff", "dsp", "bram18"}}``.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReportError(f"csynth.xml is not XML ({e})") from None
    latency = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    resources = root.find("AreaEstimates/Resources")
    if latency is None or resources is None:
        raise ReportError("csynth.xml has no SummaryOfOverallLatency or AreaEstimates/Resources")
    dsp = resources.find("DSP48E")
    return {
        "ii_cycles": {
            "min": _number(latency.findtext("Interval-min")),
            "max": _number(latency.findtext("Interval-max")),
        },
        "latency_cycles": {
            "best": _number(latency.findtext("Best-caseLatency")),
            "worst": _number(latency.findtext("Worst-caseLatency")),
        },
        "estimated_clock_ns": _number(
            root.findtext("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
        ),
        "target_clock_ns": _number(root.findtext("UserAssignments/TargetClockPeriod")),
        "resources": {
            "lut": _number(resources.findtext("LUT")),
            "ff": _number(resources.findtext("FF")),
            "dsp": _number(dsp.text if dsp is not None else resources.findtext("DSP")),
            "bram18": _number(resources.findtext("BRAM_18K")),
        },
    }


# --------------------------------------------------------------------------- log scan

#: Messages in the tools' logs that build a design unlike the one intended, or one
#: that will not work, while the tool goes on: (pattern, what it means).
KNOWN_WARNINGS = (
    (r"\[HLS 207-5514\]|pragma.*(ignored|is ignored)|[Ii]gnoring .*pragma",
     "an HLS pragma was ignored: the IP is not built as the sources ask "
     "(hls4ml's Vivado-backend headers in Vitis HLS do this)"),
    (r"\[HLS 200-880\]|\[HLS 200-885\]|II Violation",
     "HLS could not reach a pipeline's II: the IP is slower than the cycle model"),
    (r"\[HLS 200-871\]|[Ee]stimated clock period .* exceeds the target",
     "HLS estimates a clock period above the target: timing may fail in Vivado"),
    (r"\[Timing 38-282\]",
     "the implemented design does not meet timing: it may not work on the board"),
    (r"\[IP_Flow 19-3374\]",
     "Vivado ignored an IP parameter value (a CONFIG the IP derives itself)"),
    (r"\[BD 41-237\]",
     "a bus interface property (clock, width) differs between two connected pins"),
)  # fmt: skip


def design_warnings(text: str, limit: int = 5) -> list[dict]:
    """The :data:`KNOWN_WARNINGS` found in a log: what each means, how often, first lines."""
    found = []
    lines = text.splitlines()
    for pattern, meaning in KNOWN_WARNINGS:
        regex = re.compile(pattern)
        hits = [ln.strip() for ln in lines if regex.search(ln)]
        if hits:
            found.append({"meaning": meaning, "count": len(hits), "lines": hits[:limit]})
    return found
