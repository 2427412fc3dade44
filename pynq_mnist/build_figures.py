"""A built bundle's figures: the conversion's cycle model beside what the tools synthesised.

Read from ``bundle.json`` alone, so the board's ``pynq-mnist bench`` and the
host's ``build-overlay`` print the same table from the same facts.
"""

from __future__ import annotations

from pynq_mnist.bundle import BundleMetadata


def _span(lo: float | None, hi: float | None) -> str:
    if lo is None and hi is None:
        return "undef"
    return f"{lo}" if lo == hi or hi is None else f"{lo}-{hi}"


def figure_lines(meta: BundleMetadata) -> list[str]:
    """Modelled and synthesised figures of a built bundle side by side (none if not built).

    ``meta`` is a :class:`~pynq_mnist.bundle.BundleMetadata`: the model is
    ``ip.target_ii_cycles`` (conversion's cycle model), the synthesised figures
    ``build.hls`` (HLS's ``csynth.xml``) and ``build.utilization``/``timing`` (Vivado).
    """
    build = meta.build or {}
    hls = build.get("hls")
    if not hls:
        return []
    model_ii = meta.ip.get("target_ii_cycles")
    ii, lat = hls["ii_cycles"], hls["latency_cycles"]
    mhz = build.get("fclk0_mhz_actual", meta.ip["clock_mhz"])
    rows = [
        ("", "model", f"synthesised ({hls['tool']})"),
        ("frame interval, cycles", model_ii, _span(ii["min"], ii["max"])),
        ("latency, cycles", "-", _span(lat["best"], lat["worst"])),
        (
            f"frames/s at {mhz:g} MHz",
            f"{mhz * 1e6 / model_ii:,.0f}" if model_ii else "-",
            f"{mhz * 1e6 / ii['max']:,.0f}" if ii["max"] else "undef",
        ),
    ]
    est, util = hls["resources"], build.get("utilization", {})
    for key, label in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP")):
        rows.append((f"{label} (HLS estimate / Vivado)", "-", f"{est[key]} / {util.get(key, '-')}"))
    if "timing" in build:
        rows.append(("WNS, ns (Vivado)", "-", build["timing"]["wns_ns"]))
    return [f"  {a:<28} {b!s:<12} {c}" for a, b, c in rows]
