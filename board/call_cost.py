"""What one call costs the host: register accesses and Python function calls.

:func:`call_cost` runs a function once and counts

- register accesses: every ``read`` and ``write`` of the given :class:`pynq.MMIO`
  (the DMA's), the same count on the board and the emulated board;
- Python function calls that would also run on the board (``sys.setprofile``
  ``call`` events), leaving out pynq's register transport (``pynq/mmio.py``),
  the emulated device (:mod:`pynq_mnist.board.emulator`) and everything they call.
  Built-in (C) functions are not Python calls and are not counted.

On the board's 650 MHz Cortex-A9 each Python call costs about a microsecond and
each register access a bus round trip: for one frame they, not the IP, set the
latency a caller sees.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pynq.mmio

_LEFT_OUT = (str(Path(__file__).parent / "emulator") + os.sep, pynq.mmio.__file__)


def call_cost(fn: Callable[[], object], mmio: pynq.MMIO) -> dict[str, int]:
    """``{"register_reads", "register_writes", "register_accesses", "python_calls"}`` of ``fn()``.

    The accesses are counted by shadowing ``mmio.read`` and ``mmio.write`` for the
    call (drivers must look them up on each access, as pynq's do).
    """
    regs = {"register_reads": 0, "register_writes": 0}
    read, write = mmio.read, mmio.write

    def counted_read(*args, **kwargs):
        regs["register_reads"] += 1
        return read(*args, **kwargs)

    def counted_write(*args, **kwargs):
        regs["register_writes"] += 1
        return write(*args, **kwargs)

    hidden = {counted_read.__code__, counted_write.__code__}
    calls = depth = 0  # depth > 0: inside a left-out frame

    def profile(frame, event, arg) -> None:
        nonlocal calls, depth
        if event == "call":
            if depth:
                depth += 1
            elif frame.f_code in hidden or frame.f_code.co_filename.startswith(_LEFT_OUT):
                depth = 1
            else:
                calls += 1
        elif event == "return" and depth:
            depth -= 1

    own = {k: mmio.__dict__[k] for k in ("read", "write") if k in mmio.__dict__}
    mmio.read, mmio.write = counted_read, counted_write
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
        for name in ("read", "write"):  # pynq sets ``write`` on the instance
            if name in own:
                setattr(mmio, name, own[name])
            else:
                delattr(mmio, name)
    accesses = regs["register_reads"] + regs["register_writes"]
    return {**regs, "register_accesses": accesses, "python_calls": calls}


def single_frame_costs(overlay, frame: np.ndarray) -> dict[str, dict[str, int]]:
    """The cost of one single-frame ``classify`` of a loaded overlay, and beside it
    pynq's plain ``transfer()`` + ``wait()`` of the same frame's buffers.

    ``frame`` is one uint8 frame batch ``(1, 28, 28)``; the overlay is warmed first
    (its buffer views and transfer plan made), so this is the steady state.
    """
    overlay.classify(frame)
    mmio = overlay.link.mmio
    ours = call_cost(lambda: overlay.classify(frame), mmio)
    dma = overlay.link.dma
    src, dst = overlay.buffers(1)  # the link's own buffers: SA ends where the link holds it

    def plain() -> None:
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait()
        dma.recvchannel.wait()

    return {"classify": ours, "pynq_transfer_wait": call_cost(plain, mmio)}
