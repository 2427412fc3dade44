"""The student network on the CPU in numpy, bit-exact with the hls4ml IP.

This is the ARM baseline of the benchmark and an oracle for the FPGA: it reads
the network file (:mod:`pynq_mnist.network_file`) that
:func:`pynq_mnist.host_training.conversion.network_export.export_network` writes
from the hls4ml ``ModelGraph`` and recomputes every layer in integers
(:mod:`pynq_mnist.fixed_point`). Each layer follows what hls4ml's C++ does:

- Dense and Conv2D: every product ``x * w`` is cast to ``accum_t``, the bias is
  cast to ``accum_t``, the sum is kept in ``accum_t``, and the sum is cast to the
  result type. When ``accum_t`` keeps all fractional bits of a product (the usual
  case) the products are exact and the dot products run on BLAS in float32 or
  float64, chosen so that every partial sum stays an exactly representable integer.
- ReLU: ``max(x, 0)`` cast to the result type; linear: a plain cast.
- MaxPooling2D: under ``io_stream`` each input is cast to the pool's ``accum_t``
  before the maximum, under ``io_parallel`` after it; then cast to the result type.
- Zero padding and reshape (flatten): data movement, then a cast.

A pixel's raw byte enters with the fraction bits of the bundle's pixel format
(``BundleMetadata.input.pixel_frac_bits``), given to :meth:`CpuReference.from_file`.
Given the bundle's input format (``wire=BundleMetadata.input``), the reference
first reduces each frame to what the wire carries (``InputFormat.on_wire``: the
top ``wire_bits`` of each pixel), so it sees exactly the IP's input.
Only numpy and the standard library are imported: this runs on the board.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pynq_mnist.fixed_point import FixedPointError, FixedType, requantize
from pynq_mnist.network_file import NetworkFileError, read_network

if TYPE_CHECKING:
    from pynq_mnist.bundle import InputFormat

# Frames per pass are chosen so that the largest layer output stays near this many
# elements (2 MiB of int64): small enough for the caches, large enough for BLAS.
_BATCH_ELEMENTS = 2**18


# Layers are dataclasses: the fields after ``name, in_t, out_t`` are each kind's own.
_layer = dataclass(frozen=True, eq=False, repr=False)


@_layer
class _Layer:
    """A layer: raw integers of ``in_t`` in, raw integers of ``out_t`` out."""

    name: str
    in_t: FixedType
    out_t: FixedType

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r} -> {self.out_t})"


@_layer
class _Input(_Layer):
    """Raw pixel bytes, with ``pixel_frac_bits`` fraction bits, cast to the input type."""

    pixel_frac_bits: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return requantize(x, self.pixel_frac_bits, self.out_t)


@_layer
class _Cast(_Layer):
    """Linear activation, flatten/reshape: the value, cast to the result type."""

    shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.shape is not None:
            x = x.reshape((x.shape[0], *self.shape))
        return requantize(x, self.in_t.frac, self.out_t)


@_layer
class _Relu(_Layer):
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return requantize(np.maximum(x, 0), self.in_t.frac, self.out_t)


@_layer
class _ZeroPad2D(_Layer):
    pads: tuple[int, int, int, int]  # top, bottom, left, right

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return requantize(_pad(x, self.pads), self.in_t.frac, self.out_t)


def _pad(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))


@_layer
class _MaxPool2D(_Layer):
    accum_t: FixedType
    pool: tuple[int, int]
    stride: tuple[int, int]
    cast_before_max: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        (ph, pw), (sh, sw) = self.pool, self.stride
        oh, ow = (x.shape[1] - ph) // sh + 1, (x.shape[2] - pw) // sw + 1
        frac = self.in_t.frac
        if self.cast_before_max:
            x, frac = requantize(x, frac, self.accum_t), self.accum_t.frac
        y = None
        for i in range(ph):
            for j in range(pw):
                win = x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
                y = win if y is None else np.maximum(y, win)
        if not self.cast_before_max:
            y, frac = requantize(y, frac, self.accum_t), self.accum_t.frac
        return requantize(y, frac, self.out_t)


class _MultiplyAccumulate:
    """``cast<result>(cast<accum>(bias) + sum cast<accum>(x * w))`` over the rows of ``x``."""

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        in_t: FixedType,
        w_t: FixedType,
        b_t: FixedType,
        accum_t: FixedType,
        name: str,
    ):
        self.w = weight.astype(np.int64)  # (n_in, n_out)
        self.product_frac = in_t.frac + w_t.frac
        self.accum_t = accum_t
        self.bias = requantize(bias, b_t.frac, accum_t)
        self.exact_products = accum_t.frac >= self.product_frac
        xmax = in_t.raw_bound
        colsum = int(np.abs(self.w).sum(axis=0).max(initial=0))
        bound = xmax * colsum  # largest |partial sum| of raw products
        if accum_t.saturation != "WRAP":
            # Saturation at each step depends on the summation order; only take it when it never triggers.
            total = bound * 2 ** max(0, accum_t.frac - self.product_frac) + int(
                np.abs(self.bias).max(initial=0)
            )
            if total > accum_t.raw_max:
                raise NetworkFileError(
                    f"{name}: accumulator {accum_t} saturates and can overflow (|sum| up to {total} raw); "
                    "the result would depend on the summation order. Use a WRAP accumulator or a wider one."
                )
        if bound >= 2**62:
            raise NetworkFileError(f"{name}: partial sums up to {bound} do not fit int64")
        if bound < 2**24:
            self.dot_dtype = np.float32
        elif bound < 2**53:
            self.dot_dtype = np.float64
        else:
            self.dot_dtype = np.int64
        self.w_dot = self.w.astype(self.dot_dtype)

    @property
    def operand_dtype(self) -> type:
        """The dtype ``x`` is best built in (im2col writes its patches straight into it)."""
        return self.dot_dtype if self.exact_products else np.int64

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Accumulator raw values (int64, ``accum_t``) for rows ``x`` of shape (M, n_in)."""
        if self.exact_products:
            acc = (x.astype(self.dot_dtype, copy=False) @ self.w_dot).astype(np.int64)
            acc <<= self.accum_t.frac - self.product_frac
        else:
            acc = self._truncated_products(x)
        acc += self.bias
        return requantize(acc, self.accum_t.frac, self.accum_t)

    def _truncated_products(self, x: np.ndarray) -> np.ndarray:
        """Sum of products each cast to ``accum_t`` on its own (it drops fractional bits)."""
        n_in, n_out = self.w.shape
        rows = max(1, 2**22 // (n_in * n_out))
        out = np.empty((x.shape[0], n_out), dtype=np.int64)
        for i in range(0, x.shape[0], rows):
            p = x[i : i + rows, :, None].astype(np.int64) * self.w[None]
            out[i : i + rows] = requantize(p, self.product_frac, self.accum_t).sum(axis=1)
        return out


@_layer
class _Dense(_Layer):
    mac: _MultiplyAccumulate

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return requantize(self.mac(x.reshape(x.shape[0], -1)), self.mac.accum_t.frac, self.out_t)


@_layer
class _Conv2D(_Layer):
    mac: _MultiplyAccumulate
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _pad(x, self.pads)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        n, h, w, c = x.shape
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        cols = np.empty((n, oh, ow, kh, kw, c), dtype=self.mac.operand_dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j, :] = x[
                    :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :
                ]
        acc = self.mac(cols.reshape(n * oh * ow, kh * kw * c))
        return requantize(acc, self.mac.accum_t.frac, self.out_t).reshape(n, oh, ow, -1)


class CpuReference:
    """The exported hls4ml network, run in numpy integers.

    Build it with :meth:`from_file`; call :meth:`classify` or :meth:`logits`.
    """

    def __init__(
        self,
        layers: list[_Layer],
        input_shape: tuple[int, ...],
        io_type: str,
        source: str = "",
        wire: InputFormat | None = None,
    ):
        self.layers = layers
        self.input_shape = input_shape
        self.io_type = io_type
        self.source = source
        self.wire = wire
        self.output_type = layers[-1].out_t
        self.batch = self._batch_size()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, pixel_frac_bits: int, wire: InputFormat | None = None
    ) -> CpuReference:
        """Load a network written by ``export_network``.

        Parameters
        ----------
        path : path
            The network file (a bundle's ``files["network"]``).
        pixel_frac_bits : int
            Fraction bits of a raw pixel byte: the bundle's
            ``metadata.input.pixel_frac_bits`` (pixel ``p`` means ``p * 2**-pixel_frac_bits``).
        wire : InputFormat, optional
            The bundle's ``metadata.input``: frames are first reduced to what its
            wire carries (``wire.on_wire``). Without it the pixels are used whole,
            as on an 8-bit wire.

        Raises
        ------
        NetworkFileError
            When the file is not such a network, or holds a layer or type this
            reference does not implement (the message names it).
        """
        source = os.fspath(path)
        graph, arrays = read_network(source)
        return cls(
            _build_layers(graph, arrays, source, pixel_frac_bits),
            tuple(graph["input_shape"]),
            graph["io_type"],
            source,
            wire,
        )

    def __repr__(self) -> str:
        return f"CpuReference({self.source!r}, {self.io_type}, {len(self.layers)} layers -> {self.output_type})"

    @property
    def logits_frac_bits(self) -> int:
        """Fractional bits of the raw logits: ``logits == logits_raw * 2**-logits_frac_bits``."""
        return self.output_type.frac

    def logits_raw(self, frames: np.ndarray) -> np.ndarray:
        """The last layer's outputs as raw integers (int64, shape (N, classes)).

        Parameters
        ----------
        frames : np.ndarray
            uint8 frames of shape (N, 28, 28) or (N, 784); pixel ``p`` means ``p * 2**-pixel_frac_bits``.
        """
        x = self._check_frames(frames)
        if self.wire is not None:
            x = self.wire.on_wire(x)
        return np.concatenate(
            [self._forward(x[i : i + self.batch]) for i in range(0, len(x), self.batch)]
        )

    def logits(self, frames: np.ndarray) -> np.ndarray:
        """The last layer's outputs as exact float64 values (``logits_raw * 2**-logits_frac_bits``)."""
        return self.logits_raw(frames) * 2.0**-self.logits_frac_bits

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """Class index per frame: argmax of the logits, the first maximum wins (int64, shape (N,))."""
        return np.argmax(self.logits_raw(frames), axis=1)

    def _forward(self, x: np.ndarray, sizes: list[int] | None = None) -> np.ndarray:
        x = x.reshape((x.shape[0], *self.input_shape)).astype(np.int64)
        for layer in self.layers:
            x = layer(x)
            if sizes is not None:
                sizes.append(x.size)
        return x.reshape(x.shape[0], -1)

    def _batch_size(self) -> int:
        """Frames per pass, from the largest layer output of one blank frame."""
        sizes: list[int] = []
        self._forward(np.zeros((1, int(np.prod(self.input_shape))), dtype=np.uint8), sizes)
        return max(1, _BATCH_ELEMENTS // max(sizes))

    def _check_frames(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            raise TypeError(
                f"frames must be uint8 pixels, got dtype {frames.dtype}; do not scale them"
            )
        size = int(np.prod(self.input_shape))
        if frames.ndim < 2 or int(np.prod(frames.shape[1:])) != size:
            raise ValueError(f"frames must have shape (N, 28, 28) or (N, 784), got {frames.shape}")
        if len(frames) == 0:
            raise ValueError("empty batch: pass at least one frame")
        return frames.reshape(len(frames), size)


def _build_layers(graph: dict, arrays: dict, source: str, pixel_frac_bits: int) -> list[_Layer]:
    layers: list[_Layer] = []
    in_t: FixedType | None = None
    for i, spec in enumerate(graph["layers"]):
        kind, name = spec["kind"], spec["name"]
        try:
            out_t = FixedType.from_dict(spec["result_t"])
            if kind == "input":
                layer: _Layer = _Input(name, out_t, out_t, pixel_frac_bits)
            elif in_t is None:
                raise NetworkFileError("the first layer must be the input")
            elif kind in ("dense", "conv2d"):
                mac = _MultiplyAccumulate(
                    arrays[f"layer{i}_weight"].reshape(-1, spec["n_out"]),
                    arrays[f"layer{i}_bias"],
                    in_t,
                    FixedType.from_dict(spec["weight_t"]),
                    FixedType.from_dict(spec["bias_t"]),
                    FixedType.from_dict(spec["accum_t"]),
                    name,
                )
                if kind == "dense":
                    layer = _Dense(name, in_t, out_t, mac)
                else:
                    layer = _Conv2D(
                        name,
                        in_t,
                        out_t,
                        mac,
                        tuple(spec["kernel"]),
                        tuple(spec["stride"]),
                        tuple(spec["pads"]),
                    )
            elif kind == "relu":
                layer = _Relu(name, in_t, out_t)
            elif kind == "linear":
                layer = _Cast(name, in_t, out_t)
            elif kind == "reshape":
                layer = _Cast(name, in_t, out_t, tuple(spec["shape"]))
            elif kind == "zeropad2d":
                layer = _ZeroPad2D(name, in_t, out_t, tuple(spec["pads"]))
            elif kind == "maxpool2d":
                layer = _MaxPool2D(
                    name,
                    in_t,
                    out_t,
                    FixedType.from_dict(spec["accum_t"]),
                    tuple(spec["pool"]),
                    tuple(spec["stride"]),
                    cast_before_max=graph["io_type"] == "io_stream",
                )
            else:
                raise NetworkFileError(f"layer kind {kind!r} is not implemented")
        except (KeyError, TypeError, NetworkFileError, FixedPointError) as e:
            raise NetworkFileError(f"{source}: layer {i} ({name!r}, {kind}): {e}") from None
        layers.append(layer)
        in_t = out_t
    if not layers:
        raise NetworkFileError(f"{source}: no layers")
    return layers
