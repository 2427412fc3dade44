"""The RTL IP's own Verilog, built with Verilator and clocked beat by beat: the emulated device.

A bundle converted with ``--backend rtl`` carries the IP's Verilog
(``files["rtl"]``: ``pynq_mnist_top.v``, ``net/*.v``) with a C++ harness
(``sim/rtl_emu.cpp``, ``sim/rtl_config.h``), and a build of them for the host
that converted it (``files["emulator"]``, ``librtl_ip.so``). The harness drives
the IP's AXI4-Stream ports every clock (its header lists the C API).

:class:`RTLSimulation` has the DMA model's ``IPModel`` API (``reset``, ``push``,
``run``, ``pop``, ``pending_output``): every beat the DMA sends goes through the
Verilog, clock by clock. It also returns the clock number of each beat, from
which :func:`stream_timing` measures cycles per frame and latency.
This module imports numpy, ctypes and the standard library only.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pynq_mnist.bundle import Bundle, sha256_tree
from pynq_mnist.errors import Failed

from .c_stream_model import CStreamModel, size_t, u8p, u64p
from .cache import cache_dir, cache_writes, digest_matches, record_digest

ABI_VERSION = 1
LIBRARY_NAME = "librtl_ip.so"
TOP_FILE = "pynq_mnist_top.v"
NET_DIR = "net"
SIM_DIR = "sim"
#: What the library is built from, under ``BUNDLE/rtl``.
SOURCE_PATHS = (TOP_FILE, NET_DIR, SIM_DIR)
BUILD_TIMEOUT_S = 900

_SIGNATURES = {
    "rtl_abi_version": ([], ctypes.c_int),
    "rtl_beats_in_per_frame": ([], ctypes.c_int),
    "rtl_create": ([], ctypes.c_void_p),
    "rtl_destroy": ([ctypes.c_void_p], None),
    "rtl_reset": ([ctypes.c_void_p], None),
    "rtl_push": ([ctypes.c_void_p, u64p, u8p, size_t], size_t),
    "rtl_run": ([ctypes.c_void_p], size_t),
    "rtl_pop": ([ctypes.c_void_p, u64p, u8p, u64p, size_t], size_t),
    "rtl_set_output_ready_every": ([ctypes.c_void_p, ctypes.c_uint64], None),
    "rtl_stamp_inputs": ([ctypes.c_void_p, ctypes.c_int], None),
    "rtl_pending_in_cycles": ([ctypes.c_void_p], size_t),
    "rtl_pop_in_cycles": ([ctypes.c_void_p, u64p, size_t], size_t),
    "rtl_pending_output": ([ctypes.c_void_p], size_t),
    "rtl_pending_input": ([ctypes.c_void_p], size_t),
    "rtl_cycles": ([ctypes.c_void_p], ctypes.c_uint64),
}


class RTLSimulationError(Failed, RuntimeError):
    """The RTL simulation cannot be built or loaded, or the IP misbehaved."""


# --------------------------------------------------------------------------- build


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except FileNotFoundError:
        raise RTLSimulationError(
            f"{cmd[0]} is not installed: the RTL simulation needs it "
            "(Debian/Ubuntu: apt-get install verilator g++)"
        ) from None
    except subprocess.TimeoutExpired:
        raise RTLSimulationError(f"{what} took over {BUILD_TIMEOUT_S} s; gave up") from None
    if proc.returncode != 0:
        raise RTLSimulationError(f"{what} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")


def verilator_root() -> Path:
    """Verilator's install root (its ``include/`` holds the runtime sources)."""
    verilator = shutil.which("verilator")
    if verilator is None:
        raise RTLSimulationError(
            "verilator is not installed: the RTL simulation needs it "
            "(Debian/Ubuntu: apt-get install verilator)"
        )
    out = subprocess.run(
        [verilator, "--getenv", "VERILATOR_ROOT"], capture_output=True, text=True, timeout=60
    )
    root = Path(out.stdout.strip())
    if out.returncode != 0 or not (root / "include" / "verilated.cpp").is_file():
        raise RTLSimulationError(f"cannot find Verilator's runtime sources (VERILATOR_ROOT={root})")
    return root


