"""Fault scenarios on the emulated board, each followed by a correctness check.

Each scenario makes one call fail the way the board can fail (a dropped TLAST,
DMA error bits, a stream that stalls mid-frame, Ctrl-C at several moments, calls
from several threads, many calls in a row), then classifies known frames and
counts the answers that differ from those of the clean overlay. The target is 0
wrong answers after every scenario: a call answers right or raises.

``bench/faults.py`` runs them at full size on a real bundle into
``bench/results/faults.json``; ``tests/test_fault_scenarios.py`` runs them small.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import axi_dma


@dataclass
class Sizes:
    """How big each scenario is.

    check_frames : frames classified after each scenario (the correctness check).
    interrupt_frames : frames in the call a Ctrl-C interrupts.
    interrupt_delays_s : when the Ctrl-C (a real SIGINT) comes, from the call's start.
    thread_count, thread_frames : threads classifying at once, frames per call.
    leak_calls : single-frame calls in the leak scenario.
    """

    check_frames: int = 1000
    interrupt_frames: int = 10_000
    interrupt_delays_s: tuple[float, ...] = (0.05, 0.5, 2.0)
    thread_count: int = 4
    thread_frames: int = 250
    leak_calls: int = 10_000


def _bump_logit_frac(meta: dict) -> None:
    """Move the logits' fixed-point point by one bit: values off by a factor of 2 if loaded."""
    for f in meta["output"]["fields"]:
        if f["name"] == "logits":
            f["frac_bits"] += 1


def _resigned(meta: dict, change: Callable[[dict], None]) -> None:
    """``change`` ``meta``, then give it its digest again (as a hostile editor would)."""
    from pynq_mnist.bundle import DIGEST_KEY, metadata_digest

    change(meta)
    meta[DIGEST_KEY] = metadata_digest(meta)


def _error(e: BaseException | None) -> str | None:
    return None if e is None else f"{type(e).__name__}: {e}"


def _provoke(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt is a scenario here
        return e
    return None


def _sigint_after(delay_s: float) -> tuple[threading.Timer, list[float]]:
    sent: list[float] = []

    def fire():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay_s, fire)
    timer.start()
    return timer, sent


