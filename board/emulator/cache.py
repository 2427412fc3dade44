"""The emulated board's cache folder: compiled IP libraries and emulated overlays."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "PYNQ_MNIST_EMULATOR_CACHE"
DEFAULT_CACHE = "~/.cache/pynq-mnist/emulator"


def cache_dir() -> Path:
    """``$PYNQ_MNIST_EMULATOR_CACHE``, or ``~/.cache/pynq-mnist/emulator``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE).expanduser()
