"""Bounds on every value that feeds a deadline or a buffer size.

A NaN or infinite timeout never expires (``perf_counter() > nan`` is always
false), a zero or negative one expires before the IP can answer, and a huge
one turns a dropped TLAST into a hang. A batch or buffer size of 0, a
fraction or a negative number would quietly degrade to one frame per
transfer. Each check here refuses such a value with one line naming it and
what is allowed. The board uses it: only the standard library and the errors are imported.
"""

from __future__ import annotations

import math

from pynq_mnist.errors import Refused

#: Longest a single DMA call may wait on its own (a frame takes microseconds).
MAX_CALL_TIMEOUT_S = 600.0
#: Most frames in one ``classify`` transfer or one bench batch.
MAX_BATCH = 1_000_000
#: The PYNQ-Z2 has 512 MiB of DDR; no contiguous buffer budget can exceed it.
MAX_CMA_BYTES = 512 * 2**20
#: Most timed calls or repeats a bench option may ask for.
MAX_COUNT = 10_000_000


class LimitError(Refused, ValueError):
    """A timeout or size out of its bounds."""


def seconds(value: object, what: str, high: float = MAX_CALL_TIMEOUT_S) -> float:
    """``value`` as a timeout in seconds: finite, above 0 and at most ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LimitError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or not 0 < value <= high:
        raise LimitError(f"{what} is {value!r}; allowed: above 0 and at most {high:g}")
    return float(value)


def count(value: object, what: str, high: int, low: int = 1) -> int:
    """``value`` as a whole number from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitError(f"{what} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise LimitError(f"{what} is {value}; allowed: {low}..{high}")
    return value


def overlay_options(max_batch: object, cma_budget_bytes: object, timeout_s: object) -> None:
    """Refuse bad ``load_overlay`` sizes and timeout (:class:`LimitError`) before any load."""
    count(max_batch, "max_batch", MAX_BATCH)
    count(cma_budget_bytes, "cma_budget_bytes", MAX_CMA_BYTES)
    seconds(timeout_s, "timeout_s")
