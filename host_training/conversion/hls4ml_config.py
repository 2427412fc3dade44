"""The hls4ml configuration of a QKeras student: precisions, strategies, reuse factors.

Everything here follows from the model itself:

* the input is the pixel encoding's ``ap_ufixed<8,0>`` (raw bytes, no arithmetic);
* weights, biases and activations take the QKeras quantizers' types (hls4ml reads
  them); hidden accumulators and results are ``auto``, which hls4ml infers from
  the operand types and fan-in so that they can never overflow;
* the last layer's result is set by hand (hls4ml's automatic
  type for it is a poor fit): wide enough for the largest sum its *actual*
  quantized weights can produce, with every fraction bit of the products, so
  the logits are exact;
* each layer gets the smallest valid reuse factor that keeps its multipliers per
  clock within :data:`MULTS_PER_CYCLE`, and the Resource strategy where that
  factor is above 1. This keeps every unrolled array far below HLS's partition
  limit (4,096) and the design within an xc7z020 at 100 MHz with room to spare.

:func:`stage_cycles` models the cycles per frame these choices aim at (the
conversion's :func:`target_ii` and the design search both call it). It is a
design target from a simple cycle model, not a synthesis result.
"""

from __future__ import annotations

import math

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.errors import Refused
from pynq_mnist.fixed_point import FixedType
from pynq_mnist.host_training.conversion import wrapper

#: Multipliers per clock one layer may use. 4-8 bit products map to LUTs, roughly
#: 30-60 LUTs each with their adder tree: 256 keeps a layer near 10k of the
#: xc7z020's 53,200 LUTs.
MULTS_PER_CYCLE = 256
#: Per arch: how tensors move between layers.
IO_TYPES = {"mlp": "io_parallel", "cnn": "io_stream"}
#: Vivado HLS's default limit on the elements of a completely partitioned array.
PARTITION_LIMIT = 4096
SUPPORTED_LAYERS = {"InputLayer", "QDense", "QConv2D", "QActivation", "MaxPooling2D", "Flatten"}


class ConversionError(Refused, ValueError):
    """The student cannot be converted as it is; the message says why and what to do."""


# --------------------------------------------------------------------------- checks


def check_student(model, backend: str = "hls") -> None:
    """Raise :class:`ConversionError` unless the model is a student ``backend`` converts."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "TruncatePixels" and backend != "rtl":
            raise ConversionError(
                f"layer {layer.name!r} keeps the top {layer.bits} bits of each pixel "
                "(student.input_bits), which only the rtl backend builds: convert with "
                "--backend rtl, or train with student.input_bits null"
            )
        if kind not in SUPPORTED_LAYERS | {"TruncatePixels"}:
            raise ConversionError(
                f"layer {layer.name!r} is a {kind}; the converter takes only "
                f"{', '.join(sorted(SUPPORTED_LAYERS))}"
            )
        if kind in ("QDense", "QConv2D"):
            for what in ("kernel", "bias"):
                q = getattr(layer, f"{what}_quantizer_internal", None)
                if q is None or type(q).__name__ != "quantized_bits":
                    raise ConversionError(
                        f"layer {layer.name!r} needs a quantized_bits {what} quantizer"
                    )
                if q.alpha not in (None, 1, 1.0):
                    raise ConversionError(
                        f"layer {layer.name!r}: {what} quantizer alpha={q.alpha!r}; use alpha=1 "
                        "so weights are plain fixed-point numbers"
                    )
            if layer.get_config().get("activation") not in (None, "linear"):
                raise ConversionError(
                    f"layer {layer.name!r} has a built-in activation; use a separate QActivation"
                )
    last = model.layers[-1]
    if type(last).__name__ != "QDense":
        raise ConversionError(
            f"the last layer must be the linear QDense 'logits', got {last.name!r}"
        )
    if model.input_shape[1:] not in ((784,), (28, 28, 1)):
        raise ConversionError(
            f"input shape {model.input_shape[1:]} is neither (784,) nor (28, 28, 1)"
        )


# --------------------------------------------------------------------------- precisions


def _quantized(layer) -> tuple[np.ndarray, np.ndarray]:
    """The layer's kernel and bias exactly as QKeras (and hls4ml) use them."""
    kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel), dtype=np.float64)
    bias = np.asarray(layer.bias_quantizer_internal(layer.bias), dtype=np.float64)
    return kernel, bias


