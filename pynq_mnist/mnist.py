"""MNIST (or any 10-class 28x28 IDX set) as uint8 arrays: numpy and stdlib only.

The board reuses this loader, so it imports no TensorFlow. Where the files come
from, in order:

1. the ``data_dir`` argument;
2. ``$PYNQ_MNIST_DATA`` (an empty value counts as unset);
3. a cache (``$PYNQ_MNIST_CACHE`` or ``~/.cache/pynq-mnist/mnist``), filled once
   by downloading the original files and checking their published md5 sums.

A directory holds the four IDX files under their MNIST names, gzipped or not.
Checksums: an ``MD5SUMS`` file in the directory (``md5  name`` lines) is checked
when present; without one and without a ``classes.txt`` the directory claims to
be the original MNIST and is checked against :data:`MNIST_MD5`. A custom dataset
(your own digits, another 10-class set) adds ``classes.txt``, one class name per
line, and may leave out ``MD5SUMS``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynq_mnist.digest import file_digest

#: The original MNIST files and their published md5 sums (the one copy of them).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Mirrors of the original files, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES_FILE = "classes.txt"
MD5_FILE = "MD5SUMS"
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
DOWNLOAD_TIMEOUT_S = 60

_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # uint8 data; ndim in the last byte


class DataError(ValueError):
    """A dataset file is missing, corrupt, or not a 28x28, 10-class IDX file."""


@dataclass(frozen=True)
class Dataset:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` uint8 in ``0..9``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    checksums: str  # "MD5SUMS", "mnist" (built-in table) or "none"

    def split(
        self, val_fraction: float, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Hold out ``val_fraction`` of the *training* set: ``(x_tr, y_tr, x_val, y_val)``.

        The split depends only on ``seed``; the test set is never touched.
        """
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        order = np.random.default_rng(seed).permutation(len(self.train_labels))
        n_val = max(1, round(val_fraction * len(order)))
        val, train = order[:n_val], order[n_val:]
        return (
            self.train_images[train],
            self.train_labels[train],
            self.train_images[val],
            self.train_labels[val],
        )

    def describe(self) -> dict:
        """What a run records about its data."""
        return {
            "source": self.source,
            "checksums": self.checksums,
            "class_names": list(self.class_names),
            "train": len(self.train_labels),
            "test": len(self.test_labels),
        }


def md5_file(path: str | os.PathLike) -> str:
    return file_digest(path, "md5")


def read_md5sums(path: Path) -> dict[str, str]:
    """``md5  name`` lines (the ``md5sum`` format) as ``{name: md5}``."""
    sums = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 32:
            raise DataError(f"{path}:{n}: expected 'md5  filename', got {line!r}")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """A uint8 IDX array (gzipped or not) with ``ndim`` dimensions, checked against its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip: bad CRC, truncated stream, not gzip
        raise DataError(f"{path}: cannot read ({e}); the file is corrupt or truncated") from e
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header (truncated)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{_IDX_MAGIC[ndim]:08x} "
            f"(uint8 IDX with {ndim} dimension(s))"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: header says shape {dims} ({expected} bytes) but the file holds "
            f"{len(raw)} bytes (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(data_dir: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(
        f"{data_dir}: missing {stem}.gz (or {stem}); a dataset directory holds "
        f"{', '.join(f + '.gz' for f in FILES.values())}"
    )


def _verify(paths: list[Path], sums: dict[str, str], table: str) -> None:
    for path in paths:
        want = sums.get(path.name)
        if want is None:
            raise DataError(f"{path}: no md5 for this file in {table}")
        got = md5_file(path)
        if got != want:
            raise DataError(
                f"{path}: md5 {got} does not match {want} from {table}; the file is "
                "corrupt or not the original: delete it (a cached copy is downloaded again)"
                + (
                    f", or add {CLASSES_FILE} to mark a custom dataset"
                    if table == "the MNIST table"
                    else ""
                )
            )


def _class_names(data_dir: Path) -> tuple[str, ...]:
    path = data_dir / CLASSES_FILE
    if not path.is_file():
        return tuple(str(d) for d in range(NUM_CLASSES))
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(names) != NUM_CLASSES:
        raise DataError(f"{path}: {len(names)} class names, expected {NUM_CLASSES}")
    return names


def _checked_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {labels.max()} outside 0..{NUM_CLASSES - 1}")
    return images, labels


def load_dir(data_dir: str | os.PathLike) -> Dataset:
    """Load and check the dataset in ``data_dir`` (see the module docstring)."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist")
    paths = {key: _find(data_dir, stem) for key, stem in FILES.items()}
    if (data_dir / MD5_FILE).is_file():
        _verify(list(paths.values()), read_md5sums(data_dir / MD5_FILE), str(data_dir / MD5_FILE))
        checksums = MD5_FILE
    elif not (data_dir / CLASSES_FILE).is_file():
        _verify(list(paths.values()), MNIST_MD5, "the MNIST table")
        checksums = "mnist"
    else:
        checksums = "none"
    x_tr, y_tr = _checked_pair(paths["train_images"], paths["train_labels"])
    x_te, y_te = _checked_pair(paths["test_images"], paths["test_labels"])
    return Dataset(x_tr, y_tr, x_te, y_te, _class_names(data_dir), str(data_dir), checksums)


def cache_dir() -> Path:
    """Where downloads go: ``$PYNQ_MNIST_CACHE`` or ``~/.cache/pynq-mnist/mnist``."""
    return Path(os.environ.get("PYNQ_MNIST_CACHE") or "~/.cache/pynq-mnist/mnist").expanduser()


def download_mnist(dest: str | os.PathLike, mirrors: tuple[str, ...] | None = None) -> Path:
    """Fetch the original files missing from ``dest``, each checked before it is kept."""
    dest, mirrors = Path(dest), mirrors or MIRRORS
    dest.mkdir(parents=True, exist_ok=True)
    for name, want in MNIST_MD5.items():
        target = dest / name
        if target.is_file() and md5_file(target) == want:
            continue
        errors = []
        for mirror in mirrors:
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
            try:
                print(f"downloading {mirror}{name}", flush=True)
                with (
                    urllib.request.urlopen(mirror + name, timeout=DOWNLOAD_TIMEOUT_S) as r,
                    os.fdopen(fd, "wb") as f,
                ):
                    shutil.copyfileobj(r, f)
                got = md5_file(tmp)
                if got != want:
                    raise DataError(f"md5 {got}, expected {want}")
                os.replace(tmp, target)
                break
            except (OSError, DataError) as e:
                errors.append(f"{mirror}: {e}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise DataError(
                f"could not download {name}: {'; '.join(errors)}. Put the MNIST files in a "
                "directory and pass it (--data DIR or PYNQ_MNIST_DATA)"
            )
    return dest


def resolve_data_dir(data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The directory :func:`load_mnist` reads: argument, ``$PYNQ_MNIST_DATA``, or the cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("PYNQ_MNIST_DATA")
    if env:
        return Path(env).expanduser()
    cache = cache_dir()
    if download:
        download_mnist(cache)
    return cache


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """MNIST (or a custom IDX set) from ``data_dir``, ``$PYNQ_MNIST_DATA`` or the cache."""
    return load_dir(resolve_data_dir(data_dir, download))
