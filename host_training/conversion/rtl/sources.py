"""The RTL IP's sources in a bundle: the wrapper around da4ml's network, and the harness.

``BUNDLE/rtl/`` holds ``pynq_mnist_top.v`` (rendered from ``pynq_mnist_top.v.in``),
``net/*.v`` (da4ml's network, :mod:`.trace`), ``da4ml_pipeline.json`` and
``sim/`` (``rtl_emu.cpp`` and the rendered ``rtl_config.h``, the Verilator
harness of :mod:`pynq_mnist.board.emulator.rtl_sim`). Every width and position
of the output word comes from the bundle's :class:`~pynq_mnist.bundle.OutputFormat`.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from pynq_mnist.board.emulator.rtl_sim import NET_DIR, SIM_DIR, TOP_FILE
from pynq_mnist.bundle import InputFormat, OutputFormat
from pynq_mnist.design import PYNQ_Z2
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl.trace import NetRTL

TEMPLATES = Path(__file__).parent
#: Clocks of margin the harness adds to its drain count.
_DRAIN_MARGIN = 8


def template_values(
    net: NetRTL, fmt: OutputFormat, frac_bits: int, input_format: InputFormat
) -> dict:
    """The ``@NAME@`` values of the wrapper and harness templates."""
    klass, logits = fmt.field("class"), fmt.field("logits")
    beats_in = input_format.beats_per_frame
    if input_format.stream_width_bits != 64 or net.input_bits != (
        input_format.pixels_per_frame * input_format.wire_bits
    ):
        raise ConversionError(
            f"the network takes {net.input_bits} input bits; the wire gives "
            f"{input_format.pixels_per_frame} pixels of {input_format.wire_bits} bits"
        )
    if fmt.beats_per_frame != 1 or fmt.stream_width_bits != 64:
        raise ConversionError("the RTL wrapper writes one 64-bit output beat per frame")
    if klass.count != 1 or not logits.signed or logits.count != net.outputs:
        raise ConversionError(
            f"the output format ({klass}, {logits}) does not match the network's "
            f"{net.outputs} logits"
        )
    shift = net.logit_frac - frac_bits
    if shift < 0:
        raise ConversionError(
            f"{frac_bits} output fraction bits but the network's logits have {net.logit_frac}"
        )
    # Frames that can be between the frame register and the output at once: one
    # per beats_in clocks over the network, the argmax chain and the FIFO itself.
    in_flight = math.ceil((net.latency_cycles + logits.count + 2) / beats_in) + 1
    depth = max(2, 1 << (in_flight - 1).bit_length())
    ports = PYNQ_Z2.ip_ports
    return {
        "top": wrapper.TOP,
        "in_port": ports.input,
        "out_port": ports.output,
        "clock_port": ports.clock,
        "reset_port": ports.reset,
        "beats_in": beats_in,
        "wire_bits": input_format.wire_bits,
        "pixels_per_beat": input_format.pixels_per_beat,
        "net_in_bits": net.input_bits,
        "beat_counter_bits": max(1, (beats_in - 1).bit_length()),
        "class_lsb": klass.lsb,
        "class_bits": klass.width,
        "class_msb": klass.msb,
        "logits_lsb": logits.lsb,
        "logit_bits": logits.width,
        "logit_frac_bits": frac_bits,
        "n_classes": logits.count,
        "logit_width": net.logit_width,
        "logit_ext_width": max(net.logit_width + 1, logits.width + 1),
        "logit_shift": shift,
        "logit_signed": int(net.logit_signed),
        "net_module": net.module,
        "net_out_bits": net.output_bits,
        "net_latency": net.latency_cycles,
        "fifo_depth": depth,
        "fifo_pointer_bits": depth.bit_length() - 1,
        "drain_cycles": beats_in + net.latency_cycles + logits.count + depth + _DRAIN_MARGIN,
    }


def write_rtl_sources(values: dict, rtl_dir: Path) -> list[Path]:
    """Render the wrapper and the harness config into ``rtl_dir`` (which holds ``net/``).

    Returns the Verilog files of the whole IP, the top level first.
    """
    (rtl_dir / TOP_FILE).write_text(wrapper.render(TEMPLATES / "pynq_mnist_top.v.in", values))
    sim = rtl_dir / SIM_DIR
    sim.mkdir()
    shutil.copy2(TEMPLATES / "rtl_emu.cpp", sim / "rtl_emu.cpp")
    (sim / "rtl_config.h").write_text(wrapper.render(TEMPLATES / "rtl_config.h.in", values))
    return [rtl_dir / TOP_FILE, *sorted((rtl_dir / NET_DIR).glob("*.v"))]
