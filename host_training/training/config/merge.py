"""Configuration files, presets laid under a partial dict, and dotted tuner keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pynq_mnist.host_training.training.config.errors import ConfigError
from pynq_mnist.host_training.training.config.presets import (
    ARCHS,
    CNN,
    COMMON,
    DEFAULT_PRESET,
    MLP,
    PRESETS,
)
from pynq_mnist.host_training.training.config.schema import check


def _merge(base: dict, over: dict, where: str = "") -> dict:
    """``over`` laid on a copy of ``base``; a key ``base`` lacks is an error (a typo)."""
    out = copy.deepcopy(base)
    open_keys = where.endswith("space.")  # the search space takes any student key
    for key, value in over.items():
        path = f"{where}{key}"
        if open_keys and value is None:
            out.pop(key, None)
            continue
        if key not in out and not open_keys:
            allowed = ", ".join(sorted(out)) or "(none)"
            raise ConfigError(f"unknown configuration key {path!r}; allowed here: {allowed}")
        if isinstance(out.get(key), dict) and not open_keys:
            if not isinstance(value, dict):
                raise ConfigError(f"{path} must be a mapping, got {value!r}")
            out[key] = _merge(out[key], value, f"{path}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_file(path: str | Path) -> dict:
    """A configuration file: JSON, or YAML (``.yaml``/``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise ConfigError(f"{path}: cannot parse ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def resolve(config: dict | None = None, *, preset: str | None = None) -> dict:
    """The full, checked configuration for a partial ``config`` (must name ``arch``)."""
    config = dict(config or {})
    arch = config.get("arch")
    if arch not in ARCHS:
        raise ConfigError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    preset = preset or config.pop("preset", None) or DEFAULT_PRESET[arch]
    config.pop("preset", None)
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    preset_arch, overrides = PRESETS[preset]
    if preset_arch not in (None, arch):
        raise ConfigError(f"preset {preset!r} is for arch {preset_arch!r}, not {arch!r}")
    base = copy.deepcopy(COMMON) | copy.deepcopy(CNN if arch == "cnn" else MLP)
    resolved = _merge(_merge(base, overrides), config)
    resolved["preset"] = preset
    check(resolved)
    return resolved


def for_command(
    given: dict, arch: str, source: str | None, seed: int | None, preset: str | None
) -> dict:
    """A command's configuration: ``given`` (its ``--config`` file, from ``source``) for
    ``--arch``, with ``--seed`` if given, laid over ``--preset`` and checked."""
    if given.get("arch", arch) != arch:
        raise ConfigError(f"{source} is for arch {given['arch']!r}, not {arch!r}")
    config = {**given, "arch": arch}
    if seed is not None:
        config["seed"] = seed
    return resolve(config, preset=preset)


def apply_hyperparameters(student: dict, values: dict[str, Any]) -> dict:
    """A copy of ``student`` with dotted keys (``"filters.0"``, ``"kd.alpha"``) set."""
    out = copy.deepcopy(student)
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        elif last in node:
            node[last] = value
        else:
            raise KeyError(dotted)
    return out
