"""The checks every resolved configuration passes, as pydantic models.

The configuration stays a plain dict (the rest of the code reads it so); these
models only validate it, strictly (no silent coercion: ``true`` is not an
epoch count, ``"5"`` is not a bit width), and :func:`message` turns pydantic's
errors into one line per problem that names the dotted key, what it takes and
what it got.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pynq_mnist import encoding
from pynq_mnist.host_training.training.config.bits import PER_LAYER, per_layer, weight_layer_names
from pynq_mnist.host_training.training.config.errors import ConfigError

Positive = Annotated[StrictInt, Field(ge=1)]
Number = StrictInt | StrictFloat
Fraction = Annotated[Number, Field(ge=0.0, lt=1.0)]
Closed01 = Annotated[Number, Field(ge=0.0, le=1.0)]
Rate = Annotated[Number, Field(ge=1e-9, lt=1.0)]
PerLayer = StrictInt | list[StrictInt]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Data(_Strict):
    val_fraction: Annotated[Number, Field(ge=1e-9, lt=1.0)]
    train_subset: Positive | None
    test_subset: Positive | None


class Teacher(_Strict):
    filters: list[Positive] | None = None
    dense: list[Positive] | None = None
    units: list[Positive] | None = None
    dropout: Fraction
    epochs: Positive
    batch_size: Positive
    lr: Rate


class Pruning(_Strict):
    enabled: StrictBool
    sparsity: Fraction
    #: The output layer's own target (``null``: ``sparsity``). A very sparse MLP keeps
    #: too few of its 10-way layer's weights at the hidden layers' sparsity.
    logits_sparsity: Fraction | None = None
    begin_fraction: Fraction
    end_fraction: Closed01
    frequency: Positive

    @model_validator(mode="after")
    def _ordered(self) -> Pruning:
        if self.end_fraction <= self.begin_fraction:
            raise ValueError("end_fraction must exceed begin_fraction")
        return self


class Distillation(_Strict):
    enabled: StrictBool
    temperature: Annotated[Number, Field(ge=1e-6, lt=1e6)]
    alpha: Closed01


class Student(_Strict):
    """Validated with ``context={"arch": ...}``; widths come first, so bits can count layers."""

    filters: Annotated[list[Positive], Field(min_length=1)] | None = None
    dense: list[Positive] | None = None
    units: Annotated[list[Positive], Field(min_length=1)] | None = None
    #: Bits of each pixel the student reads, from the top (``null``: all of them).
    input_bits: Annotated[StrictInt, Field(ge=1, le=encoding.PIXEL_BITS)] | None = None
    weight_bits: PerLayer
    bias_bits: PerLayer
    activation_bits: PerLayer
    weight_integer: PerLayer
    activation_integer: PerLayer
    epochs: Positive
    batch_size: Positive
    lr: Rate
    pruning: Pruning
    kd: Distillation
    augment: StrictBool

    @field_validator(*PER_LAYER)
    @classmethod
    def _one_per_layer(cls, value: PerLayer, info: ValidationInfo) -> PerLayer:
        arch = (info.context or {}).get("arch")
        widths = ("filters", "dense") if arch == "cnn" else ("units",)
        if arch is None or any(info.data.get(w) is None for w in widths):
            return value  # the widths are wrong themselves: reported there
        count = len(weight_layer_names(info.data, arch))
        low, hidden = PER_LAYER[info.field_name]
        try:
            per_layer(value, "value", count - hidden, low)
        except ConfigError as e:
            raise ValueError(str(e).removeprefix("value ")) from None
        return value

    @model_validator(mode="after")
    def _arch_widths(self, info: ValidationInfo) -> Student:
        arch = (info.context or {}).get("arch")
        need = {"cnn": ("filters", "dense"), "mlp": ("units",)}.get(arch, ())
        for key in need:
            if getattr(self, key) is None:
                raise ValueError(f"a {arch} student needs {key!r}")
        if arch == "cnn" and self.input_bits not in (None, encoding.PIXEL_BITS):
            raise ValueError(
                "input_bits is built by the rtl backend, which converts MLP students only; "
                "a cnn student reads all 8 bits (input_bits null)"
            )
        return self


class Dimension(_Strict):
    """One search dimension: ``{"choice": [...]}`` or ``{"min": a, "max": b, "log": bool}``."""

    choice: list[StrictBool | StrictInt | StrictFloat] | None = None
    min: Number | None = None
    max: Number | None = None
    log: StrictBool = False

    @model_validator(mode="after")
    def _one_form(self) -> Dimension:
        if self.choice is not None:
            if self.min is not None or self.max is not None or self.log:
                raise ValueError("give either 'choice' or 'min'/'max', not both")
            if not self.choice:
                raise ValueError("'choice' is empty")
        elif self.min is None or self.max is None:
            raise ValueError("give {'choice': [...]} or {'min': a, 'max': b}")
        elif not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        elif self.log and self.min <= 0:
            raise ValueError("a log range needs min > 0")
        return self

    def values(self) -> list:
        """The values a search may set: every choice, or both ends of the range."""
        return list(self.choice) if self.choice is not None else [self.min, self.max]


class TunerLimits(_Strict):
    nonzero_weights: Positive | None
    bops: Positive | None


class Tuner(_Strict):
    enabled: StrictBool
    trials: Positive
    epochs: Positive
    train_subset: Positive | None
    limits: TunerLimits
    space: dict[str, Dimension]


class RunConfig(_Strict):
    arch: Literal["cnn", "mlp"]
    preset: str | None = None
    seed: Annotated[StrictInt, Field(ge=0)]
    verbose: StrictInt
    data: Data
    teacher: Teacher
    student: Student
    tuner: Tuner


def message(error: ValidationError, where: str = "") -> str:
    """pydantic's errors as ``key: what is wrong, got value`` lines joined by ``; ``."""
    parts = []
    for e in error.errors():
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-", "constrained-"))]
        # a union's branch names (``int``, ``list[int]``) are not keys
        loc = [p for p in loc if p not in ("int", "float", "bool", "list[int]", "none")]
        key = ".".join(([where] if where else []) + loc)
        text = e["msg"].removeprefix("Value error, ")
        got = "" if e["type"] in ("value_error", "missing") else f", got {e['input']!r}"
        parts.append(f"{key}: {text}{got}" if key else f"{text}{got}")
    return "; ".join(dict.fromkeys(parts))


def check_student(student: dict, arch: str, where: str = "student") -> None:
    """Refuse a student configuration that cannot be built or trained."""
    try:
        Student.model_validate(student, context={"arch": arch})
    except ValidationError as e:
        raise ConfigError(message(e, where)) from None


def _space_corners(space: dict) -> list[dict]:
    """Both ends of every range and every choice: what the search may set."""
    corners = []
    for key, spec in space.items():
        values = spec["choice"] if "choice" in spec else [spec["min"], spec["max"]]
        corners += [{key: v} for v in values]
    return corners


def check(config: dict) -> None:
    """Refuse a resolved configuration (called by :func:`merge.resolve`)."""
    from pynq_mnist.host_training.training.config.merge import apply_hyperparameters

    try:
        RunConfig.model_validate(config, context={"arch": config.get("arch")})
    except ValidationError as e:
        raise ConfigError(message(e)) from None
    if not config["tuner"]["enabled"]:
        return
    for corner in _space_corners(config["tuner"]["space"]):
        key = next(iter(corner))
        try:
            trial = apply_hyperparameters(config["student"], corner)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"tuner.space.{key} names no student setting") from None
        check_student(trial, config["arch"], where=f"tuner.space.{key} -> student")
