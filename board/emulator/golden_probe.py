"""Run an IP library on its bundle's golden frames in a child process, before this one loads it.

A bundle's ``.so`` (or one built into the cache) is native code. Loading it
in a child and reading its digest (:func:`.library_build.check_library`)
catches a library that will not load; one that loads and then crashes when
the IP runs would still kill the process that loads it, with no message. The
child here runs every golden frame through it: a crash (a signal) or a hang
refuses the library in one line. Whether the words are right is the overlay's
self-test's to say (it compares them with the golden ones and names the first).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from .library_build import IPLibraryError

#: Seconds the golden frames may take in the child (a few thousand frames at most).
PROBE_TIMEOUT_S = 300


def probe_library(library: Path, bundle: Path) -> None:
    """:class:`IPLibraryError` unless ``library`` runs ``bundle``'s golden frames in a child."""
    cmd = [sys.executable, "-m", __name__, str(library), str(bundle)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise IPLibraryError(
            f"{library} did not finish the golden frames within {PROBE_TIMEOUT_S} s"
        ) from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise IPLibraryError(
            f"{library} crashed ({name}) running the golden frames: the IP code is broken; "
            "convert the model again"
        )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise IPLibraryError(f"{library} failed on the golden frames: {last}")


def _main(library: str, bundle_path: str) -> None:
    from pynq_mnist.bundle import Bundle

    from .iplib import IPLibrary

    bundle = Bundle(bundle_path)
    frames, _ = bundle.golden()
    with IPLibrary(library, bundle.file("hls") / "firmware" / "weights") as lib:
        lib.transfer(frames.reshape(-1))


if __name__ == "__main__":
    _main(*sys.argv[1:])
