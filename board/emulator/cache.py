"""The emulated board's cache folder: compiled IP libraries and emulated overlays.

A library built into the cache is native code this process will load: one
flipped byte can kill it with no message. Each carries its own sha256 in a
file beside it (:func:`record_digest`), checked before it is used
(:func:`digest_matches`); one that does not match is built again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.digest import file_digest
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


def _digest_file(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def record_digest(library: Path) -> None:
    """Write ``library``'s sha256 beside it (after it was built into the cache)."""
    with cache_writes():
        write_text_atomic(_digest_file(library), file_digest(library, "sha256") + "\n")


def digest_matches(library: Path) -> bool:
    """Whether ``library`` is the file its recorded sha256 names (False without one)."""
    try:
        recorded = _digest_file(library).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == file_digest(library, "sha256")
