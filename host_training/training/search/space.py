"""The search space as keras-tuner hyperparameters, and a trial's values as a student.

Per-layer dimensions are one hyperparameter per layer, active only where the
layer exists (keras-tuner's conditional scopes on the depth, and on ``dense``
for the CNN's optional hidden layer): ``filters.1`` lives only in nets of two
or more conv blocks, ``weight_bits.conv2`` likewise, ``weight_bits.dense1``
only where ``dense`` is not 0.
"""

from __future__ import annotations

import copy
from contextlib import ExitStack
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pynq_mnist.host_training.training.config import (
    ConfigError,
    check_student,
    weight_layer_names,
)
from pynq_mnist.host_training.training.search.settings import Dimension, Settings
from pynq_mnist.mnist import IMAGE_SHAPE, NUM_CLASSES

if TYPE_CHECKING:
    import keras_tuner as kt

DEPTH = {"cnn": "conv_blocks", "mlp": "layers"}
WIDTH = {"cnn": "filters", "mlp": "units"}
#: Space keys that set one student key each.
SCALARS = {
    "sparsity": ("pruning", "sparsity"),
    "lr": ("lr",),
    "kd_temperature": ("kd", "temperature"),
    "kd_alpha": ("kd", "alpha"),
    "augment": ("augment",),
}
#: The space key that sets a trial's sparsity from its shape (:func:`fill_sparsity`).
FILL = "nonzero_fill"
#: The highest sparsity a fill may ask for (the configuration takes < 1).
MAX_SPARSITY = 0.99


def _declare(hp: kt.HyperParameters, name: str, dim: Dimension) -> None:
    if dim.choice is not None and all(isinstance(c, bool) for c in dim.choice):
        # keras-tuner's Choice turns booleans into integers; Boolean keeps them
        if len(set(dim.choice)) == 2:
            hp.Boolean(name)
        else:
            hp.Fixed(name, dim.choice[0])
    elif dim.choice is not None:
        hp.Choice(name, dim.choice)
    elif isinstance(dim.min, int) and isinstance(dim.max, int):
        hp.Int(name, dim.min, dim.max, sampling="log" if dim.log else "linear")
    else:
        hp.Float(name, float(dim.min), float(dim.max), sampling="log" if dim.log else "linear")


def _depths(settings: Settings, base: dict) -> list[int]:
    dim = settings.space.get(DEPTH[settings.arch])
    return sorted(dim.choice) if dim else [len(base[WIDTH[settings.arch]])]


def _dense_choices(settings: Settings, base: dict) -> list[int]:
    if settings.arch != "cnn":
        return []
    dim = settings.space.get("dense")
    return list(dim.choice) if dim else [base["dense"][0] if base["dense"] else 0]


def layer_slots(settings: Settings, base: dict) -> list[tuple[str, list, int | None]]:
    """Every weight layer a trial may have: ``(name, conditions, width index)``.

    ``conditions`` are the ``(parent, values)`` scopes under which it exists;
    the width index says which ``filters.i`` / ``units.i`` sets its width.
    """
    depths = _depths(settings, base)
    depth_key = DEPTH[settings.arch]
    prefix = "conv" if settings.arch == "cnn" else "dense"
    slots = []
    for i in range(1, max(depths) + 1):
        deeper = [d for d in depths if d >= i]
        conditions = [(depth_key, deeper)] if depth_key in settings.space and i > 1 else []
        slots.append((f"{prefix}{i}", conditions, i - 1))
    dense = _dense_choices(settings, base)
    if any(dense):
        optional = "dense" in settings.space and 0 in dense
        slots.append(("dense1", [("dense", [u for u in dense if u])] if optional else [], None))
    return [*slots, ("logits", [], None)]


def hyperparameters(settings: Settings, base: dict) -> kt.HyperParameters:
    """The keras-tuner search space of ``settings`` over the base ``student``."""
    import keras_tuner as kt  # it imports TensorFlow: not at the top (`train --help`)

    hp = kt.HyperParameters()
    space = settings.space
    for key in (DEPTH[settings.arch], "dense"):
        if key in space:
            _declare(hp, key, space[key])
    width = WIDTH[settings.arch]
    for name, conditions, width_index in layer_slots(settings, base):
        per_layer = []
        if width in space and width_index is not None:
            per_layer.append((f"{width}.{width_index}", space[width]))
        if "weight_bits" in space:
            per_layer.append((f"weight_bits.{name}", space["weight_bits"]))
        if "activation_bits" in space and name != "logits":
            per_layer.append((f"activation_bits.{name}", space["activation_bits"]))
        with ExitStack() as stack:
            for parent, values in conditions:
                stack.enter_context(hp.conditional_scope(parent, values))
            for hp_name, dim in per_layer:
                _declare(hp, hp_name, dim)
    for key in (*SCALARS, FILL):
        if key in space:
            _declare(hp, key, space[key])
    return hp


