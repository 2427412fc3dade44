"""A cheap lower bound on an MLP's LUTs, so an oversized net is refused before da4ml runs.

da4ml traces every nonzero weight into adders; on a large unpruned net (784-24-10,
8-bit weights, ~19k nonzero) it ran for more than 30 minutes and grew past 17 GB
before its estimate could refuse the net. The bound needs only the weights:
``LUTS_PER_WEIGHT_BIT`` LUTs per nonzero weight per weight bit.

Calibration (da4ml 0.5.2's estimates of the networks in ``bench/results/rtl.json``):

=================  ===========  ==============  ==========================
nonzero weights    weight bits  da4ml LUTs      LUTs per weight bit
=================  ===========  ==============  ==========================
5,077              4            33,508          1.65
5,878              3            39,251          2.23
7,290              3            40,189          1.84
7,966              3            41,652          1.74
=================  ===========  ==============  ==========================

The rate is half the least of them, so a net the bound refuses is over the
budget by a wide margin on every estimate recorded.
"""

from __future__ import annotations

from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl.cnn import QuantizedCNN
from pynq_mnist.host_training.conversion.rtl.network import QuantizedMLP

#: Half the least LUTs per nonzero weight bit da4ml estimated for a converted MLP.
LUTS_PER_WEIGHT_BIT = 0.8


def lut_lower_bound(student: QuantizedMLP | QuantizedCNN) -> int:
    """The fewest LUTs ``student`` can take by the calibration above (a CNN's conv units,
    instantiated once per output column, take many times more: still a lower bound)."""
    weight_bits = sum(layer.nonzero_weights * layer.weight_bits for layer in student.layers)
    return int(LUTS_PER_WEIGHT_BIT * weight_bits)


def check_before_da4ml(student: QuantizedMLP | QuantizedCNN, budget: int) -> None:
    """Refuse ``student`` with the numbers if even its lower bound is over ``budget`` LUTs."""
    bound = lut_lower_bound(student)
    if bound > budget:
        bits = max(layer.weight_bits for layer in student.layers)
        raise ConversionError(
            f"the student has {student.nonzero_weights:,} nonzero weights of up to {bits} bits: at "
            f"least {bound:,} LUTs ({LUTS_PER_WEIGHT_BIT} per nonzero weight bit, half of "
            f"da4ml's least estimate so far), over the budget of {budget:,}; da4ml was not "
            "run. Prune harder or use fewer weight bits (e.g. pynq-mnist train --from-search "
            "with --max-nonzero and --max-bits)"
        )
