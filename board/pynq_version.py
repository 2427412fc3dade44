"""The pynq this package runs on: 3.x, the PYNQ-Z2's (its last image, v3.1, has 3.1.2).

pynq 4.0 removed Zynq-7000 support (its release notes: "Support for Pynq-Z1 and
Pynq-Z2 (Zynq-7000) boards is removed"); under it pynqmetadata's Zynq-7000 clock
code fails, and ``Overlay.download()`` would program the PL clock with ``None``.
``setup.py`` asks for ``pynq<4``; this check catches an install that slipped past
it (``--no-deps``, a board image upgraded by hand) before anything touches a device.
"""

from __future__ import annotations

import importlib.metadata

from pynq_mnist.errors import Refused

#: The first pynq major without the PYNQ-Z2.
UNSUPPORTED_MAJOR = 4


class UnsupportedPynq(Refused, ImportError):
    """The installed pynq cannot drive a PYNQ-Z2."""


def installed_pynq() -> str | None:
    """The installed pynq's version, read from its metadata (pynq is not imported)."""
    try:
        return importlib.metadata.version("pynq")
    except importlib.metadata.PackageNotFoundError:
        return None


def check_pynq(version: str | None = None) -> None:
    """Refuse a pynq the PYNQ-Z2 has no image for, in one line that says what to do."""
    version = installed_pynq() if version is None else version
    if version is None:
        return  # pynq's own ImportError names the missing package when it is needed
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) >= UNSUPPORTED_MAJOR:
        raise UnsupportedPynq(
            f"pynq {version} has no PYNQ-Z2 support (pynq 4 removed Zynq-7000 boards); "
            "use the PYNQ-Z2 v3.1 image's pynq: pip install 'pynq>=3.0.1,<4'"
        )