def _frac_bits(values: np.ndarray) -> int:
    """Fraction bits needed to hold every value exactly."""
    frac = 0
    while not np.all(values * 2.0**frac == np.round(values * 2.0**frac)):
        frac += 1
        if frac > 32:
            raise ConversionError("weights are not fixed-point numbers (quantize them)")
    return frac


def _previous(model, layer):
    """The layer feeding ``layer`` in the chain, or None for the model input."""
    index = model.layers.index(layer)
    return model.layers[index - 1] if index > 0 else None


def _input_type(model, layer) -> FixedType:
    """The fixed-point type of ``layer``'s input: the last quantizer before it."""
    node = _previous(model, layer)
    while node is not None:
        kind = type(node).__name__
        if kind == "QActivation":
            q = node.quantizer
            if type(q).__name__ != "quantized_relu":
                raise ConversionError(
                    f"{node.name!r}: only quantized_relu activations are supported"
                )
            return FixedType(int(q.bits), int(q.integer), signed=False)
        if kind not in ("Flatten", "MaxPooling2D", "InputLayer"):
            raise ConversionError(
                f"cannot trace the input type of {layer.name!r} through {node.name!r}"
            )
        node = _previous(model, node)
    return FixedType(encoding.PIXEL_BITS, 0, signed=False)


def logit_type(model) -> FixedType:
    """An exact, overflow-free result type for the last layer, from its actual weights.

    Every logit is ``sum_i w_ij x_i + b_j`` with ``0 <= x_i <= x_max``; its
    magnitude (and every partial sum's) is at most
    ``max_j sum_i |w_ij| x_max + |b_j|``.
    """
    layer = model.layers[-1]
    x_type = _input_type(model, layer)
    kernel, bias = _quantized(layer)
    x_max = 2.0**x_type.integer - 2.0**-x_type.frac
    bound = float(
        np.max(np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0) * x_max + np.abs(bias))
    )
    frac = max(x_type.frac + _frac_bits(kernel), _frac_bits(bias))
    integer = math.floor(math.log2(bound)) + 2 if bound > 0 else 1
    return FixedType(integer + frac, integer)


# --------------------------------------------------------------------------- parallelism


def _mult_shape(layer) -> tuple[int, int]:
    """(inputs, outputs) of one kernel evaluation, as hls4ml counts them."""
    kernel = layer.kernel
    return int(np.prod(kernel.shape[:-1])), int(kernel.shape[-1])


def reuse_factor(n_in: int, n_out: int, mults_per_cycle: int = MULTS_PER_CYCLE) -> int:
    """The smallest reuse factor hls4ml accepts that needs at most ``mults_per_cycle``."""
    import hls4ml

    want = math.ceil(n_in * n_out / mults_per_cycle)
    backend = hls4ml.backends.get_backend("Vivado")
    return min(rf for rf in backend.get_valid_reuse_factors(n_in, n_out) if rf >= want)


def hls_config(model, arch: str, mults_per_cycle: int = MULTS_PER_CYCLE) -> dict:
    """The hls4ml configuration (hls4ml's own nested-dict keys) for the student."""
    import hls4ml

    check_student(model)
    if arch not in IO_TYPES:
        raise ConversionError(f"unknown arch {arch!r}; expected one of {sorted(IO_TYPES)}")
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
    config["Model"]["Strategy"] = "Resource"
    layers = config["LayerName"]
    input_name = model.input_names[0]
    if input_name not in layers:
        raise ConversionError(
            f"cannot find the input layer {input_name!r} in hls4ml's configuration"
        )
    layers[input_name]["Precision"]["result"] = encoding.PIXEL_HLS_TYPE
    for name, rf in planned_reuse_factors(model, mults_per_cycle).items():
        cfg = layers[name]
        cfg["ReuseFactor"] = rf
        cfg["Strategy"] = "Resource" if rf > 1 else "Latency"
        cfg["Precision"].update(accum="auto", result="auto")
    # The logits layer and the linear activation hls4ml appends to it both carry
    # the hand-set type (the appended one would otherwise cut it to the default).
    last, exact = model.layers[-1].name, str(logit_type(model))
    layers[last]["Precision"].update(accum=exact, result=exact)
    if f"{last}_linear" in layers:
        layers[f"{last}_linear"]["Precision"]["result"] = exact
    return config