class Runner:
    """Runs scenarios against one emulated overlay.

    Parameters
    ----------
    overlay : MnistOverlay
        On the emulated board (faults are injected into its DMA model).
    frames : np.ndarray
        uint8 frames; the first ``sizes.check_frames`` are the check.
    sizes : Sizes
    on_result : callable, optional
        Called with each scenario's record as soon as it is finished.
    """

    def __init__(self, overlay, frames: np.ndarray, sizes: Sizes, on_result=None):
        if overlay.target != "emulator":
            raise ValueError("fault scenarios inject faults into the emulated board only")
        self.ol, self.frames, self.sizes = overlay, frames, sizes
        self.check = frames[: sizes.check_frames]
        self.reference = overlay.classify(self.check)  # the clean overlay's answers
        self.on_result = on_result or (lambda record: None)
        self.results: list[dict] = []

    @property
    def model(self) -> axi_dma.AxiDmaModel:
        return self.ol.device.dmas[self.ol.dma_name]

    def _record(self, name: str, error: BaseException | None, **extra) -> dict:
        """The correctness check after a scenario: the first call afterwards restores."""
        recoveries = self.ol.recoveries
        t0 = time.perf_counter()
        check_error = _provoke(lambda: setattr(self, "_answers", self.ol.classify(self.check)))
        if check_error is not None:  # a clear error is allowed; try once more, fault gone
            self._answers = self.ol.classify(self.check)
        wrong = int((self._answers != self.reference).sum())
        record = {
            "scenario": name,
            "error": _error(error),
            "first_call_after": _error(check_error) or "answered",
            "recovered": self.ol.recoveries > recoveries,
            "recovery_s": round(self.ol.last_recovery_s, 4)
            if self.ol.recoveries > recoveries
            else 0.0,
            "check_call_s": round(time.perf_counter() - t0, 3),
            "checked_frames": len(self.check),
            "wrong_after_recovery": wrong,
            **extra,
        }
        self.results.append(record)
        self.on_result(record)
        return record

    def _fault(self, name: str, frames: int = 100, **faults) -> dict:
        for key, value in faults.items():
            setattr(self.model.faults, key, value)
        error = _provoke(lambda: self.ol.classify(self.frames[:frames]))
        self.model.faults = axi_dma.Faults()
        return self._record(name, error)

    # ------------------------------------------------------------------ scenarios

    def dma_faults(self) -> None:
        beats = self.ol.metadata.input.beats_per_frame
        self._fault("dropped TLAST (S2MM never completes)", drop_tlast=True)
        self._fault("MM2S DMASlvErr", mm2s_error=axi_dma.SLV_ERR)
        self._fault("MM2S DMADecErr", mm2s_error=axi_dma.DEC_ERR)
        self._fault("S2MM DMAIntErr", s2mm_error=axi_dma.INT_ERR)
        self._fault(
            "mid-frame timeout (stall after half a frame)", mm2s_stall_after_beats=beats // 2
        )
        self._fault(
            "mid-frame timeout (stall in frame 6)", mm2s_stall_after_beats=5 * beats + beats // 3
        )

    def persistent_fault(self) -> None:
        """A fault still there when the next call restores: that call must raise, not answer."""
        self.model.faults.drop_tlast = True
        first = _provoke(lambda: self.ol.classify(self.frames[:10]))
        during = _provoke(lambda: self.ol.classify(self.frames[:10]))
        self.model.faults = axi_dma.Faults()
        self._record(
            "dropped TLAST that persists through the restore",
            first,
            call_while_faulty=_error(during) or "answered",
        )

    def interrupts(self) -> None:
        n = min(self.sizes.interrupt_frames, len(self.frames))
        for delay in self.sizes.interrupt_delays_s:
            timer, sent = _sigint_after(delay)
            t0 = time.perf_counter()
            error = _provoke(lambda: self.ol.classify(self.frames[:n]))
            raised = time.perf_counter()
            timer.join()
            late = raised - sent[0] if sent and isinstance(error, KeyboardInterrupt) else None
            self._record(
                f"Ctrl-C {delay:g} s into a {n}-frame call",
                error,
                call_frames=n,
                interrupt_delivered_after_s=None if late is None else round(late, 4),
                call_ran_s=round(raised - t0, 3),
            )
        # a Ctrl-C while the driver polls a transfer that will not finish
        self.model.faults.drop_tlast = True
        timer, sent = _sigint_after(0.1)
        error = _provoke(lambda: self.ol.classify(self.frames[:10]))
        raised = time.perf_counter()
        timer.join()
        self.model.faults = axi_dma.Faults()
        self._record(
            "Ctrl-C while polling a stalled transfer",
            error,
            interrupt_delivered_after_s=round(raised - sent[0], 4) if sent else None,
        )

    def threads(self) -> None:
        k, n = self.sizes.thread_count, self.sizes.thread_frames
        parts = [self.check[(i * n) % len(self.check) :][:n] for i in range(k)]
        wanted = [self.reference[(i * n) % len(self.check) :][:n] for i in range(k)]
        errors: list[BaseException] = []
        wrong = [0] * k

        def work(i):
            try:
                wrong[i] = int((self.ol.classify(parts[i]) != wanted[i]).sum())
            except Exception as e:  # noqa: BLE001 - recorded
                errors.append(e)

        workers = [threading.Thread(target=work, args=(i,)) for i in range(k)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self._record(
            f"{k} threads classifying at once",
            errors[0] if errors else None,
            wrong_during_contention=sum(wrong),
            thread_errors=len(errors),
        )

    def leaks(self) -> None:
        stats = self.ol.device.memory.stats
        x = self.check
        self.ol.classify(x[:1])
        before = (stats.live_buffers, stats.live_bytes, stats.allocations)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wrong = 0
        for i in range(self.sizes.leak_calls):
            j = i % len(x)
            wrong += int(self.ol.classify(x[j : j + 1])[0] != self.reference[j])
        after = (stats.live_buffers, stats.live_bytes, stats.allocations)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self._record(
            f"{self.sizes.leak_calls} single-frame calls",
            None,
            wrong_during_calls=wrong,
            buffers_before_after=[list(before), list(after)],
            max_rss_growth_kib=rss1 - rss0,
        )

    def edited_bundles(self) -> None:
        """Copies of the bundle, edited by hand or given a foreign file: refused at load.

        The running overlay must keep answering right meanwhile (the check).
        """
        from pynq_mnist.board.overlay import load_overlay

        def edit_json(folder: Path, change: Callable[[dict], None]) -> None:
            path = folder / "bundle.json"
            meta = json.loads(path.read_text())
            change(meta)
            path.write_text(json.dumps(meta, indent=2))

        def edit_golden(folder: Path) -> None:
            with open(folder / self.ol.metadata.files.golden, "ab") as f:
                f.write(b"\0")

        edits = {
            "bundle.json edited: logit fraction bits": lambda d: edit_json(
                d, lambda m: _bump_logit_frac(m)
            ),
            "bundle.json edited: clock_mhz 0": lambda d: edit_json(
                d, lambda m: m["ip"].update(clock_mhz=0)
            ),
            "bundle.json edited: a name with ..": lambda d: edit_json(
                d, lambda m: m.update(name="../escape")
            ),
            "golden.npz changed by one byte": edit_golden,
            "bundle.json edited and re-signed: target_ii_cycles 10**40": lambda d: edit_json(
                d, lambda m: _resigned(m, lambda m: m["ip"].update(target_ii_cycles=10**40))
            ),
        }
        for name, edit in edits.items():
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / self.ol.bundle.path.name
                shutil.copytree(self.ol.bundle.path, copy)
                edit(copy)
                error = _provoke(lambda c=copy: load_overlay(c, "emulator").close())
            self._record(name, error, refused_at_load=error is not None)

    def user_files(self) -> None:
        """``--out`` on the user's folder, two writers at once, a corrupted cached ``.hwh``.

        Refused or healed, with the user's file kept; the overlay answers right meanwhile.
        """
        from pynq_mnist.outputs import BENCH, check_output, claim_output, output_lock

        from .hwh import emulated_overlay_files

        def second_writer(out: Path) -> None:
            with claim_output(out, BENCH):
                pass

        with tempfile.TemporaryDirectory() as tmp:
            mine = Path(tmp) / "mine"
            mine.mkdir()
            (mine / "notes.txt").write_text("the user's")
            error = _provoke(lambda: check_output(mine, BENCH))
            kept = (mine / "notes.txt").read_text() == "the user's"
            self._record("--out naming a folder of the user's", error, user_files_kept=kept)
            out = Path(tmp) / "out"
            with output_lock(out):
                error = _provoke(lambda: second_writer(out))
            self._record("two writers to one --out", error, user_files_kept=True)
        _, hwh = emulated_overlay_files(self.ol.bundle)
        good = hwh.read_bytes()
        hwh.write_bytes(good[: len(good) // 2])
        error = _provoke(lambda: emulated_overlay_files(self.ol.bundle))
        self._record("cached .hwh truncated", error, healed=hwh.read_bytes() == good)

    def run_all(self) -> list[dict]:
        self.user_files()
        self.edited_bundles()
        self.dma_faults()
        self.persistent_fault()
        self.interrupts()
        self.threads()
        self.leaks()
        return self.results
