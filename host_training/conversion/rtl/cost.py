"""What an MLP student would cost as an RTL IP, for the design search: no Verilog written.

:func:`rtl_cost` traces the student with da4ml (seconds for a small net, minutes
for a large one) and returns da4ml's LUT and register estimate of the network
with the wrapper's rate. The rate is a model here: the wrapper takes one frame
per input beat count (98 for MNIST) whatever the network, and the conversion
measures it in Verilator for every bundle it writes.
"""

from __future__ import annotations

from pynq_mnist.host_training.conversion.rtl.network import mlp_from_student
from pynq_mnist.host_training.conversion.rtl.trace import LATENCY_CUTOFF, trace_network
from pynq_mnist.mnist import IMAGE_SHAPE

#: 64-bit beats per frame of uint8 pixels.
BEATS_PER_FRAME = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] // 8


def rtl_cost(model) -> dict:
    """``{"lut_estimate", "ff_estimate", "nonzero_weights", "cycles_per_frame", "basis"}``.

    Parameters
    ----------
    model : keras.Model
        A QKeras MLP student (see :func:`.network.mlp_from_student`).
    """
    from da4ml.trace import to_pipeline

    mlp = mlp_from_student(model)
    pipe = to_pipeline(trace_network(mlp), LATENCY_CUTOFF, verbose=False)
    return {
        "lut_estimate": round(float(pipe.cost)),
        "ff_estimate": int(pipe.reg_bits),
        "nonzero_weights": mlp.nonzero_weights,
        "cycles_per_frame": BEATS_PER_FRAME,
        "basis": "da4ml's estimate of the network (no wrapper); cycles per frame: model "
        "of the wrapper (one frame per input beat count)",
    }
