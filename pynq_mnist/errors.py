"""The project's errors: one base, two kinds, and the exit status of each.

Every error the project raises on purpose derives from :class:`PynqMnistError`,
through one of two kinds, and ``pynq-mnist`` maps them once (``cli.py``):

==================  ========================================================  ====
kind                meaning                                                   exit
==================  ========================================================  ====
:class:`Refused`    bad input or environment: a file, option, dataset,       2
                    bundle or install that cannot be used as given; the
                    message names the problem and the fix
:class:`Failed`     the hardware or a tool failed on good input: the DMA,    1
                    the IP, a compiler, Vivado; the message says what failed
(interrupted)       Ctrl-C (``KeyboardInterrupt``)                            130
==================  ========================================================  ====

Each concrete error also derives from the built-in it refines (``ValueError``,
``OSError``, ``TimeoutError``, ...), so code that catches those keeps working.
"""

from __future__ import annotations

#: Exit statuses of ``pynq-mnist`` (argparse's own for a bad option is 2 too).
EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


class PynqMnistError(Exception):
    """The base of every error pynq-mnist raises on purpose."""

    exit_status = EXIT_FAILED


class Refused(PynqMnistError):
    """Bad input or environment: refused in one line naming the problem and the fix."""

    exit_status = EXIT_REFUSED


class Failed(PynqMnistError):
    """The hardware or a tool failed on good input."""

    exit_status = EXIT_FAILED
