"""The MNIST overlay: load a bundle, check it, and classify frames through the DMA.

>>> from pynq_mnist.board import load_overlay
>>> ol = load_overlay("mlp")                     # a bundle name or folder
>>> ol.classify(frames)                          # uint8 (N, 28, 28) or (N, 784)

Loading checks the bundle's file hashes and that its ``.hwh`` describes the
design its metadata expects, downloads the overlay with pynq, and runs the
golden vectors through it; any mismatch refuses the overlay with the reason.

``target`` picks the device: ``"board"`` (pynq's FPGA), ``"emulator"`` (the
register-level emulated board of :mod:`pynq_mnist.board.emulator`, which is
only ever a model of the board: its timings are host timings), or ``"auto"``
(the board when pynq finds one, else the emulator).

After any failure inside a call (a DMA error, a missed deadline, Ctrl-C, any
exception) the overlay is marked dirty, and the next call first restores it
(:meth:`MnistOverlay.reset_device`): the DMA is reset while the IP still runs
(its S2MM side drains what the IP offers, PG022), the IP reset GPIO then holds
the IP in reset (dropping the half-read frame and the output words it still
holds) while the DMA is reset again, and the IP is released; then the golden
vectors must come back exactly; if they do not, the call raises
:class:`RecoveryFailed` and nothing is classified. A design without the reset
GPIO is restored by configuring the PL again. So a call either answers
correctly or raises; it never answers from a shifted stream.

One call at a time: ``classify``, ``predict_logits`` and ``execute`` take a lock,
so calls from several threads run one after the other (a call waits for the
one in progress; none is refused). A call from the thread that is already in a
call (a signal handler, a callback) would wait for itself forever: it is
refused with :class:`OverlayBusy`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pynq

from pynq_mnist import limits
from pynq_mnist.bundle import Bundle, BundleError
from pynq_mnist.design import PYNQ_Z2
from pynq_mnist.errors import Failed, Refused
from pynq_mnist.overlays import locate

from .design_check import check_design
from .dma_link import DmaLink
from .ip_reset import find_ip_reset
from .latency_counter import LatencyCounter
from .timing import StageTimer

TARGETS = ("auto", "board", "emulator")
DEFAULT_CMA_BUDGET = 32 << 20  # a quarter of the PYNQ-Z2's 128 MB CMA pool


class OverlayLoadError(BundleError):
    """The overlay cannot be used: no device, no bitstream, or a failed check."""


class GoldenMismatch(Failed, RuntimeError):
    """The device's answers to the golden frames are not the recorded ones."""


class RecoveryFailed(Failed, RuntimeError):
    """After a failed call the overlay could not be brought back to a verified state."""


class OverlayBusy(Refused, RuntimeError):
    """A call from the thread that is already inside a call (e.g. a signal handler)."""


def resolve_target(target: str) -> str:
    """``"board"`` or ``"emulator"`` for a requested target (see the module docstring)."""
    from .emulator.device import real_board_present

    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    present = real_board_present()
    if target == "auto":
        return "board" if present else "emulator"
    if target == "board" and not present:
        raise OverlayLoadError(
            "target='board' but pynq finds no FPGA device here; run on the PYNQ-Z2, "
            "or use target='emulator'"
        )
    return target


def overlay_files(bundle: Bundle, target: str) -> tuple[Path, Path, bool]:
    """``(bit, hwh, emulated_hwh)`` for ``bundle`` on ``target``.

    A built bundle lists them as ``files["bitstream"]`` and ``files["hwh"]``
    (``NAME.bit`` and ``NAME.hwh``); the emulator uses them when present and otherwise writes
    an EMULATED ``.hwh`` from the metadata. The board needs the real pair.
    """
    meta = bundle.metadata
    bit = bundle.path / meta.files.get("bitstream", f"{meta.name}.bit")
    hwh = bundle.path / meta.files.get("hwh", f"{meta.name}.hwh")
    if bit.is_file() and hwh.is_file():
        return bit, hwh, False
    if target == "board":
        raise OverlayLoadError(
            f"{bundle.path} has no bitstream ({bit.name} + {hwh.name}): build it with "
            "`pynq-mnist build-overlay` and copy the bundle to the board"
        )
    from .emulator.hwh import emulated_overlay_files

    return (*emulated_overlay_files(bundle), True)


def _find_dma(overlay: pynq.Overlay):
    for name, ip in overlay.ip_dict.items():
        if str(ip.get("type", "")).startswith(PYNQ_Z2.dma.vlnv.type_prefix):
            driver = overlay
            for part in name.split("/"):
                driver = getattr(driver, part)
            return name, driver
    raise OverlayLoadError("the overlay has no AXI DMA")


