"""A progress bar: tqdm where installed, else a line every tenth of the way."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


def progress(items: Iterable, total: int, desc: str) -> Iterator:
    """Yield ``items`` while showing progress on stderr."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _printer(items, total, desc)
    return iter(tqdm(items, total=total, desc=desc, leave=False))


def _printer(items: Iterable, total: int, desc: str) -> Iterator:
    step = max(1, total // 10)
    t0 = time.perf_counter()
    for i, item in enumerate(items, 1):
        yield item
        if i % step == 0 or i == total:
            print(f"{desc}: {i}/{total} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
