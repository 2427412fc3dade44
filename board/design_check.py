"""Does a ``.hwh`` describe the design a bundle's metadata expects?

Checked before anything is downloaded: the design's AXI DMA
(:data:`pynq_mnist.design.PYNQ_Z2`) in simple mode with the
bundle's LENGTH width, stream widths that match the bundle's input and output
formats, and the network IP with the bundle's VLNV. Reading the ``.hwh`` with
the standard library keeps the answer independent of pynq's parser caches.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from pynq_mnist.bundle import BundleError, BundleMetadata
from pynq_mnist.design import PYNQ_Z2

DMA_VLNV = str(PYNQ_Z2.dma.vlnv)


class DesignMismatch(BundleError):
    """The ``.hwh`` and the bundle metadata describe different designs."""


def _params(module: ET.Element) -> dict[str, str]:
    return {p.get("NAME", "").lower(): p.get("VALUE", "") for p in module.iter("PARAMETER")}


def design_problems(meta: BundleMetadata, hwh: str | os.PathLike) -> list[str]:
    """Every disagreement between ``meta`` and the design in ``hwh`` (empty if none)."""
    try:
        root = ET.parse(hwh).getroot()
    except (OSError, ET.ParseError) as e:
        return [f"cannot read {hwh}: {e}"]
    modules = list(root.iter("MODULE"))
    problems = []
    dmas = [m for m in modules if m.get("VLNV") == DMA_VLNV]
    if len(dmas) != 1:
        found = sorted({m.get("VLNV", "?") for m in modules if "axi_dma" in m.get("VLNV", "")})
        problems.append(f"expected one AXI DMA {DMA_VLNV}, found {len(dmas)} (other DMAs: {found})")
    else:
        p = _params(dmas[0])
        expected = {
            "c_include_sg": "0",
            "c_sg_length_width": str(meta.dma["length_width_bits"]),
            "c_m_axis_mm2s_tdata_width": str(meta.input.stream_width_bits),
            "c_s_axis_s2mm_tdata_width": str(meta.output.stream_width_bits),
        }
        for key, want in expected.items():
            if p.get(key) != want:
                problems.append(
                    f"DMA {key} is {p.get(key)!r} in the .hwh but {want!r} in the metadata"
                )
    vlnv = meta.ip["vlnv"]
    if not any(m.get("VLNV") == vlnv for m in modules):
        have = sorted(m.get("VLNV", "?") for m in modules if ":hls:" in m.get("VLNV", ""))
        problems.append(f"no IP {vlnv} in the .hwh (HLS IPs there: {have or 'none'})")
    return problems


def check_design(meta: BundleMetadata, hwh: str | os.PathLike) -> None:
    """Raise :class:`DesignMismatch` listing every problem :func:`design_problems` finds."""
    problems = design_problems(meta, hwh)
    if problems:
        raise DesignMismatch(
            f"{Path(hwh).name} does not match bundle {meta.name!r}: "
            + "; ".join(problems)
            + ". The bitstream was built from another bundle: rebuild it with "
            "`pynq-mnist build-overlay`, or load the bundle it was built from."
        )
