"""What a design search searches, how long it may take, and what it may cost.

The search's settings are three plain mappings, checked (pydantic) before any
training starts:

``space``
    Search dimensions, each ``{"choice": [...]}`` or ``{"min": a, "max": b,
    "log": bool}``; ``null`` drops a dimension (the base student's value is
    used). Keys: ``conv_blocks`` (cnn) / ``layers`` (mlp): the depth;
    ``filters`` (cnn) / ``units`` (mlp): every layer's width, drawn per layer;
    ``dense`` (cnn): an optional hidden dense layer's units, ``0`` = none;
    ``weight_bits`` (per weight layer), ``activation_bits`` (per hidden layer);
    ``sparsity``, ``lr``, ``kd_temperature``, ``kd_alpha``; ``augment``
    (``[false, true]``: small shifts and rotations on or off). ``nonzero_fill``
    (in ``(0, 1]``, instead of ``sparsity``) sets each trial's sparsity from its
    shape so that it keeps that share of ``limits.nonzero_weights``.
``budget``
    Hyperband's: ``max_epochs`` (the full length a front point is trained
    for), ``factor`` (the reduction between rungs) and ``iterations`` (full
    Hyperband passes). Epochs are Hyperband's fidelity: each trial trains for
    its rung's epochs (``max_epochs / factor**k``), and only trials of
    ``max_epochs`` enter the front. Every trial trains on the run's training split
    (``data.train_subset`` of the base configuration makes it smaller), so a
    pick retrained with the same configuration is the very trial.
``limits``
    Caps on a trial's costs (:data:`costs.COSTS`): a trial over them is still
    recorded, but scores below every trial within them, so Hyperband promotes
    only feasible candidates. ``null`` = no cap.

``cost`` names the cost the Pareto front is drawn against; ``algorithm`` the search:
``hyperband`` (the default; epochs are its fidelity) or ``bayesian`` (keras-tuner's
Bayesian optimization, a Gaussian process over the space: every trial is full length,
and there are as many as Hyperband's plan has epochs in all, so both spend one budget).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError, model_validator

from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.host_training.training.config.schema import Dimension, message
from pynq_mnist.host_training.training.search.costs import COSTS, ON_REQUEST

#: 3x3 valid convolutions, each followed by a 2x2 pool: 28 -> 13 -> 5 -> 1.
MAX_CONV_BLOCKS = 3


def _space(sparsity: tuple[float, float], **shape: dict) -> dict:
    """An arch's default space: its ``shape`` dimensions, then those every arch shares."""
    return {
        **shape,
        "weight_bits": {"choice": [3, 4, 5, 6]},
        "activation_bits": {"choice": [4, 5, 6]},
        "sparsity": {"min": sparsity[0], "max": sparsity[1]},
        "lr": {"min": 1e-3, "max": 1e-2, "log": True},
        "kd_temperature": {"min": 2.0, "max": 8.0},
        "kd_alpha": {"min": 0.3, "max": 0.9},
        "augment": {"choice": [False, True]},
    }


DEFAULT_SPACE = {
    "cnn": _space(
        (0.2, 0.8),
        conv_blocks={"choice": [1, 2, 3]},
        filters={"choice": [4, 6, 8, 12, 16, 24, 32]},
        dense={"choice": [0, 16, 32]},
    ),
    "mlp": _space((0.5, 0.95), layers={"choice": [1, 2]}, units={"choice": [32, 64, 128, 256]}),
}

DEFAULT_BUDGET = {"max_epochs": 15, "factor": 3, "iterations": 1}
#: The search algorithms (``pynq-mnist tune --algorithm``), the default first.
ALGORITHMS = ("hyperband", "bayesian")
DEFAULT_LIMITS = {cost: None for cost in COSTS}

#: Named budgets for ``pynq-mnist tune --budget``; ``smoke`` is for tests (its
#: accuracies mean nothing).
BUDGETS = {
    "default": {},
    "smoke": {"max_epochs": 2, "factor": 2},
}

#: Per key: the type and range of its values, as (kind, low, high).
_VALUES = {
    "conv_blocks": ("int", 1, MAX_CONV_BLOCKS),
    "layers": ("int", 1, 4),
    "filters": ("int", 1, 512),
    "units": ("int", 1, 4096),
    "dense": ("int", 0, 4096),
    "weight_bits": ("int", 2, 16),
    "activation_bits": ("int", 2, 16),
    "sparsity": ("float", 0.0, 0.99),
    "lr": ("float", 1e-6, 1.0),
    "kd_temperature": ("float", 0.1, 100.0),
    "kd_alpha": ("float", 0.0, 1.0),
    "augment": ("bool", 0, 1),
    "nonzero_fill": ("float", 0.01, 1.0),
}
ARCH_KEYS = {
    "cnn": {"conv_blocks", "filters", "dense"},
    "mlp": {"layers", "units"},
}
COMMON_KEYS = set(_VALUES) - ARCH_KEYS["cnn"] - ARCH_KEYS["mlp"]


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_epochs: StrictInt
    factor: StrictInt
    iterations: StrictInt

    @model_validator(mode="after")
    def _ranges(self) -> Budget:
        for key, low in (("max_epochs", 1), ("factor", 2), ("iterations", 1)):
            if getattr(self, key) < low:
                raise ValueError(f"{key} must be at least {low}, got {getattr(self, key)}")
        return self


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nonzero_weights: StrictInt | None
    max_weight_bits: StrictInt | None
    bops: StrictInt | None
    cycles_per_frame: StrictInt | None
    bytes_per_frame: StrictInt | None
    # searches saved before these costs existed still read
    stored_weight_bits: StrictInt | None = None
    rtl_lut_estimate: StrictInt | None = None

    @model_validator(mode="after")
    def _positive(self) -> Limits:
        for key, value in self.model_dump().items():
            if value is not None and value < 1:
                raise ValueError(f"{key} must be a positive integer or null, got {value}")
        return self