def weight_counts(student: dict, arch: str) -> tuple[int, int, int]:
    """``(hidden kernel weights, the logits' kernel weights, biases)`` of the student's
    shape: 3x3 valid convolutions, each followed by a 2x2 pool (``models.py``)."""
    height, width = IMAGE_SHAPE
    if arch == "cnn":
        side, channels, kernels, biases = height, 1, 0, 0
        for filters in student["filters"]:
            kernels, biases = kernels + 9 * channels * filters, biases + filters
            side, channels = (side - 2) // 2, filters
        sizes = [side * side * channels, *student["dense"]]
    else:
        kernels, biases, sizes = 0, 0, [height * width, *student["units"]]
    for n_in, n_out in pairwise(sizes):
        kernels, biases = kernels + n_in * n_out, biases + n_out
    return kernels, sizes[-1] * NUM_CLASSES, biases + NUM_CLASSES


def fill_sparsity(student: dict, arch: str, fill: float, nonzero_limit: int) -> float:
    """The sparsity at which the student's kernels (pruned) and biases (never pruned) come to
    ``fill * nonzero_limit`` weights: every trial then spends a chosen share of the budget,
    whatever its shape (a sparsity drawn on its own mostly misses a small budget).

    The logits keep their own ``pruning.logits_sparsity`` when one is set. At most
    :data:`MAX_SPARSITY`, so a shape too big for the budget exceeds it (and is scored so).
    """
    hidden, logits, biases = weight_counts(student, arch)
    keep = fill * nonzero_limit - biases
    logits_sparsity = student["pruning"].get("logits_sparsity")
    if logits_sparsity is not None:
        keep -= (1 - logits_sparsity) * logits
    else:
        hidden += logits
    return round(min(MAX_SPARSITY, max(0.0, 1 - keep / hidden)), 4)


def _layer_value(values: dict, base: dict, key: str, name: str, base_names: list[str]) -> int:
    """Layer ``name``'s ``key``: the trial's value, else the base student's. A base
    given per layer follows a change of the layers only where all its layers agree."""
    if f"{key}.{name}" in values:
        return int(values[f"{key}.{name}"])
    value = base[key]
    if not isinstance(value, list):
        return value
    if name in base_names and len(value) == len(base_names):
        return value[base_names.index(name)]
    if len(set(value)) == 1:
        return value[0]
    raise ConfigError(
        f"student.{key} is given per layer, but the search changes the layers; "
        "give one integer for all layers, or search it (space.weight_bits / activation_bits)"
    )


def student(
    base: dict, arch: str, values: dict[str, Any], epochs: int, nonzero_limit: int | None = None
) -> dict:
    """The student a trial trains: ``base`` with the trial's ``values``, checked.

    Values a trial does not set (inactive or dropped dimensions) keep the base
    student's. A ``nonzero_fill`` value sets the sparsity from ``nonzero_limit``.
    """
    out = copy.deepcopy(base)
    width = WIDTH[arch]
    widths = base[width]
    depth = int(values.get(DEPTH[arch], len(widths)))
    out[width] = [
        int(values.get(f"{width}.{i}", widths[min(i, len(widths) - 1)])) for i in range(depth)
    ]
    if arch == "cnn" and "dense" in values:
        out["dense"] = [int(values["dense"])] if values["dense"] else []
    names = weight_layer_names(out, arch)
    base_names = weight_layer_names(base, arch)
    for key in ("weight_bits", "bias_bits", "weight_integer"):
        out[key] = [_layer_value(values, base, key, name, base_names) for name in names]
    for key in ("activation_bits", "activation_integer"):
        out[key] = [_layer_value(values, base, key, name, base_names) for name in names[:-1]]
    for key, path in SCALARS.items():
        if key in values:
            node = out
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = values[key]
    if FILL in values:
        if nonzero_limit is None:
            raise ConfigError(f"space.{FILL} needs limits.nonzero_weights, the budget it fills")
        out["pruning"]["sparsity"] = fill_sparsity(out, arch, values[FILL], nonzero_limit)
    out["epochs"] = int(epochs)
    check_student(out, arch)
    return out


def check_corners(settings: Settings, base: dict) -> None:
    """Refuse a space whose extreme values make a student that cannot be trained."""
    deepest = {DEPTH[settings.arch]: max(_depths(settings, base))}
    if settings.arch == "cnn" and "dense" in settings.space:
        deepest["dense"] = max(settings.space["dense"].values())
    slots = layer_slots(settings, base)
    # the bits a trial draws for every layer (any value of theirs), as a trial would
    drawn = deepest | {
        f"{key}.{name}": settings.space[key].values()[0]
        for key in ("weight_bits", "activation_bits")
        if key in settings.space
        for name, _, _ in slots
    }
    for key, dim in settings.space.items():
        for value in dim.values():
            if key == WIDTH[settings.arch]:
                values = drawn | {f"{key}.{i}": value for _, _, i in slots if i is not None}
            elif key in ("weight_bits", "activation_bits"):
                values = drawn | {f"{key}.{name}": value for name, _, _ in slots}
            else:
                values = drawn | {key: value}
            try:
                student(base, settings.arch, values, settings.budget.max_epochs,
                        settings.limits.nonzero_weights)  # fmt: skip
            except ConfigError as e:
                raise ConfigError(f"search.space.{key} = {value!r}: {e}") from None
