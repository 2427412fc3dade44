"""Every hardware cost the project knows for one trained student, in one record.

- ``nonzero_weights``, ``bops``, ``max_weight_bits``: :func:`compression.cost`
  on the quantized weights (what the FPGA gets);
- ``cycles_per_frame``: the conversion's cycle model
  (:func:`hls4ml_config.frame_interval` of :func:`hls4ml_config.stage_cycles`
  with the reuse factors the conversion will choose), a model of the design,
  not a synthesis result;
- ``bytes_per_frame``: bytes the DMA moves per frame, in and out, in the
  wrapper's stream words;
- ``stored_weight_bits``: :func:`compression.cost`'s bits of the weight
  arrays hls4ml writes, pruned zeros included (what caps block RAM where the
  weights live in ROMs, as the MLP's do);
- ``rtl_lut_estimate`` (MLP only, and only in a search whose ``cost`` or
  ``limits`` name it: da4ml traces the net, seconds to minutes a trial):
  da4ml's LUT estimate of the network as the RTL backend would build it
  (:func:`...conversion.rtl.cost.rtl_cost`), an estimate, not a synthesis.
"""

from __future__ import annotations

from typing import Any

#: The cost keys, in the order reports show them; each is to be minimised.
COSTS = (
    "nonzero_weights",
    "max_weight_bits",
    "bops",
    "cycles_per_frame",
    "bytes_per_frame",
    "stored_weight_bits",
    "rtl_lut_estimate",
)
#: Costs measured only when a search asks for them, and the archs that have them.
ON_REQUEST = {"rtl_lut_estimate": ("mlp",)}


def bytes_per_frame(pixels: int) -> int:
    """Input beats plus output beats of one frame, in bytes (the wrapper's word layout)."""
    from pynq_mnist.host_training.conversion import wrapper
    from pynq_mnist.mnist import NUM_CLASSES

    beat_bytes = wrapper.STREAM_WIDTH_BITS // 8
    beats_in = -(-pixels // beat_bytes)  # one uint8 pixel per byte
    return beats_in * beat_bytes + wrapper.output_format(NUM_CLASSES, 0).bytes_per_frame


def student_costs(model: Any, arch: str, requested: tuple[str, ...] = ()) -> dict[str, int]:
    """The :data:`COSTS` of a trained student (pruning wrappers stripped); of the
    :data:`ON_REQUEST` ones, those ``requested``."""
    import numpy as np

    from pynq_mnist.host_training.conversion import hls4ml_config
    from pynq_mnist.host_training.training import compression

    cost = compression.cost(model)
    stages = hls4ml_config.stage_cycles(model, arch, hls4ml_config.planned_reuse_factors(model))
    costs = {
        "nonzero_weights": int(cost["nonzero_weights"]),
        "max_weight_bits": int(cost["max_weight_bits"]),
        "bops": int(cost["bops"]),
        "cycles_per_frame": int(hls4ml_config.frame_interval(stages, arch)),
        "bytes_per_frame": bytes_per_frame(int(np.prod(model.input_shape[1:]))),
        "stored_weight_bits": int(cost["stored_weight_bits"]),
    }
    if "rtl_lut_estimate" in requested:
        from pynq_mnist.host_training.conversion.rtl.cost import rtl_cost

        costs["rtl_lut_estimate"] = int(rtl_cost(model)["lut_estimate"])
    return costs