class MnistOverlay(pynq.Overlay):
    """A pynq overlay of a pynq-mnist bundle, with ``classify`` and ``predict_logits``.

    Parameters
    ----------
    bundle : Bundle, str or Path
        The bundle, its folder, or its name (see :func:`pynq_mnist.overlays.locate`).
    target : {"auto", "board", "emulator"}
        Where to run (module docstring).
    max_batch : int
        Frames per DMA transfer at most; the buffers are allocated once for this
        many frames (fewer if the DMA's LENGTH or ``cma_budget_bytes`` allow
        fewer) and bigger batches are split.
    cma_budget_bytes : int
        Contiguous memory the buffers may take.
    timeout_s : float
        Deadline of one DMA transfer pair, plus ten times the IP's target
        interval (``ip.target_ii_cycles`` at FCLK) per frame; on expiry the DMA is
        reset and :class:`~pynq_mnist.board.dma_link.DmaTimeout` raised.
    self_test : bool
        Run the golden vectors at load (leave on: a failed test refuses the overlay).
    ip_factory : callable, optional
        Emulator only: the IP model (default: the bundle's compiled library).

    Attributes
    ----------
    timer : StageTimer
        Seconds per stage (pack, copy_in, dma, copy_out, unpack).
    latency_counter : LatencyCounter or None
        The in-fabric cycle counter, on the board when the overlay was built with one.
    ip_reset : IPReset or None
        The IP's software reset (None for a design built without one).
    recoveries : int
        Restores done after failed calls; ``last_recovery_s`` the time of the last.
    target, board_name, fclk_mhz, load_s, self_test_s, frames_per_transfer
    """

    def __init__(
        self,
        bundle: Bundle | str | os.PathLike,
        target: str = "auto",
        *,
        max_batch: int = 10_000,
        cma_budget_bytes: int = DEFAULT_CMA_BUDGET,
        timeout_s: float = 2.0,
        self_test: bool = True,
        ip_factory: Callable[[], object] | None = None,
    ):
        limits.overlay_options(max_batch, cma_budget_bytes, timeout_s)
        self.bundle = bundle if isinstance(bundle, Bundle) else locate(bundle)
        meta = self.metadata = self.bundle.metadata
        self.bundle.verify_hashes()
        self.target = resolve_target(target)
        bit, hwh, self.emulated_hwh = overlay_files(self.bundle, self.target)
        check_design(meta, hwh)
        device = self._device(ip_factory)

        t0 = time.perf_counter()
        super().__init__(str(bit), device=device)
        self.load_s = time.perf_counter() - t0
        self.dma_name, dma = _find_dma(self)
        self.link = DmaLink(dma, timeout_s)
        self.ip_reset = find_ip_reset(self)
        self._lock = threading.Lock()
        self._in_call = threading.local()  # .active: this thread is inside a call
        self._dirty = False
        self._golden_vectors = None
        self.recoveries = 0
        self.last_recovery_s = 0.0
        self.board_name = (
            device.name if self.target == "emulator" else os.environ.get("BOARD", "unknown")
        )
        self.fclk_mhz = float(pynq.Clocks.fclk0_mhz)
        self._frame_budget_s = 10 * float(meta.ip["target_ii_cycles"]) / (self.fclk_mhz * 1e6)
        self._fields = {f.name: f for f in meta.output.fields}
        counter = (meta.build or {}).get("latency_counter")
        self.latency_counter = (
            LatencyCounter(self, counter) if counter and self.target == "board" else None
        )

        self._in_bytes = meta.input.bytes_per_frame
        self._frame_shapes = (meta.input.frame_shape, (meta.input.pixels_per_frame,))
        self._out_words = meta.output.bytes_per_frame // 8
        per_frame = self._in_bytes + meta.output.bytes_per_frame
        self.frames_per_transfer = max(
            1,
            min(
                max_batch,
                meta.max_transfer_bytes // self._in_bytes,
                meta.max_transfer_bytes // meta.output.bytes_per_frame,
                cma_budget_bytes // per_frame,
            ),
        )
        n = self.frames_per_transfer
        self._in_buf = pynq.allocate((n * self._in_bytes,), np.uint8, target=device)
        self._out_buf = pynq.allocate((n * self._out_words,), np.uint64, target=device)
        self._view_cache: dict = {}
        self.timer = StageTimer()
        self.self_test_s = 0.0
        if self_test:
            self._self_test()

    def _device(self, ip_factory):
        if self.target == "board":
            return pynq.Device.active_device
        from .emulator.device import EmulatedDevice

        if ip_factory is None:
            from .emulator.ip_models import ip_model_for_bundle

            bundle = self.bundle
            ip_factory = lambda: ip_model_for_bundle(bundle)  # noqa: E731
        return EmulatedDevice(ip_factory).activate()

    # ------------------------------------------------------------------ the data path

    def execute(self, frames: np.ndarray) -> np.ndarray:
        """Raw output words ``(N, words per frame)`` uint64 for uint8 ``frames``.

        Stages (timed in :attr:`timer`): pack -> copy in -> DMA -> copy out; a
        batch above :attr:`frames_per_transfer` is split into several transfers.
        Calls hold a lock (one at a time), and a call after a failed one first
        restores the overlay (module docstring).
        """
        self._enter()
        try:
            with self._lock:
                if self._in_buf is None:
                    raise RuntimeError("the overlay was closed; load it again")
                if self._dirty:
                    self._restore()
                self.timer.begin_call()
                t0 = time.perf_counter()
                if (
                    isinstance(frames, np.ndarray)
                    and frames.dtype == np.uint8
                    and (frames.shape[1:] in self._frame_shapes and len(frames))
                ):
                    packed = frames.reshape(-1)  # what pack() returns for a well-formed batch
                else:
                    packed = self.metadata.input.pack(frames)  # or its one-line refusal
                self.timer.record("pack", time.perf_counter() - t0)
                self._dirty = True
                out = self._transfer_all(packed)
                self._dirty = False
                return out
        finally:
            self._in_call.active = False

    def _enter(self) -> None:
        """Mark this thread as in a call, or refuse a re-entry (:class:`OverlayBusy`).

        The mark is set before the lock is taken, so a signal handler that runs
        at any point of a call, even while it takes the lock, is refused.
        """
        if getattr(self._in_call, "active", False):
            raise OverlayBusy(
                "this thread is already inside a call of this overlay (a call from a signal "
                "handler or a callback of a call?); it would wait for itself forever. Make the "
                "call after the current one returns, or from another thread"
            )
        self._in_call.active = True

    def _transfer_all(self, packed: np.ndarray) -> np.ndarray:
        clock, record = time.perf_counter, self.timer.record
        n = len(packed) // self._in_bytes
        self.timer.frames += n
        out = np.empty((n, self._out_words), dtype=np.uint64)
        t1 = clock()
        for start in range(0, n, self.frames_per_transfer):
            m = min(self.frames_per_transfer, n - start)
            src, dst_frames, plan = self._views(m)
            src[:] = packed[start * self._in_bytes : (start + m) * self._in_bytes]
            t2 = clock()
            self.link.transfer(plan, self.link.timeout_s + m * self._frame_budget_s)
            t3 = clock()
            out[start : start + m] = dst_frames
            t4 = clock()
            record("copy_in", t2 - t1)
            record("dma", t3 - t2)
            record("copy_out", t4 - t3)
            t1 = t4
        return out

    # ------------------------------------------------------------------ recovery

    @property
    def clean(self) -> bool:
        """False after a failed call, until the next call (or :meth:`recover`) restores it."""
        return not self._dirty

    def recover(self) -> float:
        """Reset the IP and the DMA and check the golden vectors now; the seconds it took.

        Calls do this themselves after a failure; this is for a user who wants the
        overlay verified before the next call. Raises :class:`RecoveryFailed`.
        """
        self._enter()
        try:
            with self._lock:
                self._dirty = True
                self._restore()
                return self.last_recovery_s
        finally:
            self._in_call.active = False

    def reset_device(self) -> None:
        """Reset every part that holds state: the DMA, the IP (its reset GPIO), the DMA again.

        The order works on the board and the emulated board alike. The first DMA
        reset runs while the IP's streams still move, so the MM2S side can finish
        the reads it committed and the S2MM side drains what the IP offers
        (PG021 DMACR.Reset, PG022 soft shutdown); an MM2S shutdown against an IP
        held in reset might never end. Holding the IP then drops its half-read
        frame and queued output (and resets the latency counter's run), and the
        second DMA reset, with the IP held and both channels idle, clears
        anything that reached the DMA meanwhile. Without the GPIO (a bitstream
        built before it) the PL is configured again, which resets the IP with
        everything else.
        """
        if self.ip_reset is not None:
            self.link.reset()
            self.ip_reset.hold()
            try:
                self.link.reset()
            finally:
                self.ip_reset.release()
        else:
            self.download()
            self.link.reset()

    def _golden(self):
        """The bundle's golden vectors, read (and checked) once, when first needed."""
        if self._golden_vectors is None:
            self._golden_vectors = self.bundle.golden_vectors()
        return self._golden_vectors

    def _restore(self) -> None:
        """Reset, then prove the data path clean with the golden vectors (lock held)."""
        t0 = time.perf_counter()
        self.reset_device()
        saved, self.timer = self.timer, StageTimer()
        try:
            golden = self._golden()
            self._dirty = True
            try:
                got = self._transfer_all(self.metadata.input.pack(golden.frames))
            except Exception as e:
                raise RecoveryFailed(
                    f"the overlay did not recover after a failed call: the golden vectors "
                    f"failed after a reset of the IP and the DMA ({type(e).__name__}: {e}). "
                    "Nothing was classified; call again to retry, or load the overlay again"
                ) from e
            problems = golden.mismatches(self.metadata.output, got)
            if problems:
                raise RecoveryFailed(
                    "the overlay did not recover after a failed call: after a reset of the IP "
                    "and the DMA the golden vectors differ (" + "; ".join(problems) + "). "
                    "Nothing was classified; load the overlay again"
                )
            self._dirty = False
        finally:
            self.timer = saved
        self.recoveries += 1
        self.last_recovery_s = time.perf_counter() - t0

    def _views(self, m: int):
        """The first ``m`` frames of the DMA buffers: ``(src, dst as (m, words), plan)``.

        ``src`` and ``dst`` are plain ndarrays on the buffers' memory (a copy into a
        PynqBuffer view runs pynq's ``__array_finalize__`` in Python each time);
        ``plan`` is the DMA link's checked transfer of the two. Kept for the sizes
        in use, since slicing a PynqBuffer and checking it cost microseconds.
        """
        views = self._view_cache.get(m)
        if views is None:
            if len(self._view_cache) >= 8:
                self._view_cache.clear()
            src, dst = self._in_buf[: m * self._in_bytes], self._out_buf[: m * self._out_words]
            views = (
                src.view(np.ndarray),
                dst.view(np.ndarray).reshape(m, self._out_words),
                self.link.plan(src, dst),
            )
            self._view_cache[m] = views
        return views

    def buffers(self, m: int):
        """The DMA buffers' first ``m`` frames as PynqBuffer views ``(in bytes, out words)``.

        For a caller that drives ``link.dma`` with pynq's own driver (the call
        cost's comparison); the overlay's calls do not use these views.
        """
        return self._in_buf[: m * self._in_bytes], self._out_buf[: m * self._out_words]

    def _field(self, frames: np.ndarray, name: str) -> np.ndarray:
        words = self.execute(frames)
        t0 = time.perf_counter()
        values = self._fields[name].decode(words)
        self.timer.record("unpack", time.perf_counter() - t0)
        return values

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """Class index per frame, ``(N,)`` int64, for uint8 frames ``(N, 28, 28)`` or ``(N, 784)``."""
        return self._field(frames, "class")

    def predict_logits(self, frames: np.ndarray) -> np.ndarray:
        """The IP's logits ``(N, classes)`` (floats from their fixed-point words)."""
        return self._field(frames, "logits")

    # ------------------------------------------------------------------ checks, lifetime

    def _self_test(self) -> None:
        t0 = time.perf_counter()
        golden = self._golden()
        got = self.execute(golden.frames)
        self.timer.clear()
        self.self_test_s = time.perf_counter() - t0
        problems = golden.mismatches(self.metadata.output, got)
        if problems:
            self._free_buffers()
            raise GoldenMismatch(
                f"golden self-test failed on {self.target}: " + "; ".join(problems) + ". The "
                "bitstream and the bundle do not belong together (rebuild the overlay from "
                "this bundle)"
            )

    def close(self) -> None:
        """Free the DMA buffers (the overlay stays loaded); waits for a call in progress."""
        self._enter()
        try:
            with self._lock:
                self._free_buffers()
        finally:
            self._in_call.active = False

    def _free_buffers(self) -> None:
        self._view_cache = {}
        for name in ("_in_buf", "_out_buf"):
            buf = self.__dict__.pop(name, None)
            if buf is not None:
                buf.freebuffer()
        self._in_buf = self._out_buf = None

    def __enter__(self) -> MnistOverlay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_overlay(
    bundle: Bundle | str | os.PathLike, target: str = "auto", **kwargs
) -> MnistOverlay:
    """Load, check and self-test a bundle's overlay (see :class:`MnistOverlay`)."""
    return MnistOverlay(bundle, target, **kwargs)
