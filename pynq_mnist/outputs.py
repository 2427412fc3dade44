"""Output folders: a command writes only into its own kind of output, one writer at a time.

A command's ``--out`` may name a folder that does not exist, an empty one, or
one that already holds the same command's output (:class:`OutputKind`: a
bundle, a bench folder, ...), recognised by its signature file. Anything else is
refused with one line that names what is there: the user's files are never
replaced or mixed with ours. Replacing an own output of another model or
dataset (the signature file records which) needs ``force``.

While a command writes, it holds an exclusive :func:`fcntl.flock` on a lock
file in the folder (:func:`output_lock`): a second writer is refused, not
merged. The kernel drops the lock when its process ends however it ends, so a
lock file left by a killed run is stale and taken over. Only the standard
library is imported: the board uses it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pynq_mnist.errors import Refused

#: The lock file a writer holds in its output folder (removed when it is done).
LOCK_NAME = ".pynq-mnist.lock"
#: How many of a foreign folder's entries a refusal names.
_SHOWN = 3


class OutputError(Refused, OSError):
    """The results cannot (or must not) be written where asked."""


#: errno values that mean the file system is full (quota included).
_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(error: BaseException) -> str | None:
    """One line for a write that ran out of space, or None if ``error`` is something else.

    ``shutil.copytree`` reports each failed copy in a list inside one ``shutil.Error``.
    """
    if isinstance(error, OSError) and error.errno in _FULL:
        where = f" writing {error.filename}" if error.filename else ""
        return f"no space left on the device{where}: free some space or choose another --out"
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list):
        for _src, dst, why in (e for e in error.args[0] if len(e) == 3):
            if os.strerror(errno.ENOSPC) in str(why):
                return f"no space left on the device writing {dst}: free some space or choose another --out"
    return None


def environment_error(error: BaseException) -> str | None:
    """One line for a full disk, a missing file or a folder the user may not write, or
    None for any other error (a bug must not be hidden behind one line)."""
    full = disk_full(error)
    if full is not None:
        return full
    if isinstance(error, FileNotFoundError | PermissionError) or (
        isinstance(error, OSError) and error.errno == errno.EROFS
    ):
        return str(error)
    return None


@dataclass(frozen=True)
class OutputKind:
    """What one command leaves in its ``--out`` folder.

    Parameters
    ----------
    name : str
        What it is called in messages ("bundle", "bench folder").
    signatures : tuple of str
        Files that mark such a folder (any one of them; the first records its
        identity); a folder with none of them is not ours.
    identity : tuple of str
        Dotted keys of the first signature file's JSON that name the model or dataset
        behind it; an output whose values differ is replaced only with ``force``.
    """

    name: str
    signatures: tuple[str, ...]
    identity: tuple[str, ...] = ()


BUNDLE = OutputKind("bundle", ("bundle.json",), ("model.run_dir",))
BENCH = OutputKind("bench folder", ("bench.json",), ("bundle",))
#: ``train``'s own check refuses a run of another configuration; ``--from-search`` starts
#: the folder with the search's pick and teacher
RUN = OutputKind("training run", ("config.json", "search_pick.json", "teacher.h5"))
#: an interrupted ``accept`` leaves its test log before its report
ACCEPT = OutputKind("accept report", ("report.json", "tests.log", "tests.xml"), ("bundle",))


def output_path(text: str | os.PathLike, option: str = "--out") -> Path:
    """``text`` as an absolute folder path: ``.`` and the cwd are paths like any other.

    An empty path (``--out ''``) or the file system root is refused, not read as
    the current folder.
    """
    if not os.fspath(text):
        raise OutputError(f"{option} is an empty path; name a folder")
    path = Path(os.path.abspath(text))
    if not path.name:
        raise OutputError(f"{option} {path} is the file system root; name a folder")
    return path


def check_output(
    path: Path, kind: OutputKind, identity: Mapping[str, object] | None = None, force: bool = False
) -> None:
    """Refuse ``path`` unless it is absent, empty, or ``kind``'s own output.

    ``identity`` maps some of ``kind.identity``'s keys to the values the new
    output will record; an existing output that records others is refused
    unless ``force``.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise OutputError(f"{path} is a file, not a {kind.name} folder; choose another --out")
    entries = sorted(e for e in os.listdir(path) if e != LOCK_NAME)
    if not entries:
        return
    if not set(kind.signatures) & set(entries):
        shown = ", ".join(entries[:_SHOWN]) + (", ..." if len(entries) > _SHOWN else "")
        raise OutputError(
            f"{path} is not a {kind.name} (it holds {len(entries)} other entries: {shown}); "
            "choose a new or empty folder for --out"
        )
    first = path / kind.signatures[0]
    if force or not identity or not first.exists():
        return
    recorded = _recorded(first)
    if recorded is None:
        raise OutputError(f"{first} cannot be read; pass --force to replace that {kind.name}")
    differ = [
        f"{key} {_lookup(recorded, key)!r}, not {value!r}"
        for key, value in identity.items()
        if _lookup(recorded, key) != value
    ]
    if differ:
        raise OutputError(
            f"{path} holds the {kind.name} of another model or dataset ({'; '.join(differ)}); "
            "pass --force to replace it"
        )


def _recorded(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _lookup(data: dict, dotted: str) -> object:
    for key in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[Path]:
    """Hold ``path`` (created if needed) as its only writer until the block ends.

    :class:`OutputError` names the process holding it. The lock file records
    the holder's pid and is removed on release; one whose holder has died is
    not locked and is taken over. A folder made here that is still empty on
    release (the command failed before writing) is removed too.
    """
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"cannot write results to {path}: {e.strerror or e}; choose another --out"
        ) from None
    lock = path / LOCK_NAME
    fd = _acquire(lock)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            # only our own file: the folder may have been replaced (staged_dir) meanwhile
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                os.unlink(lock)
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty


def _acquire(lock: Path) -> int:
    """An fd holding ``lock``; retried when the file was removed between open and flock."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(
                f"cannot write results to {lock.parent}: {e.strerror or e}; choose another --out"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise OutputError(f"cannot lock {lock}: {e.strerror or e}") from None
            raise OutputError(
                f"{lock.parent} is being written by another pynq-mnist (pid {holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed it as we opened it: lock the new one


@contextlib.contextmanager
def claim_output(
    text: str | os.PathLike,
    kind: OutputKind,
    identity: Mapping[str, object] | None = None,
    force: bool = False,
) -> Iterator[Path]:
    """:func:`output_path`, then :func:`output_lock` and :func:`check_output` under the lock."""
    path = output_path(text)
    check_output(path, kind, identity, force)  # before creating anything in a foreign folder
    with output_lock(path):
        check_output(path, kind, identity, force)  # again: another writer may have finished
        yield path
