"""The MLP student as integers: what both da4ml and the numpy reference compute.

A QKeras MLP student (``QDense`` with ``quantized_bits(bits, integer, alpha=1)``
weights and biases, ``quantized_relu(bits, integer)`` between them, a linear
``QDense`` ``logits`` last) is, exactly:

- the input: pixel ``p`` as ``ufixed<8,0>`` (``p * encoding.PIXEL_SCALE``, :mod:`pynq_mnist.encoding`),
  truncated to its top ``input_bits`` (``ufixed<input_bits,0>``, rounding toward
  zero) when the student starts with ``TruncatePixels``;
- each dense layer: an exact sum ``x @ W + b`` (no rounding, no overflow);
- each ReLU: that sum cast to ``ufixed<bits, integer>`` rounding half to even
  (``tf.round``, which QKeras's ``quantized_relu`` uses; hls4ml's ``RND_CONV``)
  and saturating.

:func:`mlp_from_student` reads those numbers from the model once;
:func:`write_network_file` writes them in the format of
:class:`pynq_mnist.board.cpu_reference.CpuReference` (the numpy reference the
board also runs), and :mod:`.trace` gives them to da4ml.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError, check_student
from pynq_mnist.mnist import IMAGE_SHAPE
from pynq_mnist.network_file import write_network


@dataclass(frozen=True)
class Dense:
    """One dense layer in raw integers: the value of ``weight`` is ``weight * 2**-weight_frac``.

    ``relu`` is the ``(bits, integer)`` of the ``quantized_relu`` after the layer,
    or None for the logits.
    """

    name: str
    weight: np.ndarray  # int64 (n_in, n_out)
    bias: np.ndarray  # int64 (n_out,)
    weight_frac: int
    bias_frac: int
    weight_bits: int
    bias_bits: int
    relu: tuple[int, int] | None

    @property
    def nonzero_weights(self) -> int:
        return int(np.count_nonzero(self.weight))


@dataclass(frozen=True)
class QuantizedMLP:
    """The student: dense layers from the pixels to the logits."""

    layers: tuple[Dense, ...]
    n_inputs: int
    #: Fraction bits of each pixel the network reads (the top ones of its byte).
    input_bits: int = encoding.PIXEL_BITS

    @property
    def n_outputs(self) -> int:
        return int(self.layers[-1].weight.shape[1])

    @property
    def nonzero_weights(self) -> int:
        return sum(layer.nonzero_weights for layer in self.layers)


def _raw(values: np.ndarray, frac: int, bits: int, what: str) -> np.ndarray:
    """``values * 2**frac`` as integers of ``bits`` signed bits, or a clear error."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0**frac
    raw = np.round(scaled)
    if not np.array_equal(raw, scaled):
        raise ConversionError(f"{what} are not multiples of 2**-{frac}: quantize them")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if raw.min(initial=0) < lo or raw.max(initial=0) > hi:
        raise ConversionError(f"{what} do not fit in {bits} signed bits")
    return raw.astype(np.int64)


def mlp_from_student(model) -> QuantizedMLP:
    """The integer network of a QKeras MLP student (see the module docstring).

    Raises
    ------
    ConversionError
        When the model is not such a student (a CNN, another activation, ...).
    """
    check_student(model, backend="rtl")
    n_inputs = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if model.input_shape[1:] != (n_inputs,):
        raise ConversionError(
            f"the rtl backend takes the MLP student (input (784,)), got input "
            f"{model.input_shape[1:]}; convert a CNN with --backend hls4ml"
        )
    layers: list[Dense] = []
    pending: dict | None = None
    input_bits = encoding.PIXEL_BITS
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "TruncatePixels":
            if layers or pending is not None:
                raise ConversionError(
                    f"{layer.name!r}: TruncatePixels must come before the QDense layers"
                )
            input_bits = int(layer.bits)
        elif kind == "QDense":
            if pending is not None:
                raise ConversionError(
                    f"{pending['name']!r} is followed by {layer.name!r} with no ReLU between"
                )
            pending = dense_fields(layer)
        elif kind == "QActivation":
            q = layer.quantizer
            if pending is None or type(q).__name__ != "quantized_relu":
                raise ConversionError(f"{layer.name!r}: only a quantized_relu after a QDense")
            if float(q.negative_slope) != 0.0 or q.use_sigmoid:
                raise ConversionError(f"{layer.name!r}: a leaky or sigmoid quantized_relu")
            layers.append(Dense(**pending, relu=(int(q.bits), int(q.integer))))
            pending = None
        elif kind != "InputLayer":
            raise ConversionError(f"the rtl backend takes Dense/ReLU layers only, not {kind}")
    if pending is None:
        raise ConversionError("the last layer must be the linear QDense 'logits'")
    layers.append(Dense(**pending, relu=None))
    return QuantizedMLP(tuple(layers), n_inputs, input_bits)


