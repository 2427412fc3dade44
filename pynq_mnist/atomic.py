"""Write a file so that readers see the old one or the whole new one, never a part.

The content goes to a hidden temporary file in the destination's folder (same
file system, so the final :func:`os.replace` is atomic) that is removed if the
write fails or is interrupted. The file gets the permissions a plain ``open``
would give it (``mkstemp`` makes it owner-only), or keeps those of the file it
replaces. Only the standard library is imported: the board uses it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write; moved onto ``dest`` when the block ends without error."""
    dest = Path(dest)
    # the destination's suffixes stay last: writers such as Keras pick a format by them
    suffix = "".join(dest.suffixes)
    stem = dest.name[: len(dest.name) - len(suffix)] if suffix else dest.name
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{stem}.", suffix=f".partial{suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _mode(dest))
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _mode(dest: Path) -> int:
    """``dest``'s permission bits, or those a new file gets under the current umask."""
    try:
        return dest.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomic(dest: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``dest`` atomically; returns ``dest``."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
    return Path(dest)
