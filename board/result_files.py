"""Result files that survive an interruption: checked before measuring, written as they finish.

A benchmark that checks its output folder only at the end loses every figure
when it cannot write there; one that writes everything at the end loses them
all to a Ctrl-C. :func:`writable_dir` checks first; each file is then replaced
whole (:mod:`pynq_mnist.atomic`), so a reader never sees half of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pynq_mnist.outputs import OutputError, output_path


def writable_dir(path: str | os.PathLike) -> Path:
    """``path`` as an absolute folder that exists and takes files, or :class:`OutputError` saying why."""
    path = output_path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(
            f"cannot write results to {path}: {e.strerror or e}; choose another --out"
        ) from None
    return path
