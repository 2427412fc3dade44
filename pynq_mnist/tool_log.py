"""Tool chatter to a log file, one clear line per step to the user.

TensorFlow's C++ start-up lines, Keras warnings, keras-tuner's tables, hls4ml's
and g++'s output all go to file descriptors 1 and 2 or to ``sys.stdout``. Inside
:class:`ToolLog` both lead into a pipe; every line lands in the log file, and
only the lines matching ``forward`` (our own progress lines) reach the user too.
Subprocesses inherit the redirection. Leaving the block, by return, error or
Ctrl-C, restores everything.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import IO


class ToolLog:
    """Send fd 1/2 and ``sys.stdout``/``sys.stderr`` to ``log`` while the block runs.

    Parameters
    ----------
    log : path
        Appended to (a rerun adds to it).
    forward : str, optional
        A regular expression: lines that match (at their start) also go to the user.
    """

    def __init__(self, log: str | os.PathLike, forward: str | None = None):
        self.path = Path(log)
        self.forward = re.compile(forward) if forward else None
        self.user: IO[str] = sys.stdout
        self._lock = threading.Lock()  # say() and the reader thread share both streams

    def say(self, line: str) -> None:
        """One line to the user, and to the log."""
        with self._lock:
            self.user.write(line + "\n")
            self.user.flush()
            self._file.write(line + "\n")
            self._file.flush()

    def __enter__(self) -> ToolLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a")  # closed in __exit__
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved_fds = [os.dup(1), os.dup(2)]
        self._saved_py = (sys.stdout, sys.stderr)
        # The user's stream: the terminal behind fd 1, unless sys.stdout is not fd 1 (a capture).
        try:
            real = sys.stdout.fileno() == 1
        except (AttributeError, OSError, ValueError):
            real = False
        self.user = os.fdopen(os.dup(self._saved_fds[0]), "w", buffering=1) if real else sys.stdout
        self._owns_user = real
        read_fd, self._write_fd = os.pipe()
        os.dup2(self._write_fd, 1)
        os.dup2(self._write_fd, 2)
        self._stream = os.fdopen(os.dup(self._write_fd), "w", buffering=1)
        sys.stdout = sys.stderr = self._stream
        self._reader = threading.Thread(target=self._pump, args=(read_fd,), daemon=True)
        self._reader.start()
        return self

    def _pump(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "r", errors="replace", newline=None) as pipe:
            for line in pipe:
                with self._lock:
                    self._file.write(line)
                    self._file.flush()
                    if self.forward and self.forward.match(line):
                        self.user.write(line)
                        self.user.flush()

    def __exit__(self, *exc) -> None:
        self._stream.flush()
        sys.stdout, sys.stderr = self._saved_py
        os.dup2(self._saved_fds[0], 1)
        os.dup2(self._saved_fds[1], 2)
        for fd in (*self._saved_fds, self._write_fd):
            os.close(fd)
        self._stream.close()  # the last write end: the reader sees the end of the pipe
        self._reader.join(timeout=10)
        if self._owns_user:
            self.user.close()
        self.user = sys.stdout
        self._file.close()
