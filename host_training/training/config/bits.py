"""The student's weight layers, input to output, and the bits of each."""

from __future__ import annotations

from pynq_mnist.host_training.training.config.errors import ConfigError


def weight_layer_names(student: dict, arch: str) -> list[str]:
    """Names of the student's weight layers, input to output."""
    if arch == "cnn":
        hidden = [f"conv{i + 1}" for i in range(len(student["filters"]))]
        hidden += [f"dense{i + 1}" for i in range(len(student["dense"]))]
    else:
        hidden = [f"dense{i + 1}" for i in range(len(student["units"]))]
    return hidden + ["logits"]


def per_layer(value: int | list[int], key: str, count: int, minimum: int) -> list[int]:
    """``value`` for each of ``count`` layers (an int for all, or a list of one per layer)."""
    values = value if isinstance(value, list) else [value] * count
    if len(values) != count:
        raise ConfigError(
            f"{key} has {len(values)} entries, expected {count} (one per layer); "
            f"give {count}, or one integer for all layers"
        )
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise ConfigError(f"{key} must be integers >= {minimum}, got {value!r}")
    return values


#: per-layer student key -> (smallest value, whether only hidden layers have one)
PER_LAYER = {
    "weight_bits": (1, False),
    "bias_bits": (1, False),
    "weight_integer": (0, False),
    "activation_bits": (1, True),
    "activation_integer": (0, True),
}


def layer_bits(student: dict, arch: str) -> dict[str, dict[str, int]]:
    """Per weight layer: weight, bias (and activation after hidden layers) bits and integer bits."""
    names = weight_layer_names(student, arch)
    n = len(names)
    got = {
        key: per_layer(student[key], f"student.{key}", n - hidden, low)
        for key, (low, hidden) in PER_LAYER.items()
    }
    out = {}
    for i, name in enumerate(names):
        out[name] = {
            "weight": got["weight_bits"][i],
            "bias": got["bias_bits"][i],
            "weight_integer": got["weight_integer"][i],
        }
        if i < n - 1:
            out[name] |= {
                "activation": got["activation_bits"][i],
                "activation_integer": got["activation_integer"][i],
            }
    return out
