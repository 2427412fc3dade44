"""The emulated board's cache folder: compiled IP libraries and emulated overlays."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from pynq_mnist.outputs import OutputError

CACHE_ENV_VAR = "PYNQ_MNIST_EMULATOR_CACHE"
DEFAULT_CACHE = "~/.cache/pynq-mnist/emulator"


def cache_dir() -> Path:
    """``$PYNQ_MNIST_EMULATOR_CACHE``, or ``~/.cache/pynq-mnist/emulator``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE).expanduser()


@contextlib.contextmanager
def cache_writes() -> Iterator[None]:
    """Writes into the cache, with a one-line :class:`OutputError` that names the fix.

    A read-only home or cache folder, or a full disk, is the user's to fix: the
    message says where the cache is and how to move it.
    """
    try:
        yield
    except OSError as e:
        if isinstance(e, OutputError):
            raise
        raise OutputError(
            f"the emulator cache at {cache_dir()} is not writable ({e.strerror or e}): "
            f"set {CACHE_ENV_VAR} to a writable folder"
        ) from None