def verilog_sources(rtl_dir: str | os.PathLike) -> list[Path]:
    """The IP's Verilog: the top level first, then the network's modules."""
    rtl_dir = Path(rtl_dir)
    top, net = rtl_dir / TOP_FILE, sorted((rtl_dir / NET_DIR).glob("*.v"))
    if not top.is_file() or not net:
        raise RTLSimulationError(
            f"{rtl_dir} holds no {TOP_FILE} and {NET_DIR}/*.v: not the RTL folder of a "
            "pynq-mnist bundle (convert the model again with --backend rtl)"
        )
    return [top, *net]


def build_simulation(rtl_dir: str | os.PathLike, out: str | os.PathLike, jobs: int = 2) -> Path:
    """Verilate the IP in ``rtl_dir`` and link it with the harness into the library ``out``.

    Verilator turns the Verilog into C++ (``Vip__ALL.a``); Verilator's runtime
    (``verilated.cpp``, ``verilated_threads.cpp``) is compiled here with the
    harness, since Debian's Verilator 5.006 ships no prebuilt ``libverilated``.
    The library is moved into place only once everything succeeded.
    """
    rtl_dir, out = Path(rtl_dir).resolve(), Path(out)
    sources = verilog_sources(rtl_dir)
    root = verilator_root()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pynq-mnist-verilator-") as work:
        work = Path(work)
        mdir = work / "obj"
        cmd = ["verilator", "--cc", "--build", "-j", str(jobs), "--no-timing"]
        cmd += ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-UNOPTFLAT"]
        cmd += ["--top-module", "pynq_mnist_top", "--prefix", "Vip", "-Mdir", str(mdir)]
        cmd += ["-CFLAGS", "-fPIC -O1", *map(str, sources)]
        _run(cmd, work, "verilator")
        tmp = work / LIBRARY_NAME
        inc = root / "include"
        cmd = ["g++", "-O1", "-std=c++17", "-shared", "-fPIC"]
        cmd += [f"-I{mdir}", f"-I{rtl_dir / SIM_DIR}", f"-I{inc}", f"-I{inc / 'vltstd'}"]
        cmd += [str(rtl_dir / SIM_DIR / "rtl_emu.cpp"), str(mdir / "Vip__ALL.a")]
        cmd += [str(inc / "verilated.cpp"), str(inc / "verilated_threads.cpp")]
        cmd += ["-o", str(tmp), "-lpthread"]
        _run(cmd, work, "g++ (the RTL simulation harness)")
        fd, staged = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
        shutil.copyfile(tmp, staged)
        os.replace(staged, out)
    return out


def sources_digest(rtl_dir: str | os.PathLike) -> str:
    """One hash of the simulation's sources (:data:`SOURCE_PATHS`)."""
    h = hashlib.sha256()
    for rel in SOURCE_PATHS:
        h.update(rel.encode() + b"\0" + sha256_tree(Path(rtl_dir) / rel).encode())
    return h.hexdigest()


