"""The test set a bundle is benched on: the bundle's own dataset, or a clear refusal.

Only the test split is read (a bad training file does not block a bench), and
its identity is compared with the one the bundle recorded at conversion
(:func:`pynq_mnist.mnist.check_same`) before the overlay is loaded.
"""

from __future__ import annotations

import os

from pynq_mnist.bundle import Bundle
from pynq_mnist.mnist import Dataset, load_recorded
from pynq_mnist.overlays import locate


def bench_data(
    bundle: str | os.PathLike | Bundle, data_dir: str | os.PathLike | None
) -> tuple[Bundle, Dataset]:
    """``(bundle, its test set)``: ``data_dir``, else the recorded source, else the default."""
    bundle = bundle if isinstance(bundle, Bundle) else locate(bundle)
    meta = bundle.metadata
    # A bundle made before datasets were recorded still names its classes.
    recorded = meta.dataset.to_dict() if meta.dataset is not None else {"classes": meta.classes}
    data = load_recorded(recorded, data_dir, f"the bundle {bundle.path}", splits=("test",))
    return bundle, data