def target_ii(model, arch: str, hls_model) -> dict[str, int]:
    """Cycles per frame of each stage, with the reuse factors hls4ml used."""
    return stage_cycles(model, arch, reuse_factors(model, hls_model))


def planned_reuse_factors(model, mults_per_cycle: int = MULTS_PER_CYCLE) -> dict[str, int]:
    """The reuse factor :func:`hls_config` gives each weighted layer, from the Keras model."""
    return {
        layer.name: reuse_factor(*_mult_shape(layer), mults_per_cycle)
        for layer in model.layers
        if type(layer).__name__ in ("QDense", "QConv2D")
    }


def stage_cycles(model, arch: str, reuse: dict[str, int]) -> dict[str, int]:
    """Cycles per frame each stage of the IP needs (a model of the design, not synthesis).

    The wrapper reads one beat per clock (io_parallel) or hands the network one
    pixel per clock (io_stream); a Resource-strategy layer starts a new input
    every ``ReuseFactor`` clocks; an io_stream convolution or pooling layer takes
    one input pixel per start; io_stream dense reads its input one stream word
    per clock. :func:`frame_interval` combines the stages. ``reuse`` maps each weighted layer to its reuse factor: hls4ml's
    (:func:`target_ii`) or the planned one (:func:`planned_reuse_factors`, which
    the design search uses before any conversion).
    """
    pixels = int(np.prod(model.input_shape[1:]))
    stages = {"read_frame": pixels // wrapper.PIXELS_PER_BEAT if arch == "mlp" else pixels}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "MaxPooling2D":
            stages[layer.name] = int(np.prod(layer.input_shape[1:-1]))
        elif kind in ("QDense", "QConv2D"):
            rf = reuse[layer.name]
            if arch == "mlp":
                stages[layer.name] = rf
            elif kind == "QConv2D":
                stages[layer.name] = int(np.prod(layer.input_shape[1:-1])) * rf
            else:
                stages[layer.name] = _stream_words(model, layer) + rf
    stages["write_result"] = 1
    return stages


def frame_interval(stages: dict[str, int], arch: str) -> int:
    """Cycles from one frame's start to the next's, modelled from ``target_ii`` stages.

    io_stream (CNN): the stages are DATAFLOW processes joined by FIFOs and
    overlap, so the slowest stage sets the interval (the largest). io_parallel
    (MLP): the wrapper runs its stages one after the other (UG1399 allows
    ap_ctrl_none over DATAFLOW only with FIFO channels, and the network's
    arguments are arrays), so a frame is read, computed and written before the
    next is read: the interval is their sum. Inside the network hls4ml's own
    DATAFLOW still overlaps the layers of successive calls, but the wrapper
    calls it once per frame and waits, so each layer adds its cycles. Pipeline
    depths are not modelled: the synthesised interval is longer by them.
    """
    return sum(stages.values()) if IO_TYPES[arch] == "io_parallel" else max(stages.values())


def _stream_words(model, layer) -> int:
    """Stream words an io_stream dense layer reads: one per pixel after a Flatten."""
    source = _previous(model, layer)
    if type(source).__name__ == "Flatten":
        return int(np.prod(source.input_shape[1:-1]))
    return 1


def reuse_factors(model, hls_model) -> dict[str, int]:
    """The reuse factor hls4ml actually used for each weighted layer."""
    return {
        layer.name: int(hls_model.graph[layer.name].get_attr("reuse_factor"))
        for layer in model.layers
        if type(layer).__name__ in ("QDense", "QConv2D")
    }
