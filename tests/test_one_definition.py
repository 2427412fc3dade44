"""Each fact of the contract and of the design is defined once: no literal copies in the tree.

The beat width, the pixel scale, the class field, the part, the DMA's VLNV and the
design's cell names live in ``pynq_mnist/design.py``, ``pynq_mnist/encoding.py`` and
``pynq_mnist/bundle.py``; everything else imports them. This test greps the shipped
sources (Python, C++, templates, Tcl) for literal copies.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pynq_mnist.design import PYNQ_Z2

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("pynq_mnist", "board", "host_training", "vivado_bd", "bench", "overlays")
SUFFIXES = {".py", ".h", ".cpp", ".in", ".tcl"}


def _sources() -> list[Path]:
    files = []
    for d in SOURCE_DIRS:
        files += [p for p in (ROOT / d).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return sorted(files)


def _quoted(name: str) -> str:
    return rf"[\"']{re.escape(name)}[\"'/]"


# (what, pattern, the one file allowed to hold it)
FACTS = [
    ("the stream's beat width", r"ap_axiu<\s*\d", None),
    ("the stream's beat width", r"STREAM_WIDTH_BITS\s*=\s*\d", None),
    (
        "the pixel scale",
        r"[*/]\s*(np\.float32\()?256\b|2\.0\s*\*\*\s*-8\b",
        "pynq_mnist/encoding.py",
    ),
    ("the class field", r"&\s*(np\.uint64\()?0xF\b", None),
    ("the part", r"[\"']xc7z020[a-z0-9-]*[\"']", "pynq_mnist/design.py"),
    ("the DMA's VLNV", r"xilinx\.com:ip:axi_dma", "pynq_mnist/design.py"),
    ("the PS's VLNV", r"xilinx\.com:ip:processing_system7:", "pynq_mnist/design.py"),
    ("the IP reset's VLNV", r"xilinx\.com:ip:axi_gpio", "pynq_mnist/design.py"),
    ("the IP reset gate's VLNV", r"module_ref:ip_reset_and", "pynq_mnist/design.py"),
    *(
        (f"the cell name {cell.path}", _quoted(cell.path), "pynq_mnist/design.py")
        for cell in (
            PYNQ_Z2.ps,
            PYNQ_Z2.dma,
            PYNQ_Z2.ip,
            PYNQ_Z2.reset,
            PYNQ_Z2.timer,
            PYNQ_Z2.ip_reset,
            PYNQ_Z2.ip_reset_and,
        )
    ),
]


def test_the_scan_sees_the_tree():
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"pynq_mnist/design.py", "board/overlay.py", "vivado_bd/pynq_z2_design.tcl"} <= names
    assert "host_training/conversion/hls/pynq_mnist_top.h" in names


@pytest.mark.parametrize("what, pattern, home", FACTS, ids=[f[0] for f in FACTS])
def test_no_literal_copy(what, pattern, home):
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel == home:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, f"{what} is typed again (import it instead):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("typedef ap_axiu<64, 0, 0, 0> axis_beat_t;", FACTS[0][1]),
        ("raw = np.rint(pixels * 256)", FACTS[2][1]),
        ("ip_class = (words[:, 0] & np.uint64(0xF))", FACTS[3][1]),
        ('PART = "xc7z020clg400-1"', FACTS[4][1]),
        ('if t.startswith("xilinx.com:ip:axi_dma:"):', FACTS[5][1]),
        ('return ol.hier_0, dev.dmas["axi_dma_0"]', _quoted("axi_dma_0")),
    ],
)
def test_the_patterns_catch_the_copies_they_were_written_for(line, pattern):
    assert re.search(pattern, line)
