"""The CNN student as a streaming Verilog pipeline: da4ml units between line buffers and pooling.

What is unrolled and what is shared (also ``docs/rtl-cnn.md``):

- **conv block** ``k``: one da4ml unit computes *one whole output row* per clock
  (every column: ``W_in - 2`` instances of the 3x3xC_in -> C_out constant
  matrix, each an adder tree where zero weights cost nothing, with its ReLU).
  Its input is a window of three rows from a line buffer of two rows
  (``pm_cnn_lines.v``); its rows go to 2x2 max pooling (``pm_cnn_pool.v``),
  which holds one row. Rows reach a block at most one per beat, so a unit that
  takes a row per clock keeps up with the wire at any width whose image row is
  at least a beat.
- **dense head**: the last block's pooled rows are held side by side
  (``pm_cnn_flatten.v``) and one da4ml unit computes every dense layer and the
  logits from them once per frame (fully parallel).
- **argmax, output word, FIFO**: ``pm_result.v``, as in the MLP's wrapper.

The units are pipelines without handshake (a new input each clock, the result
a fixed number of clocks later); a valid bit and the row index travel beside
each (``pm_pipe.v``). Nothing waits, so a frame's result comes a fixed time
after its last beat and the top only needs to count frames in flight against
the output FIFO. ``cnn_templates/`` holds the Verilog: the modules as they are,
the top and the per-block instances as templates.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynq_mnist.board.emulator.rtl_sim import NET_DIR, SIM_DIR, TOP_FILE
from pynq_mnist.bundle import InputFormat, OutputFormat
from pynq_mnist.design import PYNQ_Z2
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl import trace
from pynq_mnist.host_training.conversion.rtl.cnn import KERNEL, QuantizedCNN
from pynq_mnist.host_training.conversion.rtl.trace import NetRTL

TEMPLATES = Path(__file__).parent / "cnn_templates"
MODULES = ("pm_cnn_rows.v", "pm_cnn_lines.v", "pm_cnn_pool.v", "pm_cnn_flatten.v", "pm_pipe.v")
MODULES += ("pm_result.v",)
#: Clocks of margin the harness adds to its drain count.
_DRAIN_MARGIN = 8


@dataclass(frozen=True)
class CnnRTL:
    """The generated units: one per conv block, then the head."""

    convs: tuple[NetRTL, ...]
    head: NetRTL

    @property
    def estimate_lut(self) -> int:
        return sum(n.estimate["lut"] for n in (*self.convs, self.head))


def _inputs(n: int, integer: int, frac: int):
    from da4ml.trace import FixedVariableArray

    zeros = np.zeros(n, dtype=np.int64)
    return FixedVariableArray.from_kif(zeros, np.full(n, integer), np.full(n, frac))


def conv_row_logic(cnn: QuantizedCNN, k: int, integer: int, frac: int):
    """da4ml's logic of conv block ``k``'s unit: three input rows -> one output row.

    Input element ``(r, x, c)`` (``r`` 0 the oldest row) is number
    ``(r * W + x) * C + c``; output ``(x, f)`` is number ``x * F + f``. The
    first block reads the wire's pixels, truncated to the bits the student reads.
    """
    from da4ml.trace import FixedVariableArray, comb_trace

    conv = cnn.convs[k]
    h, w, c = cnn.block_shapes()[k]
    x_in = _inputs(KERNEL * w * c, integer, frac)
    x = x_in
    if k == 0 and cnn.input_bits < frac:
        x = x_in.quantize(0, 0, cnn.input_bits, "WRAP", "TRN")
    number = np.arange(KERNEL * w * c).reshape(KERNEL, w, c)
    columns = [
        trace.dense_logic(x[number[:, col : col + KERNEL, :].ravel()], conv)._vars.ravel()
        for col in range(w - KERNEL + 1)
    ]
    return comb_trace(x_in, FixedVariableArray(np.concatenate(columns), x_in.solver_options))


def head_logic(cnn: QuantizedCNN, integer: int, frac: int):
    """da4ml's logic of the dense head: the flattened pooled rows -> the logits."""
    from da4ml.trace import comb_trace

    h, w, c = cnn.block_shapes()[-1]
    x_in = _inputs(h * w * c, integer, frac)
    x = x_in
    for layer in cnn.head:
        x = trace.dense_logic(x, layer)
    return comb_trace(x_in, x)


