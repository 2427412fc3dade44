"""The emulation library's build: the bundle's HLS sources compiled with g++, and its cache.

The library carries the SHA-256 of the sources it was built from (the network's
weights included; ``pm_sources_digest()``), and :func:`check_library` loads a
candidate in a child process first: a library that does not load, speaks another
C API version, or was built from other sources is never loaded into this process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pynq_mnist.atomic import atomic_path
from pynq_mnist.bundle import EMULATOR_ABI_VERSION, sha256_tree
from pynq_mnist.errors import Failed


class IPLibraryError(Failed, RuntimeError):
    """The emulation library cannot be built or loaded, or the IP misbehaved."""


LIBRARY_NAME = "libpynq_mnist_ip.so"
COMPILE_TIMEOUT_S = 600
#: What the library is built from, under ``BUNDLE/hls`` (the HLS build adds
#: ``work/``, ``ip_repo/`` and ``reports/`` beside them, which change nothing here).
SOURCE_PATHS = (
    "firmware",
    "emulator",
    "pynq_mnist_top.h",
    "pynq_mnist_top.cpp",
    "pynq_mnist_config.h",
)


def library_sources(hls_dir: str | os.PathLike) -> list[Path]:
    """The C++ files of the emulation library: the wrapper, the network, the C API."""
    hls_dir = Path(hls_dir)
    sources = sorted(
        [
            *hls_dir.glob("*.cpp"),
            *(hls_dir / "firmware").glob("*.cpp"),
            *(hls_dir / "emulator").glob("*.cpp"),
        ]
    )
    if not any(p.name == "pynq_mnist_emu.cpp" for p in sources):
        raise IPLibraryError(
            f"{hls_dir} holds no emulator/pynq_mnist_emu.cpp: not the HLS folder of a "
            "pynq-mnist bundle (convert the model again)"
        )
    return sources


def compile_library(hls_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Compile the bundle's HLS sources with g++ into the shared library ``out``.

    The library is written beside ``out`` and moved into place only once g++
    succeeded. Include order matters: ``emulator/include`` supplies the
    ``ap_axi_sdata.h`` shim, ``firmware/ap_types`` hls4ml's C-simulation types.
    The network reads its weights at run time from the folder given to
    ``IPLibrary`` (``-DWEIGHTS_DIR=pm_weights_dir()``), so the library does
    not depend on where the bundle lies; the digest of its sources is compiled in
    (``-DPM_SOURCES_DIGEST``).
    """
    hls_dir, out = Path(hls_dir), Path(out)
    includes = [hls_dir, hls_dir / "firmware", hls_dir / "firmware" / "ap_types"]
    includes.append(hls_dir / "emulator" / "include")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        _compile(hls_dir, includes, tmp)
    return out


def _compile(hls_dir: Path, includes: list[Path], tmp: Path) -> None:
    cmd = ["g++", "-O3", "-std=c++14", "-fPIC", "-shared", "-Wno-unknown-pragmas"]
    cmd += ["-include", str(hls_dir / "emulator" / "include" / "pm_weights_dir.h")]
    cmd += ["-DWEIGHTS_DIR=pm_weights_dir()", f'-DPM_SOURCES_DIGEST="{sources_digest(hls_dir)}"']
    cmd += [f"-I{p}" for p in includes] + [str(s) for s in library_sources(hls_dir)]
    cmd += ["-o", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except FileNotFoundError:
        raise IPLibraryError("g++ is not installed: the emulator needs a C++ compiler") from None
    except subprocess.TimeoutExpired:
        raise IPLibraryError(f"g++ took over {COMPILE_TIMEOUT_S} s; gave up") from None
    if proc.returncode != 0:
        raise IPLibraryError(f"g++ failed to build the emulator:\n{proc.stderr[-4000:]}")


def sources_digest(hls_dir: str | os.PathLike) -> str:
    """One hash of the library's sources (:data:`SOURCE_PATHS`)."""
    h = hashlib.sha256()
    for rel in SOURCE_PATHS:
        h.update(rel.encode() + b"\0" + sha256_tree(Path(hls_dir) / rel).encode())
    return h.hexdigest()


def check_library(path: Path, digest: str) -> None:
    """Load ``path`` in a child process first: a bad library must not kill this one.

    Refuses a library that does not load, has another C API version, or was built
    from other sources than those of ``digest`` (:func:`sources_digest`).
    """
    code = (
        "import ctypes,sys;lib=ctypes.CDLL(sys.argv[1]);"
        "lib.pm_abi_version.restype=ctypes.c_int;"
        "sys.exit(3) if lib.pm_abi_version()!=int(sys.argv[2]) else None;"
        "lib.pm_sources_digest.restype=ctypes.c_char_p;"
        "sys.exit(0 if lib.pm_sources_digest().decode()==sys.argv[3] else 4)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(EMULATOR_ABI_VERSION), digest],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        why = {
            3: f"its C API is not version {EMULATOR_ABI_VERSION}",
            4: "it was built from other HLS sources or weights than the bundle's",
        }.get(proc.returncode, proc.stderr.strip()[-500:])
        raise IPLibraryError(f"{path} is refused: {why}")