def dense_fields(layer) -> dict:
    kq, bq = layer.kernel_quantizer_internal, layer.bias_quantizer_internal
    kernel = np.asarray(kq(layer.kernel), dtype=np.float64)
    bias = np.asarray(bq(layer.bias), dtype=np.float64)
    # quantized_bits(bits, integer): sign + integer bits + the rest fraction bits.
    w_frac = int(kq.bits) - int(kq.integer) - 1
    b_frac = int(bq.bits) - int(bq.integer) - 1
    return {
        "name": layer.name,
        "weight": _raw(kernel, w_frac, int(kq.bits), f"{layer.name!r} weights"),
        "bias": _raw(bias, b_frac, int(bq.bits), f"{layer.name!r} biases"),
        "weight_frac": w_frac,
        "bias_frac": b_frac,
        "weight_bits": int(kq.bits),
        "bias_bits": int(bq.bits),
    }


# --------------------------------------------------------------------------- numpy reference


def _fixed(width: int, integer: int, signed: bool, rounding="TRN", saturation="WRAP") -> dict:
    return {
        "width": width,
        "integer": integer,
        "signed": signed,
        "rounding": rounding,
        "saturation": saturation,
        "saturation_bits": 0,
    }


def write_network_file(mlp: QuantizedMLP, path: str | os.PathLike) -> None:
    """``mlp`` as the ``.npz`` that :class:`~pynq_mnist.board.cpu_reference.CpuReference` runs.

    Every dense accumulator is exact (wide enough for the largest sum its
    actual weights can reach, with every fraction bit); each ReLU is its
    ``ufixed<bits, integer>`` with ``RND_CONV`` and ``SAT``.
    """
    specs = input_specs(mlp.input_bits)
    arrays: dict[str, np.ndarray] = {}
    x = (mlp.input_bits, (1 << mlp.input_bits) - 1)  # raw input: fraction bits, bound
    for layer in mlp.layers:
        x = append_layer(specs, arrays, layer, "dense", x)
    write_network(path, "io_parallel", [mlp.n_inputs], specs, arrays)


def input_specs(input_bits: int) -> list[dict]:
    """The reference's input layers: the pixel byte, then its top ``input_bits`` (floor)."""
    specs = [{"kind": "input", "name": "pixels", "result_t": _fixed(encoding.PIXEL_BITS, 0, False)}]
    if input_bits != encoding.PIXEL_BITS:
        specs.append(
            {"kind": "linear", "name": "pixel_bits", "result_t": _fixed(input_bits, 0, False)}
        )
    return specs


def append_layer(
    specs: list[dict], arrays: dict, layer: Dense, kind: str, x: tuple[int, int], **extra
) -> tuple[int, int]:
    """Append ``layer`` (``kind`` dense or conv2d, ``extra`` its spec's own keys) and its ReLU.

    ``x`` is the ``(fraction bits, largest raw value)`` of the layer's inputs; the
    accumulator is exact for them. Returns the same for the layer's outputs.
    """
    x_frac, x_max = x
    frac = max(x_frac + layer.weight_frac, layer.bias_frac)
    bias_raw = np.abs(layer.bias) << (frac - layer.bias_frac)
    weights = np.abs(layer.weight).reshape(-1, layer.weight.shape[-1])
    bound = int(
        ((weights.sum(axis=0) * x_max) << (frac - x_frac - layer.weight_frac)).max(initial=0)
        + bias_raw.max(initial=0)
    )
    width = max(1, math.ceil(math.log2(bound + 1))) + 1  # + sign
    accum = _fixed(width, width - frac, True)
    i = len(specs)
    specs.append(
        {
            "kind": kind,
            "name": layer.name,
            "n_out": int(layer.weight.shape[-1]),
            "weight_t": _fixed(layer.weight_bits, layer.weight_bits - layer.weight_frac, True),
            "bias_t": _fixed(layer.bias_bits, layer.bias_bits - layer.bias_frac, True),
            "accum_t": accum,
            "result_t": accum,
            **extra,
        }
    )
    arrays[f"layer{i}_weight"] = layer.weight
    arrays[f"layer{i}_bias"] = layer.bias
    if layer.relu is None:
        return frac, bound
    bits, integer = layer.relu
    specs.append(
        {
            "kind": "relu",
            "name": f"{layer.name}_relu",
            "result_t": relu_type(bits, integer),
        }
    )
    return bits - integer, (1 << bits) - 1


def relu_type(bits: int, integer: int) -> dict:
    """A quantized ReLU's result: ``ufixed<bits, integer>``, round half to even, saturate."""
    return _fixed(bits, integer, False, "RND_CONV", "SAT")