def _check_library(path: Path) -> None:
    """Load ``path`` in a child process first: a bad library must not kill this one."""
    code = (
        "import ctypes,sys;lib=ctypes.CDLL(sys.argv[1]);lib.rtl_abi_version.restype=ctypes.c_int;"
        "sys.exit(0 if lib.rtl_abi_version()==int(sys.argv[2]) else 3)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(ABI_VERSION)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        why = "ABI version mismatch" if proc.returncode == 3 else proc.stderr.strip()[-500:]
        raise RTLSimulationError(f"{path} does not load here: {why}")


# --------------------------------------------------------------------------- the simulation


class RTLSimulation(CStreamModel):
    """One simulated RTL IP from a built ``librtl_ip.so``.

    Its :meth:`reset` holds the IP's ``ap_rst_n`` low for a few clocks, as the
    board's IP reset GPIO does.

    Parameters
    ----------
    path : str or Path
        The shared library (see :func:`build_simulation`).
    """

    PREFIX = "rtl_"
    Error = RTLSimulationError

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        lib = self._load(_SIGNATURES, ABI_VERSION, "a pynq-mnist RTL simulation")
        self._lib = lib
        self._handle = lib.rtl_create()
        self.beats_in_per_frame = int(lib.rtl_beats_in_per_frame())
        self.beats_out_per_frame = 1

    @classmethod
    def for_bundle(
        cls, bundle: Bundle | str | os.PathLike, cache: str | os.PathLike | None = None
    ) -> RTLSimulation:
        """The bundle's simulation; rebuilt from its Verilog if it will not load here.

        A rebuilt library goes to ``cache`` (default ``$PYNQ_MNIST_EMULATOR_CACHE``
        or ``~/.cache/pynq-mnist/emulator``) under the hash of the sources.
        """
        bundle = bundle if isinstance(bundle, Bundle) else Bundle(bundle)
        rtl_dir = bundle.file("rtl")
        cached = Path(cache or cache_dir()) / f"rtl-{sources_digest(rtl_dir)[:16]}" / LIBRARY_NAME
        candidates = [bundle.file("emulator")] if bundle.has("emulator") else []
        errors = []
        for path in [*candidates, cached]:
            if not path.is_file():
                continue
            if path == cached and not digest_matches(path):
                errors.append(f"{path} does not match its recorded sha256 (corrupted, or older)")
                continue
            try:
                _check_library(path)
            except RTLSimulationError as e:
                errors.append(str(e))
                continue
            return cls._matching(path, bundle.metadata.input.beats_per_frame)
        why = "; ".join(errors) or "the bundle has no library"
        print(f"building the RTL simulation from {rtl_dir} with Verilator ({why}) ...", flush=True)
        with cache_writes():
            build_simulation(rtl_dir, cached)
        record_digest(cached)
        return cls._matching(cached, bundle.metadata.input.beats_per_frame)

    def pop_timed(self, max_beats: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Output beats ``(data uint64, last bool, clock uint64)``, oldest first."""
        n = self.pending_output() if max_beats is None else int(max_beats)
        if n < 0:
            raise ValueError(f"max_beats must be >= 0, got {max_beats}")
        data = np.empty(n, dtype=np.uint64)
        flags = np.empty(n, dtype=np.uint8)
        cycles = np.empty(n, dtype=np.uint64)
        got = self._lib.rtl_pop(
            self._live(),
            data.ctypes.data_as(u64p),
            flags.ctypes.data_as(u8p),
            cycles.ctypes.data_as(u64p),
            n,
        )
        return data[:got], flags[:got].astype(bool), cycles[:got]

    def pop(self, max_beats: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``max_beats`` output beats (all by default): ``(data uint64, last bool)``."""
        data, last, _ = self.pop_timed(max_beats)
        return data, last

    def set_output_ready_every(self, clocks: int) -> None:
        """Raise the output's TREADY only one clock in ``clocks`` (1: always, as the DMA does).

        A slow receiver: the IP must then hold its results and stall its input,
        losing nothing.
        """
        if int(clocks) < 1:
            raise ValueError(f"clocks must be >= 1, got {clocks}")
        self._lib.rtl_set_output_ready_every(self._live(), int(clocks))

    def stamp_inputs(self, on: bool = True) -> None:
        """Keep the clock of every input beat taken from now on (for :meth:`pop_input_cycles`)."""
        self._lib.rtl_stamp_inputs(self._live(), int(bool(on)))

    def pop_input_cycles(self) -> np.ndarray:
        """The clock at which each stamped input beat was taken, oldest first (uint64)."""
        n = int(self._lib.rtl_pending_in_cycles(self._live()))
        cycles = np.empty(n, dtype=np.uint64)
        got = self._lib.rtl_pop_in_cycles(self._live(), cycles.ctypes.data_as(u64p), n)
        return cycles[:got]

    def cycles(self) -> int:
        """Clocks simulated since the instance was made."""
        return int(self._lib.rtl_cycles(self._live()))


def stream_timing(in_cycles: np.ndarray, out_cycles: np.ndarray, beats_in: int) -> dict:
    """Cycles per frame and latency of one back-to-back transfer, from the beats' clocks.

    ``in_cycles`` are the clocks the input beats were taken, ``out_cycles`` those of
    the output beats (one per frame). Latency counts from the clock that took a
    frame's last beat to the clock its output beat left.
    """
    frames = out_cycles.size
    if frames == 0 or in_cycles.size != frames * beats_in:
        raise RTLSimulationError(
            f"{in_cycles.size} input beats and {frames} output beats are not whole frames"
        )
    last_in = in_cycles.reshape(frames, beats_in)[:, -1].astype(np.int64)
    latency = out_cycles.astype(np.int64) - last_in
    gaps = np.diff(out_cycles.astype(np.int64))
    return {
        "frames": int(frames),
        "cycles_per_frame": int(np.median(gaps)) if gaps.size else None,
        "cycles_per_frame_max": int(gaps.max()) if gaps.size else None,
        "latency_cycles": int(latency.min()),
        "latency_cycles_max": int(latency.max()),
        "first_beat_to_last_result_cycles": int(out_cycles[-1] - in_cycles[0] + 1),
    }
