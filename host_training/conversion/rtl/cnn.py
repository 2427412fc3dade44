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
from pynq_mnist.host_training.conversion.rtl.network import Dense, append_layer, input_specs
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
    def nonzero_weights(self) -> int:
        return sum(layer.nonzero_weights for layer in (*self.convs, *self.head))


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