class Settings(BaseModel):
    """A checked search: arch, space, budget, limits and the front's cost axis."""

    model_config = ConfigDict(extra="forbid")
    arch: Literal["cnn", "mlp"]
    space: dict[str, Dimension]
    budget: Budget
    limits: Limits
    cost: Literal[COSTS]  # type: ignore[valid-type]
    # searches saved before the choice existed were Hyperband's
    algorithm: Literal[ALGORITHMS] = "hyperband"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _keys_and_values(self) -> Settings:
        allowed = COMMON_KEYS | ARCH_KEYS[self.arch]
        for key, dim in self.space.items():
            if key not in allowed:
                raise ValueError(
                    f"space.{key} is not a search dimension of the {self.arch}; "
                    f"allowed: {', '.join(sorted(allowed))}"
                )
            kind, low, high = _VALUES[key]
            for v in dim.values():
                ok = {
                    "int": isinstance(v, int) and not isinstance(v, bool),
                    "float": isinstance(v, int | float) and not isinstance(v, bool),
                    "bool": isinstance(v, bool),
                }[kind] and (kind == "bool" or low <= v <= high)
                if not ok:
                    want = "true/false" if kind == "bool" else f"{kind}s in [{low}, {high}]"
                    raise ValueError(f"space.{key} takes {want}, got {v!r}")
            if kind != "float" and dim.choice is None:
                raise ValueError(f"space.{key} takes a 'choice' list, not a range")
        if "nonzero_fill" in self.space:
            if "sparsity" in self.space:
                raise ValueError(
                    "space.nonzero_fill sets each trial's sparsity: drop space.sparsity "
                    "(set it to null)"
                )
            if self.limits.nonzero_weights is None:
                raise ValueError(
                    "space.nonzero_fill needs limits.nonzero_weights, the budget it fills"
                )
        for cost in self.requested_costs():
            if self.arch not in ON_REQUEST[cost]:
                raise ValueError(
                    f"{cost} is a cost of the {', '.join(ON_REQUEST[cost])} only, "
                    f"not of the {self.arch}: drop it from cost and limits"
                )
        return self

    def requested_costs(self) -> tuple[str, ...]:
        """The :data:`costs.ON_REQUEST` costs this search names (as cost or limit)."""
        limits = self.limits.model_dump()
        return tuple(
            c for c in ON_REQUEST if c == self.cost or limits.get(c) is not None
        )  # fmt: skip


def _laid_over(base: dict, over: Any, where: str) -> dict:
    if over is None:
        return copy.deepcopy(base)
    if not isinstance(over, dict):
        raise ConfigError(f"{where} must be a mapping, got {over!r}")
    out = copy.deepcopy(base) | copy.deepcopy(over)
    return {k: v for k, v in out.items() if v is not None} if where == "search.space" else out


def settings(arch: str, search: dict | None = None, budget: str = "default") -> Settings:
    """The checked settings: the arch's defaults, the named ``budget``, then ``search``.

    Raises
    ------
    ConfigError
        Naming the key that is wrong and what it takes.
    """
    search = dict(search or {})
    unknown = set(search) - {"space", "budget", "limits", "cost", "algorithm"}
    if unknown:
        raise ConfigError(
            f"unknown search key(s) {', '.join(sorted(unknown))}; "
            "allowed: space, budget, limits, cost, algorithm"
        )
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    if arch not in DEFAULT_SPACE:
        raise ConfigError(f"unknown arch {arch!r}; choose one of {', '.join(DEFAULT_SPACE)}")
    raw = {
        "arch": arch,
        "space": _laid_over(DEFAULT_SPACE[arch], search.get("space"), "search.space"),
        "budget": _laid_over(
            DEFAULT_BUDGET | BUDGETS[budget], search.get("budget"), "search.budget"
        ),
        "limits": _laid_over(DEFAULT_LIMITS, search.get("limits"), "search.limits"),
        "cost": search.get("cost", "nonzero_weights"),
        "algorithm": search.get("algorithm", ALGORITHMS[0]),
    }
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(message(e, "search")) from None
