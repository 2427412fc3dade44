"""Magnitude pruning (tfmot) and the hardware cost of a quantized student.

Cost is counted on what the FPGA gets: the *quantized* weights (a weight that
rounds to zero costs nothing), and bit operations
``BOPs = sum over layers of nonzero MACs x weight bits x input bits``, where a
layer's input bits are the pixel bits for the first layer and the preceding
``quantized_relu``'s bits after that.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from qkeras import QActivation, QConv2D, QDense
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from pynq_mnist import encoding
from pynq_mnist.host_training.training.models import TruncatePixels

keras = tf.keras
sparsity = tfmot.sparsity.keras


def pruning_schedule(
    pruning: dict, steps_per_epoch: int, epochs: int, target: float | None = None
) -> sparsity.PolynomialDecay:
    """Polynomial schedule that reaches ``target`` (default ``pruning["sparsity"]``) inside
    this run.

    The end step is ``begin + k * frequency`` so that the last pruning update
    lands exactly on it (tfmot only prunes every ``frequency`` steps), and the
    frequency shrinks for runs too short to hold two updates.
    """
    total = max(1, steps_per_epoch * epochs)
    begin = int(pruning["begin_fraction"] * total)
    span = max(1, int(pruning["end_fraction"] * total) - begin)
    frequency = max(1, min(pruning["frequency"], span // 2 or 1))
    end = begin + max(1, span // frequency) * frequency
    return sparsity.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=float(pruning["sparsity"] if target is None else target),
        begin_step=begin,
        end_step=end,
        frequency=frequency,
    )


def prune(
    model: keras.Model,
    schedule: sparsity.PolynomialDecay,
    logits_schedule: sparsity.PolynomialDecay | None = None,
) -> keras.Model:
    """``model`` with every weight layer (QConv2D/QDense) wrapped for pruning; the
    output layer ``logits`` on ``logits_schedule`` when one is given."""

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, QConv2D | QDense):
            own = logits_schedule if layer.name == "logits" and logits_schedule else schedule
            return sparsity.prune_low_magnitude(layer, pruning_schedule=own)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=wrap)


def strip(model: keras.Model) -> keras.Model:
    """``model`` without pruning wrappers (masks already applied to the weights)."""
    return sparsity.strip_pruning(model)


def _unwrap(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.layer if isinstance(layer, PruneLowMagnitude) else layer


def quantized_weights(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    """The kernel and bias exactly as the quantizers (and pruning masks) give them."""
    layer = _unwrap(layer)
    kq, bq = layer.kernel_quantizer_internal, layer.bias_quantizer_internal
    kernel = layer.kernel if kq is None else kq(layer.kernel)
    bias = layer.bias if bq is None else bq(layer.bias)
    return np.asarray(kernel), np.asarray(bias)


def cost(model: keras.Model, count: str = "quantized") -> dict:
    """Nonzero weights, sparsity, per-layer bits, BOPs and stored bits of a quantized student.

    Weights count kernels and biases together; ``sparsity`` is the share of
    kernel entries that are zero. ``stored_weight_bits`` is the size of the
    weight and bias arrays hls4ml writes, each entry at its layer's width and
    the pruned zeros included (hls4ml's ``nnet_utils`` keep ``weights[n_in *
    n_out]`` whole; under the resource strategy they become ROMs), a bound on
    what they take in block RAM, not a synthesis result. ``count="quantized"`` counts what the FPGA
    gets (a weight that rounds to zero is free); ``count="unpruned"`` counts
    every weight the pruning masks keep, a bound that longer training of the
    same pruned student cannot exceed (the tuner uses it, so that a short trial
    that looks within budget stays within budget when trained to the end).
    """
    if count not in ("quantized", "unpruned"):
        raise ValueError(f"count must be 'quantized' or 'unpruned', got {count!r}")
    in_bits = encoding.PIXEL_BITS
    total = nonzero = kernel_total = kernel_zero = bops = stored = 0
    bits: dict[str, dict[str, int]] = {}
    for outer in model.layers:
        layer = _unwrap(outer)
        if isinstance(layer, TruncatePixels):
            in_bits = layer.bits
            continue
        if isinstance(layer, QActivation):
            in_bits = int(layer.quantizer.bits)
            # activations are named "<weight layer>_relu" (models.py)
            bits[outer.name.removesuffix("_relu")]["activation"] = in_bits
            continue
        if not isinstance(layer, QConv2D | QDense):
            continue
        if count == "quantized":
            kernel, bias = quantized_weights(layer)
        else:
            mask = outer.pruning_vars[0][1] if isinstance(outer, PruneLowMagnitude) else None
            kernel = np.asarray(layer.kernel if mask is None else mask)
            bias = np.ones(layer.bias.shape)
        w_bits = int(layer.kernel_quantizer_internal.bits)
        b_bits = int(layer.bias_quantizer_internal.bits)
        bits[layer.name] = {"weight": w_bits, "bias": b_bits}
        positions = math.prod(layer.output_shape[1:-1]) if isinstance(layer, QConv2D) else 1
        kernel_nonzero = int(np.count_nonzero(kernel))
        bops += kernel_nonzero * positions * w_bits * in_bits
        total += kernel.size + bias.size
        stored += kernel.size * w_bits + bias.size * b_bits
        nonzero += kernel_nonzero + int(np.count_nonzero(bias))
        kernel_total += kernel.size
        kernel_zero += kernel.size - kernel_nonzero
    return {
        "nonzero_weights": nonzero,
        "total_weights": total,
        "sparsity": kernel_zero / kernel_total if kernel_total else 0.0,
        "layer_bits": bits,
        "max_weight_bits": max((b["weight"] for b in bits.values()), default=0),
        "bops": bops,
        "stored_weight_bits": stored,
    }


def limit_excess(measured: dict, limits: dict) -> float:
    """Sum of the relative excesses over each set limit (0 when every limit holds)."""
    return sum(
        max(0.0, measured[key] / limit - 1.0) for key, limit in limits.items() if limit is not None
    )
