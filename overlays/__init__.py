"""Overlay bundles, and the locator both sides use to find one by name or path.

A bundle is found, in this order, at:

1. the path given, if it is a folder holding ``bundle.json``;
2. ``NAME`` under each folder of ``$PYNQ_MNIST_OVERLAYS`` (``os.pathsep``-separated);
3. ``NAME`` under this package (bundles installed with the package, which the
   ``pynq.overlays`` entry point also exposes to ``pynq.Overlay``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pynq_mnist.bundle import METADATA_FILE, Bundle, BundleError

PACKAGE_DIR = Path(__file__).parent
ENV_VAR = "PYNQ_MNIST_OVERLAYS"


def search_dirs() -> list[Path]:
    """The folders searched for bundles by name, first match wins."""
    env = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    return [*env, PACKAGE_DIR]


def available() -> dict[str, Path]:
    """Every bundle found by name: ``{name: folder}``."""
    found: dict[str, Path] = {}
    for d in search_dirs():
        if d.is_dir():
            for sub in sorted(d.iterdir()):
                if (sub / METADATA_FILE).is_file():
                    found.setdefault(sub.name, sub)
    return found


def locate(name_or_path: str | os.PathLike) -> Bundle:
    """The bundle at a path, or the first one of that name in :func:`search_dirs`."""
    p = Path(name_or_path).expanduser()
    if (p / METADATA_FILE).is_file():
        return Bundle(p)
    if p.exists():
        raise BundleError(f"{p} is not an overlay bundle: it has no {METADATA_FILE}")
    found = available()
    if str(name_or_path) in found:
        return Bundle(found[str(name_or_path)])
    names = ", ".join(sorted(found)) or "none"
    where = ", ".join(str(d) for d in search_dirs())
    raise BundleError(
        f"no overlay bundle {str(name_or_path)!r}: not a bundle folder, and not a name "
        f"under {where} (bundles there: {names}). Give a path, or add its parent "
        f"folder to ${ENV_VAR}"
    )
