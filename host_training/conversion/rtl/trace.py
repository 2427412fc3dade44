"""The integer MLP through da4ml: a fully pipelined Verilog network.

da4ml traces the network on symbolic fixed-point variables: each constant
matrix-vector product becomes a shared adder tree (zero weights cost nothing),
and :func:`da4ml.trace.to_pipeline` cuts the logic into register stages. The
Verilog it writes (``src/``) is a module ``NET_wrapper(clk, model_inp, model_out)``
without handshake: a new input every clock, its result ``latency`` clocks later.

Its input is 784 pixels as they come off the wire (``ufixed<W,0>``, the top
``W = wire_bits`` bits of each byte, :class:`pynq_mnist.bundle.InputFormat`),
element ``i`` at bits ``W*i..W*i+W-1`` of ``model_inp`` (da4ml's "regular"
layout gives every element the widest element's width, and all pixels have
``W`` bits), so the wrapper's frame register feeds it as it is. Each output sits in ``width`` bits at the same binary point
(``2**-frac``), sign-extended when ``signed``.

da4ml rounds only toward -inf or half up; QKeras's ``quantized_relu`` rounds
half to even (``tf.round``). :func:`_relu_half_even` builds that rounding from
da4ml's own operations, so the RTL is bit-exact with the student.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynq_mnist.bundle import wire_bits_for
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl.network import Dense, QuantizedMLP

NET_NAME = "mnist_net"
#: da4ml's latency budget per pipeline stage (its delay model's units: adder levels).
LATENCY_CUTOFF = 5
#: Lint codes of da4ml's sources that Debian's Verilator 5.006 does not know and
#: stops on (a lint hint only); they are given as the older code that covers them.
_LINT_CODES = {"WIDTHTRUNC": "WIDTH", "WIDTHEXPAND": "WIDTH"}


@dataclass(frozen=True)
class NetRTL:
    """What the wrapper and the bundle need of the generated network."""

    module: str  # the top module to instantiate (clk, model_inp, model_out)
    input_bits: int
    output_bits: int
    outputs: int
    logit_width: int  # bits per output in model_out
    logit_frac: int  # fraction bits of every output
    logit_signed: bool
    pipeline_stages: int
    latency_cycles: int  # clocks from model_inp to model_out
    estimate: dict  # da4ml's own cost figures
    trace_s: float


def _relu_half_even(v, bits: int, integer: int):
    """``v`` cast to ``ufixed<bits, integer>``: ReLU, round half to even, saturate.

    Rounding half to even of ``x`` (``F`` fraction bits) to ``f`` bits is
    ``floor((x + lsb * 2**-F + 2**-(f+1) - 2**-F) / 2**-f)``, where ``lsb`` is bit
    ``F - f`` of ``x``'s raw value (the last bit kept): a tie rounds up exactly
    when the truncated value is odd (as ``cpu_reference.requantize``'s RND_CONV).
    A negative ``x`` gives at most ``2**-(f+1) - 2**-F`` below one step, so the
    saturating cast (``k=0``) makes it 0, as ReLU does.
    """
    f = bits - integer
    frac = int(v.kif[2])
    if frac > f:
        lsb = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # the last kept bit, as 2**-f or 0
        v = v + lsb * 2.0 ** (f - frac) + (2.0 ** (-f - 1) - 2.0**-frac)
    return v.quantize(0, integer, f, "SAT", "TRN")


def _da4ml():
    try:
        import da4ml
    except ImportError:
        raise ConversionError(
            "da4ml is not installed: the rtl backend needs it (pip install 'pynq-mnist[host]', "
            "which pins da4ml==0.5.2)"
        ) from None
    return da4ml


def trace_network(mlp: QuantizedMLP, wire_bits: int | None = None):
    """da4ml's combinational logic (``CombLogic``) of ``mlp``, exact.

    Its input is each pixel's top ``wire_bits`` (default: the narrowest wire
    that carries the ``mlp.input_bits`` the network reads).
    """
    _da4ml()
    from da4ml.trace import FixedVariableArray, comb_trace

    wire_bits = wire_bits_for(mlp.input_bits) if wire_bits is None else wire_bits
    if wire_bits < mlp.input_bits:
        raise ConversionError(
            f"a {wire_bits}-bit wire cannot carry the {mlp.input_bits} pixel bits the student reads"
        )
    n = mlp.n_inputs
    zeros = np.zeros(n, dtype=np.int64)
    x_in = FixedVariableArray.from_kif(zeros, zeros, np.full(n, wire_bits))
    x = x_in
    if mlp.input_bits != wire_bits:
        # only the top input_bits of each pixel reach the adders: wiring, no logic
        x = x_in.quantize(0, 0, mlp.input_bits, "WRAP", "TRN")
    for layer in mlp.layers:
        x = dense_logic(x, layer)
    return comb_trace(x_in, x)


def dense_logic(x, layer: Dense):
    """``layer`` (its exact sum, then its ReLU if any) on da4ml's variables ``x``."""
    from da4ml.trace import FixedVariableArray

    y = x @ (layer.weight * 2.0**-layer.weight_frac) + layer.bias * 2.0**-layer.bias_frac
    if layer.relu is None:
        return y
    bits, integer = layer.relu
    return FixedVariableArray(
        np.array([_relu_half_even(v, bits, integer) for v in y._vars.ravel()]), y.solver_options
    )


