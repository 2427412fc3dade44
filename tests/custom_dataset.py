"""A small, learnable custom dataset made in the test: own file names, non-digit classes.

Class ``k`` is a bright 6x6 patch at the ``k``-th of ten positions over noise,
so a one-epoch smoke student tells the classes apart. Files are named through
``dataset.json``, not after MNIST.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

CLASSES = ("ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay")
FILES = {
    "train_images": "shapes-train-x.idx.gz",
    "train_labels": "shapes-train-y.idx.gz",
    "test_images": "shapes-test-x.idx",
    "test_labels": "shapes-test-y.idx",
}
_CORNERS = [(r, c) for r in (1, 11, 21) for c in (1, 11, 21)] + [(6, 16)]  # ten places


def idx_bytes(array: np.ndarray) -> bytes:
    header = (0x0800 | array.ndim).to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def images_for(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(0, 60, (len(labels), 28, 28), dtype=np.uint8)
    for i, k in enumerate(labels):
        r, c = _CORNERS[k]
        r, c = r + int(rng.integers(-1, 2)), c + int(rng.integers(-1, 2))
        x[i, max(r, 0) : r + 6, max(c, 0) : c + 6] = 230
    return x


def write_custom_dataset(
    folder: Path, name: str = "Patch Shapes", n_train: int = 600, n_test: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write the dataset into ``folder`` (IDX files + ``dataset.json``); return its arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y_tr = (np.arange(n_train) % 10).astype(np.uint8)
    y_te = (np.arange(n_test) % 10).astype(np.uint8)
    arrays = {
        "train_images": images_for(y_tr, rng),
        "train_labels": y_tr,
        "test_images": images_for(y_te, rng),
        "test_labels": y_te,
    }
    for key, array in arrays.items():
        raw = idx_bytes(array)
        path = folder / FILES[key]
        path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    spec = {"name": name, "classes": list(CLASSES), "files": FILES}
    (folder / "dataset.json").write_text(json.dumps(spec, indent=2))
    return arrays
