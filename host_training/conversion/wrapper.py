"""The IP around the hls4ml network: its output word, and its HLS sources in a bundle.

The wrapper (``hls/pynq_mnist_top.cpp``) is fixed C++; what varies per model is
rendered from two templates, ``pynq_mnist_config.h.in`` and ``build_hls.tcl.in``,
whose ``@NAME@`` placeholders this module fills. :func:`words_from_logits` is the
same word layout in numpy: it turns hls4ml's C-simulation logits into the words
the IP must produce.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.bundle import Field, InputFormat, OutputFormat
from pynq_mnist.design import PYNQ_Z2

TEMPLATES = Path(__file__).parent / "hls"
VLNV = PYNQ_Z2.ip.vlnv
TOP = VLNV.name
STREAM_WIDTH_BITS = PYNQ_Z2.stream_width_bits
#: Pixels per beat on the hls backend's 8-bit wire (its students read every pixel bit).
PIXELS_PER_BEAT = STREAM_WIDTH_BITS // encoding.PIXEL_BITS
CLASS_BITS = 4
LOGIT_BITS = 6
#: The sources hls4ml's Vitis backend writes unlike its Vivado backend, laid out
#: as in the bundle's hls/ (so ``vitis/firmware/nnet_utils/...``).
VITIS_OVERLAY = "vitis"
#: The file ``build-overlay`` writes beside build_hls.tcl for the tool it runs.
HLS_TOOL_FILE = "hls_tool.tcl"
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


def backend_differences(vivado_dir: Path, vitis_dir: Path) -> list[str]:
    """Files (relative to ``firmware/``) that hls4ml's Vitis backend writes unlike its Vivado one.

    Both folders are hls4ml output folders of the same model. hls4ml 1.3.0's
    ``VitisWriter`` copies its own ``templates/vitis/nnet_utils`` headers over
    the Vivado ones (``write_nnet_utils_overrides``); comparing the written
    trees, rather than listing those headers, also catches any other change.
    A file the Vitis backend does not write at all is refused (but for the
    library ``hls_model.compile()`` leaves in the compiled one).
    """
    vivado, vitis = vivado_dir / "firmware", vitis_dir / "firmware"
    ours = {
        p.relative_to(vivado)
        for p in vivado.rglob("*")
        if p.is_file() and p.suffix not in (".so", ".o")
    }
    theirs = {p.relative_to(vitis) for p in vitis.rglob("*") if p.is_file()}
    if ours - theirs:
        raise ValueError(
            f"hls4ml's Vitis backend wrote no {sorted(map(str, ours - theirs))[:5]}: "
            "the two projects are not the same network"
        )
    return sorted(
        str(rel)
        for rel in theirs
        if rel not in ours or not filecmp.cmp(vivado / rel, vitis / rel, shallow=False)
    )


def sources_for_backend(hls_dir: Path, backend: str, dest: Path) -> Path:
    """A copy of ``hls_dir`` at ``dest`` whose ``firmware/`` is that of ``backend``.

    ``"Vivado"`` is ``firmware/`` as it is; ``"Vitis"`` lays ``vitis/`` over it.
    """
    if backend not in ("Vivado", "Vitis"):
        raise ValueError(f"unknown hls4ml backend {backend!r}")
    shutil.copytree(hls_dir, dest)
    overlay = dest / VITIS_OVERLAY
    if backend == "Vitis":
        if not overlay.is_dir():
            raise FileNotFoundError(
                f"{hls_dir} has no {VITIS_OVERLAY}/ (hls4ml's Vitis-backend sources): "
                "convert the model again"
            )
        shutil.copytree(overlay, dest, dirs_exist_ok=True)
    return dest


def write_hls_sources(
    hls4ml_dir: Path,
    project_name: str,
    io_type: str,
    input_format: InputFormat,
    n_classes: int,
    frac_bits: int,
    dest: Path,
    part: str,
    clock_mhz: float,
    vitis_dir: Path,
) -> list[str]:
    """Fill ``dest`` with the IP's sources: hls4ml's firmware, the wrapper, the build script.

    ``input_format`` gives the frame's pixels and how the wire packs them.
    ``dest`` gets ``firmware/`` (the network, with hls4ml's C-simulation
    ``ap_types``), ``pynq_mnist_top.{h,cpp}``, the rendered
    ``pynq_mnist_config.h`` and ``build_hls.tcl``, ``emulator/`` (the C API
    and the ``ap_axi_sdata.h`` shim, for g++ only), and ``vitis/firmware/``: the
    files that hls4ml's Vitis backend, written to ``vitis_dir``, makes differently
    (see :func:`backend_differences`, whose list it returns).
    """
    shutil.copytree(hls4ml_dir / "firmware", dest / "firmware")
    differences = backend_differences(hls4ml_dir, vitis_dir)
    for rel in differences:
        target = dest / VITIS_OVERLAY / "firmware" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(vitis_dir / "firmware" / rel, target)
    for name in ("pynq_mnist_top.h", "pynq_mnist_top.cpp"):
        shutil.copy2(TEMPLATES / name, dest / name)
    shutil.copytree(TEMPLATES / "emulator", dest / "emulator")
    values = {
        "net_header": f"{project_name}.h",
        "net_function": project_name,
        "io_stream": int(io_type == "io_stream"),
        "pixels": input_format.pixels_per_frame,
        "stream_width_bits": input_format.stream_width_bits,
        "wire_bits": input_format.wire_bits,
        "pixels_per_beat": input_format.pixels_per_beat,
        "beats_in": input_format.beats_per_frame,
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
    return differences