def write_units(cnn: QuantizedCNN, rtl_dir: Path, wire_bits: int) -> CnnRTL:
    """Trace and pipeline every unit into ``rtl_dir/net``; each block reads the last one's type."""
    net_dir = rtl_dir / NET_DIR
    integer, frac = 0, wire_bits
    convs = []
    for k in range(len(cnn.convs)):
        t0 = time.perf_counter()
        comb = conv_row_logic(cnn, k, integer, frac)
        name = f"conv{k + 1}_row"
        unit, _ = trace.write_logic(
            comb, name, net_dir, rtl_dir / f"da4ml_{name}.json", time.perf_counter() - t0
        )
        if unit.logit_signed:
            raise ConversionError(f"{name}: a ReLU's output came out signed")
        convs.append(unit)
        integer, frac = unit.logit_width - unit.logit_frac, unit.logit_frac
    t0 = time.perf_counter()
    comb = head_logic(cnn, integer, frac)
    head, _ = trace.write_logic(
        comb, "head", net_dir, rtl_dir / "da4ml_head.json", time.perf_counter() - t0
    )
    return CnnRTL(tuple(convs), head)


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def template_values(
    cnn: QuantizedCNN, units: CnnRTL, fmt: OutputFormat, frac_bits: int, inp: InputFormat
) -> dict:
    """The ``@NAME@`` values of the top, its blocks and the harness."""
    shapes = cnn.block_shapes()
    h0, w0, _ = shapes[0]
    if inp.frame_shape[:2] != (h0, w0) or w0 * inp.wire_bits < inp.stream_width_bits:
        raise ConversionError(
            f"the RTL CNN takes {h0}x{w0} frames whose rows are at least a beat; got "
            f"{inp.frame_shape} at {inp.wire_bits} bits a pixel"
        )
    ports = PYNQ_Z2.ip_ports
    common = {"clock_port": ports.clock}
    stages, in_valid, in_row, row_bits, eb = [], "rows_valid", "rows", w0 * inp.wire_bits, None
    for k, unit in enumerate(units.convs):
        (h, w, _), (hp, wp, f) = shapes[k], shapes[k + 1]
        eb = unit.logit_width
        values = {
            **common,
            "k": k + 1,
            "h_in": h,
            "w_in": w,
            "c_in": shapes[k][2],
            "h_c": h - KERNEL + 1,
            "w_c": w - KERNEL + 1,
            "f": f,
            "h_p": hp,
            "w_p": wp,
            "eb": eb,
            "row_in": row_bits,
            "index_bits": _bits(h),
            "in_valid": in_valid,
            "in_row": in_row,
            "net_module": unit.module,
            "latency": unit.latency_cycles,
        }
        stages.append(wrapper.render(TEMPLATES / "stage.v.in", values))
        in_valid, in_row, row_bits = f"pooled_valid{k + 1}", f"pooled{k + 1}", wp * f * eb
    hp = shapes[-1][0]
    head = units.head
    klass, logits = fmt.field("class"), fmt.field("logits")
    shift = head.logit_frac - frac_bits
    if shift < 0 or logits.count != head.outputs:
        raise ConversionError(
            f"the output format ({logits}) does not fit the head's {head.outputs} logits "
            f"with {head.logit_frac} fraction bits"
        )
    beats = inp.beats_per_frame
    latency = sum(u.latency_cycles + 2 for u in units.convs) + head.latency_cycles + 2
    in_flight = math.ceil((latency + logits.count + 2) / beats) + 1
    depth = max(2, 1 << (in_flight - 1).bit_length())
    return {
        **common,
        "top": wrapper.TOP,
        "in_port": ports.input,
        "out_port": ports.output,
        "reset_port": ports.reset,
        "beats_in": beats,
        "beat_counter_bits": _bits(beats),
        "pixels_per_beat": inp.pixels_per_beat,
        "wire_bits": inp.wire_bits,
        "row_bits": w0 * inp.wire_bits,
        "stages": "\n".join(stages),
        "flat_bits": hp * row_bits,
        "last_row_bits": row_bits,
        "last_rows": hp,
        "last_count_bits": _bits(hp),
        "last_valid": in_valid,
        "last_row": in_row,
        "head_module": head.module,
        "head_out_bits": head.output_bits,
        "head_latency": head.latency_cycles,
        "n_classes": logits.count,
        "logit_width": head.logit_width,
        "logit_ext_width": max(head.logit_width + 1, logits.width + 1),
        "logit_shift": shift,
        "logit_signed": int(head.logit_signed),
        "class_lsb": klass.lsb,
        "class_bits": klass.width,
        "logits_lsb": logits.lsb,
        "logit_bits": logits.width,
        "fifo_depth": depth,
        "fifo_pointer_bits": depth.bit_length() - 1,
        "drain_cycles": beats + latency + logits.count + depth + _DRAIN_MARGIN,
    }


def write_cnn_sources(values: dict, rtl_dir: Path) -> list[Path]:
    """Render the top and the harness config into ``rtl_dir`` (whose ``net/`` holds the units).

    Returns the Verilog files of the whole IP, the top level first.
    """
    net = rtl_dir / NET_DIR
    (rtl_dir / TOP_FILE).write_text(wrapper.render(TEMPLATES / "cnn_top.v.in", values))
    for name in MODULES:
        shutil.copy2(TEMPLATES / name, net / name)
    sim = rtl_dir / SIM_DIR
    sim.mkdir()
    rtl = Path(__file__).parent
    shutil.copy2(rtl / "rtl_emu.cpp", sim / "rtl_emu.cpp")
    (sim / "rtl_config.h").write_text(wrapper.render(rtl / "rtl_config.h.in", values))
    return [rtl_dir / TOP_FILE, *sorted(net.glob("*.v"))]
