"""The CNN student as integers: conv blocks (3x3 valid conv, quantized ReLU, 2x2 max pool), a dense head.

The same arithmetic as :mod:`.network` for the MLP: every convolution and dense
sum is exact, each ReLU casts to ``ufixed<bits, integer>`` rounding half to even
and saturating, max pooling picks one of its inputs (no rounding), and the
flatten is Keras's row-major ``(row, column, channel)`` order. A convolution's
weights are kept as the ``(9 * C_in, F)`` matrix of its windows, rows in
``(ky, kx, channel)`` order (the numpy reference's ``im2col`` order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pynq_mnist import encoding
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError, check_student
from pynq_mnist.host_training.conversion.rtl.network import (
    Dense,
    append_layer,
    dense_fields,
    input_specs,
)
from pynq_mnist.network_file import write_network

#: The convolution kernel and the pooling window every conv block uses.
KERNEL, POOL = 3, 2


@dataclass(frozen=True)
class QuantizedCNN:
    """Conv blocks (each ``Dense`` a conv's window matrix, with its ReLU), then the head."""

    convs: tuple[Dense, ...]
    head: tuple[Dense, ...]
    image: tuple[int, int] = (28, 28)
    input_bits: int = encoding.PIXEL_BITS

    def block_shapes(self) -> list[tuple[int, int, int]]:
        """``(height, width, channels)`` of each conv block's input, then of the head's."""
        h, w = self.image
        shapes = [(h, w, 1)]
        for conv in self.convs:
            h, w = (h - KERNEL + 1) // POOL, (w - KERNEL + 1) // POOL
            shapes.append((h, w, int(conv.weight.shape[1])))
        return shapes

    @property
    def layers(self) -> tuple[Dense, ...]:
        """Every weight layer, the convs' window matrices first (as the MLP's ``layers``)."""
        return (*self.convs, *self.head)

    @property
    def nonzero_weights(self) -> int:
        return sum(layer.nonzero_weights for layer in self.layers)


def cnn_from_student(model) -> QuantizedCNN:
    """The integer network of a QKeras CNN student (:func:`.models.build_student`, arch cnn).

    Raises
    ------
    ConversionError
        When a layer is not one this backend builds (another kernel, padding,
        stride or pool; a conv without its ReLU and pooling; ...).
    """
    check_student(model, backend="rtl")
    convs: list[Dense] = []
    head: list[Dense] = []
    pending: dict | None = None
    input_bits = encoding.PIXEL_BITS
    flattened = False
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "TruncatePixels":
            input_bits = int(layer.bits)
        elif kind == "QConv2D":
            shape = (layer.kernel_size, layer.strides, layer.padding, layer.dilation_rate)
            if (
                flattened
                or pending is not None
                or shape != ((KERNEL,) * 2, (1, 1), "valid", (1, 1))
            ):
                raise ConversionError(
                    f"{layer.name!r}: the rtl backend builds 3x3 valid stride-1 convolutions, "
                    "each followed by its quantized_relu and a 2x2 max pooling"
                )
            pending = dense_fields(layer)
            pending["weight"] = pending["weight"].reshape(-1, pending["weight"].shape[-1])
        elif kind == "QDense":
            if not flattened or pending is not None:
                raise ConversionError(f"{layer.name!r}: a QDense must follow the Flatten")
            pending = dense_fields(layer)
        elif kind == "QActivation":
            q = layer.quantizer
            if pending is None or type(q).__name__ != "quantized_relu" or q.use_sigmoid:
                raise ConversionError(f"{layer.name!r}: only a quantized_relu after a layer")
            if float(q.negative_slope) != 0.0:
                raise ConversionError(f"{layer.name!r}: a leaky quantized_relu")
            (head if flattened else convs).append(
                Dense(**pending, relu=(int(q.bits), int(q.integer)))
            )
            pending = None
        elif kind == "MaxPooling2D":
            if (layer.pool_size, layer.strides, layer.padding) != (
                (POOL,) * 2,
                (POOL,) * 2,
                "valid",
            ):
                raise ConversionError(f"{layer.name!r}: the rtl backend pools 2x2, stride 2")
        elif kind == "Flatten":
            flattened = True
        elif kind != "InputLayer":
            raise ConversionError(f"the rtl backend does not build {kind} ({layer.name!r})")
    if pending is None or not convs:
        raise ConversionError("a CNN student ends with the linear QDense 'logits' after its convs")
    head.append(Dense(**pending, relu=None))
    return QuantizedCNN(tuple(convs), tuple(head), tuple(model.input_shape[1:3]), input_bits)


def write_cnn_network_file(cnn: QuantizedCNN, path: str | os.PathLike) -> None:
    """``cnn`` as the ``.npz`` the numpy reference runs (``io_parallel``: pool after the max)."""
    specs = input_specs(cnn.input_bits)
    arrays: dict = {}
    x = (cnn.input_bits, (1 << cnn.input_bits) - 1)
    for conv in cnn.convs:
        x = append_layer(
            specs, arrays, conv, "conv2d", x, kernel=[KERNEL] * 2, stride=[1, 1], pads=[0] * 4
        )
        relu = specs[-1]["result_t"]
        specs.append(
            {
                "kind": "maxpool2d",
                "name": f"{conv.name}_pool",
                "pool": [POOL] * 2,
                "stride": [POOL] * 2,
                "accum_t": relu,
                "result_t": relu,
            }
        )
    h, w, c = cnn.block_shapes()[-1]
    specs.append({"kind": "reshape", "name": "flatten", "shape": [h * w * c], "result_t": relu})
    for layer in cnn.head:
        x = append_layer(specs, arrays, layer, "dense", x)
    write_network(path, "io_parallel", [*cnn.image, 1], specs, arrays)