def write_network(mlp: QuantizedMLP, dest: Path, wire_bits: int) -> NetRTL:
    """Trace ``mlp`` on a ``wire_bits`` wire, pipeline it, write its Verilog to ``dest``.

    ``dest`` gets the network's modules and da4ml's static building blocks (flat
    ``*.v``); the da4ml project around them (its own C++ binder and Makefile) is
    not kept.
    """
    t0 = time.perf_counter()
    comb = trace_network(mlp, wire_bits)
    net, (k_in, i_in, f_in) = write_logic(
        comb, NET_NAME, dest, dest.parent / "da4ml_pipeline.json", time.perf_counter() - t0
    )
    if not (k_in.max() == 0 and i_in.max() == 0 and f_in.max() == wire_bits):
        raise ConversionError(
            f"da4ml's network input is not ufixed<{wire_bits},0> per pixel "
            f"(k={k_in.max()}, i={i_in.max()}, f={f_in.max()}): the frame register cannot feed it"
        )
    return net


def write_logic(
    comb, name: str, dest: Path, pipeline_json: Path, trace_s: float
) -> tuple[NetRTL, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pipeline da4ml's ``comb`` into the module ``{name}_wrapper``; its Verilog into ``dest``.

    Returns what a wrapper needs of it and the ``(k, i, f)`` of its inputs. Every
    input (output) sits in the widest input's (output's) bits at one binary point.
    ``dest`` may already hold other networks' files (da4ml's static blocks are the same).
    """
    from da4ml.codegen.rtl.rtl_model import RTLModel, get_io_kifs

    t0 = time.perf_counter()
    work = dest.parent / f".{name}.da4ml"
    model = RTLModel(comb, name, work, latency_cutoff=LATENCY_CUTOFF, print_latency=False)
    model.write()
    pipe = model._pipe
    (k_in, i_in, f_in), (k_out, i_out, f_out) = get_io_kifs(pipe)
    dest.mkdir(parents=True, exist_ok=True)
    sources = sorted((work / "src").glob("*.v"))
    generated = "".join(p.read_text() for p in sources)
    # da4ml's building blocks that the network instantiates (lookup_table.v, unused
    # here, reads a memory file when any tool elaborates it).
    sources += [
        p for p in sorted((work / "src" / "static").glob("*.v")) if f"{p.stem} " in generated
    ]
    for path in sources:
        text = path.read_text()
        for new, old in _LINT_CODES.items():
            text = text.replace(f"lint_off {new}", f"lint_off {old}")
            text = text.replace(f"lint_on {new}", f"lint_on {old}")
        (dest / path.name).write_text(text)
    shutil.copy2(work / "model" / "pipeline.json", pipeline_json)
    shutil.rmtree(work)
    width = int(k_out.max() + i_out.max() + f_out.max())
    stages = len(pipe.solutions)
    net = NetRTL(
        module=f"{name}_wrapper",
        input_bits=int(k_in.max() + i_in.max() + f_in.max()) * int(k_in.size),
        output_bits=width * int(k_out.size),
        outputs=int(k_out.size),
        logit_width=width,
        logit_frac=int(f_out.max()),
        logit_signed=bool(k_out.max()),
        pipeline_stages=stages,
        # model_inp is registered into stage 0, each stage into the next, the
        # last into model_out (da4ml's pipeline_logic_gen, register_layers=1).
        latency_cycles=stages + 1,
        estimate={
            "lut": round(float(pipe.cost)),
            "ff": int(pipe.reg_bits),
            "basis": "da4ml's cost model of the network alone (no wrapper), not a synthesis",
            "da4ml_version": _da4ml_version(),
            "latency_cutoff": LATENCY_CUTOFF,
        },
        trace_s=trace_s + time.perf_counter() - t0,
    )
    return net, (k_in, i_in, f_in)


def _da4ml_version() -> str:
    return _da4ml().__version__
