"""The IP around the hls4ml network: its output word, and its HLS sources in a bundle.

The wrapper (``hls/pynq_mnist_top.cpp``) is fixed C++; what varies per model is
rendered from two templates, ``pynq_mnist_config.h.in`` and ``build_hls.tcl.in``,
whose ``@NAME@`` placeholders this module fills. :func:`words_from_logits` is the
same word layout in numpy: it turns hls4ml's C-simulation logits into the words
the IP must produce.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.bundle import Field, OutputFormat
from pynq_mnist.design import PYNQ_Z2

TEMPLATES = Path(__file__).parent / "hls"
VLNV = PYNQ_Z2.ip.vlnv
TOP = VLNV.name
STREAM_WIDTH_BITS = PYNQ_Z2.stream_width_bits
PIXELS_PER_BEAT = STREAM_WIDTH_BITS // encoding.PIXEL_BITS
CLASS_BITS = 4
LOGIT_BITS = 6
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


# --------------------------------------------------------------------------- word layout


def output_format(n_classes: int, logit_frac_bits: int) -> OutputFormat:
    """One 64-bit beat: the class index, then ``n_classes`` signed logits."""
    return OutputFormat(
        stream_width_bits=STREAM_WIDTH_BITS,
        beats_per_frame=1,
        fields=(
            Field("class", lsb=0, width=CLASS_BITS),
            Field(
                "logits",
                lsb=CLASS_BITS,
                width=LOGIT_BITS,
                count=n_classes,
                signed=True,
                frac_bits=logit_frac_bits,
            ),
        ),
    )


def _raw_logits(logits: np.ndarray, frac_bits: int) -> np.ndarray:
    """Logits as LOGIT_BITS-bit integers: truncated toward -inf, then saturated."""
    lo, hi = -(1 << (LOGIT_BITS - 1)), (1 << (LOGIT_BITS - 1)) - 1
    return np.clip(np.floor(logits * 2.0**frac_bits), lo, hi).astype(np.int64)


def logit_frac_bits(logits: np.ndarray, max_frac_bits: int) -> int:
    """The most fraction bits (at most ``max_frac_bits``) that saturate none of ``logits``.

    ``max_frac_bits`` is the network's own: more would only add zeros. At least
    one integer bit is kept, so the result is below ``LOGIT_BITS``.
    """
    for frac in range(min(max_frac_bits, LOGIT_BITS - 1), -32, -1):
        scaled = np.floor(logits * 2.0**frac)
        if scaled.min() >= -(1 << (LOGIT_BITS - 1)) and scaled.max() <= (1 << (LOGIT_BITS - 1)) - 1:
            return frac
    raise ValueError(f"logits up to {np.abs(logits).max():g} do not fit in {LOGIT_BITS} bits")


def words_from_logits(logits: np.ndarray, frac_bits: int) -> np.ndarray:
    """The IP's output words ``(N, 1)`` uint64 for exact network logits ``(N, classes)``.

    The class is the first maximum of the full-precision logits, as in the IP.
    """
    logits = np.asarray(logits, dtype=np.float64)
    fmt = output_format(logits.shape[1], frac_bits)
    return fmt.pack({"class": np.argmax(logits, axis=1), "logits": _raw_logits(logits, frac_bits)})


# --------------------------------------------------------------------------- sources


def render(template: Path, values: dict[str, object]) -> str:
    """``template`` with every ``@NAME@`` replaced by ``values[name.lower()]``."""
    text = template.read_text()
    missing = sorted({m.lower() for m in _PLACEHOLDER.findall(text)} - set(values))
    if missing:
        raise KeyError(f"{template.name}: no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1).lower()]), text)


def write_hls_sources(
    hls4ml_dir: Path,
    project_name: str,
    io_type: str,
    pixels: int,
    n_classes: int,
    frac_bits: int,
    dest: Path,
    part: str,
    clock_mhz: float,
) -> None:
    """Fill ``dest`` with the IP's sources: hls4ml's firmware, the wrapper, the build script.

    ``dest`` gets ``firmware/`` (the network, with hls4ml's C-simulation
    ``ap_types``), ``pynq_mnist_top.{h,cpp}``, the rendered
    ``pynq_mnist_config.h`` and ``build_hls.tcl``, and ``emulator/`` (the C API
    and the ``ap_axi_sdata.h`` shim, for g++ only).
    """
    shutil.copytree(hls4ml_dir / "firmware", dest / "firmware")
    for name in ("pynq_mnist_top.h", "pynq_mnist_top.cpp"):
        shutil.copy2(TEMPLATES / name, dest / name)
    shutil.copytree(TEMPLATES / "emulator", dest / "emulator")
    values = {
        "net_header": f"{project_name}.h",
        "net_function": project_name,
        "io_stream": int(io_type == "io_stream"),
        "pixels": pixels,
        "stream_width_bits": STREAM_WIDTH_BITS,
        "pixels_per_beat": PIXELS_PER_BEAT,
        "beats_in": pixels // PIXELS_PER_BEAT,
        "n_classes": n_classes,
        "class_bits": CLASS_BITS,
        "logit_bits": LOGIT_BITS,
        "logit_int_bits": LOGIT_BITS - frac_bits,
        "top": TOP,
        "part": part,
        "clock_period_ns": f"{1000.0 / clock_mhz:g}",
        "ip_vendor": VLNV.vendor,
        "ip_library": VLNV.library,
        "ip_version": VLNV.version,
        "net_source": f"{project_name}.cpp",
    }
    (dest / "pynq_mnist_config.h").write_text(render(TEMPLATES / "pynq_mnist_config.h.in", values))
    (dest / "build_hls.tcl").write_text(render(TEMPLATES / "build_hls.tcl.in", values))
