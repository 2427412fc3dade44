"""MNIST, or your own 10-class 28x28 IDX dataset, as uint8 arrays: numpy and stdlib only.

The board reuses this loader, so it imports no TensorFlow. Where the files come
from, in order:

1. the ``data_dir`` argument (``--data DIR``);
2. ``$PYNQ_MNIST_DATA`` (an empty value counts as unset);
3. a cache (``$PYNQ_MNIST_CACHE`` or ``~/.cache/pynq-mnist/mnist``), filled once
   by downloading the original MNIST files and checking their published md5 sums.

A dataset folder is one of (docs/own-dataset.md):

- **MNIST**: the four IDX files under their MNIST names, gzipped or not. Without
  ``classes.txt`` the folder claims to be the original MNIST and every file is
  checked against :data:`MNIST_MD5`.
- **A custom set under the MNIST names**: the same four files plus
  ``classes.txt`` (ten class names, one a line, in label order) and, optionally,
  ``MD5SUMS`` (``md5  filename`` lines, checked when present). Its name is the
  folder's name.
- **A custom set under any names**: a ``dataset.json``::

      {"name": "fashion", "classes": ["t-shirt", ...ten names],
       "files": {"train_images": "my-train-x.gz", "train_labels": "my-train-y.gz",
                 "test_images": "my-test-x", "test_labels": "my-test-y"},
       "md5": {"my-test-x": "..."}}      (optional, per file: unlisted files are
                                          read unchecked)

A dataset's *identity* (:meth:`Dataset.identity`) is its name, its class names
and the sha256 of each file's IDX content (after gunzip, so ``.gz`` or not is
the same data). A run and a bundle record it; ``convert`` and ``bench`` refuse
data whose identity differs (:func:`check_same`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pynq_mnist.atomic import atomic_path
from pynq_mnist.digest import file_digest
from pynq_mnist.errors import Refused

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
SPLITS = {"train": ("train_images", "train_labels"), "test": ("test_images", "test_labels")}
CLASSES_FILE = "classes.txt"
MD5_FILE = "MD5SUMS"
DATASET_FILE = "dataset.json"
MNIST_NAME = "mnist"
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
DOWNLOAD_TIMEOUT_S = 60
#: Where the custom-dataset format is described, for error messages.
FORMAT_HELP = "see docs/own-dataset.md (pynq-mnist data check DIR tests a folder)"
#: ``--help`` of every ``--data`` option.
DATA_HELP = (
    "dataset folder: MNIST's four IDX files (.gz or not), or your own 28x28 10-class set: "
    "the same four files plus classes.txt (ten names, one a line) and optional MD5SUMS, or "
    "any file names listed in a dataset.json (name, classes, files); check one with "
    "`pynq-mnist data check DIR`. Default: {default}"
)

_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # uint8 data; ndim in the last byte


class DataError(Refused, ValueError):
    """A dataset file is missing, corrupt, or not a 28x28, 10-class IDX file."""


@dataclass(frozen=True)
class Dataset:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` uint8 in ``0..9``.

    A split that was not asked for (``splits=("test",)``) holds zero frames.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    checksums: str  # "MD5SUMS", "dataset.json", "mnist" (built-in table) or "none"
    name: str = MNIST_NAME
    sha256: dict[str, str] = field(default_factory=dict)  # IDX content hash per loaded file

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

    def identity(self) -> dict:
        """Name, class names, source folder and content hashes: what runs and bundles record."""
        return {
            "name": self.name,
            "classes": list(self.class_names),
            "source": self.source,
            "sha256": dict(self.sha256),
        }

    def describe(self) -> dict:
        """What a run records about its data (its identity included)."""
        return {
            "name": self.name,
            "source": self.source,
            "checksums": self.checksums,
            "class_names": list(self.class_names),
            "sha256": dict(self.sha256),
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


def _read_raw(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:  # gzip: bad CRC, truncated stream, not gzip
        raise DataError(f"{path}: cannot read ({e}); the file is corrupt or truncated") from e


def _parse_idx(raw: bytes, path: Path, ndim: int) -> np.ndarray:
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


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """A uint8 IDX array (gzipped or not) with ``ndim`` dimensions, checked against its header."""
    path = Path(path)
    return _parse_idx(_read_raw(path), path, ndim)


def slug(name: str) -> str:
    """``name`` as an identifier (letters, digits, ``_``; a letter first): bundle names use it."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()
    return s if s[:1].isalpha() else f"data_{s}".rstrip("_")


@dataclass(frozen=True)
class Layout:
    """What a dataset folder declares, before any file is read."""

    folder: Path
    name: str
    class_names: tuple[str, ...]
    files: dict[str, str]  # key of FILES -> file name in the folder
    md5: dict[str, str] | None  # file name -> md5 to check, or None
    md5_from: str  # where ``md5`` came from, for messages; "none" without one
    declared_by: str  # "dataset.json", "classes.txt" or "mnist"

    def path(self, key: str) -> Path:
        """The file of ``key`` (``train_images`` ...), or a :class:`DataError` naming it."""
        p = self.folder / self.files[key]
        if p.is_file():
            return p
        if self.declared_by == DATASET_FILE:
            raise DataError(
                f"{self.folder / DATASET_FILE}: files.{key} {self.files[key]} is missing"
            )
        raise DataError(
            f"{self.folder}: missing {FILES[key]}.gz (or {FILES[key]}); a dataset folder holds "
            f"{', '.join(f + '.gz' for f in FILES.values())}, or a {DATASET_FILE} naming its "
            f"files ({FORMAT_HELP})"
        )

    def verify(self, keys: tuple[str, ...]) -> None:
        """Check the md5 of each file of ``keys`` against :attr:`md5` (when there is one).

        The MNIST table covers every MNIST file, so a file it lacks is refused; a custom
        set's sums (``dataset.json`` ``md5``, ``MD5SUMS``) are optional per file: a file
        they do not list is read unchecked (its sha256 still goes into the identity).
        """
        if self.md5 is None:
            return
        for key in keys:
            path = self.path(key)
            want = self.md5.get(path.name)
            if want is None and self.declared_by != MNIST_NAME:
                continue
            if want is None:
                raise DataError(f"{path}: no md5 for this file in {self.md5_from}")
            got = md5_file(path)
            if got != want:
                hint = (
                    f"; these are not the original MNIST files: a custom dataset adds "
                    f"{CLASSES_FILE} (ten class names, one a line) or a {DATASET_FILE} "
                    f"({FORMAT_HELP})"
                    if self.declared_by == MNIST_NAME
                    else ": the file is corrupt or changed; fetch it again or fix the sum"
                )
                raise DataError(
                    f"{path}: md5 {got} does not match {want} from {self.md5_from}{hint}"
                )

    def read(self, split: str) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
        """``(images, labels, {key: sha256 of IDX content})`` of ``split``, fully checked."""
        images_key, labels_key = SPLITS[split]
        self.verify(SPLITS[split])
        paths = [self.path(images_key), self.path(labels_key)]
        raws = [_read_raw(p) for p in paths]
        images, labels = _parse_idx(raws[0], paths[0], 3), _parse_idx(raws[1], paths[1], 1)
        if images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{paths[0]}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
        if len(images) != len(labels):
            raise DataError(f"{paths[1]}: {len(labels)} labels for {len(images)} images")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise DataError(f"{paths[1]}: label {labels.max()} outside 0..{NUM_CLASSES - 1}")
        hashes = {
            key: hashlib.sha256(raw).hexdigest()
            for key, raw in zip(SPLITS[split], raws, strict=True)
        }
        return images, labels, hashes


def _find(data_dir: Path, stem: str) -> str:
    for name in (f"{stem}.gz", stem):
        if (data_dir / name).is_file():
            return name
    return f"{stem}.gz"  # missing: Layout.path says so when the split is read


def _read_class_names(path: Path, names: list) -> tuple[str, ...]:
    names = [str(n).strip() for n in names if str(n).strip()]
    if len(names) != NUM_CLASSES:
        raise DataError(f"{path}: {len(names)} class names, expected {NUM_CLASSES}")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: class names repeat ({names}); each class needs its own name")
    return tuple(names)


def _layout_from_json(data_dir: Path) -> Layout:
    path = data_dir / DATASET_FILE
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise DataError(f"{path}: expected an object with name, classes and files")
    unknown = set(spec) - {"name", "classes", "files", "md5"}
    missing = {"name", "classes", "files"} - set(spec)
    if unknown or missing:
        raise DataError(
            f"{path}: keys are name, classes, files and (optional) md5"
            + (f"; missing {sorted(missing)}" if missing else "")
            + (f"; unknown {sorted(unknown)}" if unknown else "")
        )
    files = spec["files"]
    if not isinstance(files, dict) or set(files) != set(FILES):
        raise DataError(f"{path}: files must name exactly {', '.join(FILES)}")
    md5 = spec.get("md5")
    if md5 is not None and not isinstance(md5, dict):
        raise DataError(f"{path}: md5 must map file names to md5 sums")
    if not isinstance(spec["classes"], list):
        raise DataError(f"{path}: classes must be a list of {NUM_CLASSES} names")
    if not str(spec["name"]).strip():
        raise DataError(f"{path}: name is empty")
    return Layout(
        data_dir,
        str(spec["name"]).strip(),
        _read_class_names(path, spec["classes"]),
        {k: str(v) for k, v in files.items()},
        {str(k): str(v).lower() for k, v in md5.items()} if md5 else None,
        str(path) if md5 else "none",
        DATASET_FILE,
    )


def layout(data_dir: str | os.PathLike) -> Layout:
    """What the folder ``data_dir`` declares (see the module docstring); reads no IDX file."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist")
    if (data_dir / DATASET_FILE).is_file():
        return _layout_from_json(data_dir)
    files = {key: _find(data_dir, stem) for key, stem in FILES.items()}
    md5_path = data_dir / MD5_FILE
    classes_path = data_dir / CLASSES_FILE
    if classes_path.is_file():
        # utf-8-sig: an editor's byte-order mark is not part of class 0's name
        text = classes_path.read_text(encoding="utf-8-sig")
        names = _read_class_names(classes_path, text.splitlines())
        md5 = read_md5sums(md5_path) if md5_path.is_file() else None
        where = str(md5_path) if md5 is not None else "none"
        return Layout(data_dir, data_dir.resolve().name, names, files, md5, where, CLASSES_FILE)
    # No class names: the folder claims to be MNIST, and is checked as such.
    if md5_path.is_file() and read_md5sums(md5_path) != MNIST_MD5:
        raise DataError(
            f"{data_dir}: {MD5_FILE} is not the MNIST table but there is no {CLASSES_FILE}; "
            f"a custom dataset names its ten classes in {CLASSES_FILE} (one a line) or a "
            f"{DATASET_FILE} ({FORMAT_HELP})"
        )
    digits = tuple(str(d) for d in range(NUM_CLASSES))
    return Layout(data_dir, MNIST_NAME, digits, files, MNIST_MD5, "the MNIST table", MNIST_NAME)


def load_dir(data_dir: str | os.PathLike, splits: tuple[str, ...] = ("train", "test")) -> Dataset:
    """Load and check ``splits`` of the dataset in ``data_dir`` (see the module docstring)."""
    lay = layout(data_dir)
    empty = (np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros(0, np.uint8), {})
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; choose from {sorted(SPLITS)}")
    x_tr, y_tr, h_tr = lay.read("train") if "train" in splits else empty
    x_te, y_te, h_te = lay.read("test") if "test" in splits else empty
    checksums = (
        "none"
        if lay.md5 is None
        else {MNIST_NAME: "mnist", DATASET_FILE: DATASET_FILE}.get(lay.declared_by, MD5_FILE)
    )
    return Dataset(
        x_tr, y_tr, x_te, y_te, lay.class_names, str(lay.folder), checksums, lay.name,
        {**h_tr, **h_te},
    )  # fmt: skip


def recorded_identity(record: dict) -> dict:
    """A run's ``metrics.json`` ``data`` or a bundle's ``dataset``, as :meth:`Dataset.identity`."""
    return {
        "name": record.get("name"),
        "classes": record.get("classes", record.get("class_names")),
        "source": record.get("source"),
        "sha256": record.get("sha256") or {},
    }


def check_same(
    found: dict,
    recorded: dict,
    where: str,
    fix: str = "pass --data with that dataset, or train and convert again on this one",
) -> None:
    """Refuse ``found`` (an identity) unless it is the dataset ``recorded`` for ``where``.

    Compares what both sides hold: the class names, and the hash of every file
    both have loaded (a bench reads only the test split). The name is compared
    only where there are no hashes to compare: the same files in a folder of
    another name (copied to a board, say) are the same dataset.
    """
    recorded = recorded_identity(recorded)
    problems = []
    if recorded["classes"] and list(found["classes"]) != list(recorded["classes"]):
        problems.append(f"classes {list(found['classes'])} vs {list(recorded['classes'])}")
    common = sorted(set(found["sha256"]) & set(recorded["sha256"]))
    problems += [
        f"{k} content differs" for k in common if found["sha256"][k] != recorded["sha256"][k]
    ]
    if not common and recorded["name"] and found["name"] != recorded["name"]:
        problems.append(f"name {found['name']!r} vs {recorded['name']!r}")
    if problems:
        raise DataError(
            f"the dataset {found['name']!r} from {found['source']} is not the one {where} was "
            f"made with, {recorded['name']!r} from {recorded['source']} ({'; '.join(problems)}); "
            f"{fix}"
        )


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
            try:
                print(f"downloading {mirror}{name}", flush=True)
                # kept only once its md5 is right: atomic_path drops it on any error
                with atomic_path(target) as tmp:
                    with (
                        urllib.request.urlopen(mirror + name, timeout=DOWNLOAD_TIMEOUT_S) as r,
                        open(tmp, "wb") as f,
                    ):
                        shutil.copyfileobj(r, f)
                    got = md5_file(tmp)
                    if got != want:
                        raise DataError(f"md5 {got}, expected {want}")
                break
            except (OSError, DataError) as e:
                errors.append(f"{mirror}: {e}")
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


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    splits: tuple[str, ...] = ("train", "test"),
) -> Dataset:
    """MNIST (or a custom IDX set) from ``data_dir``, ``$PYNQ_MNIST_DATA`` or the cache."""
    return load_dir(resolve_data_dir(data_dir, download), splits)


def load_recorded(
    recorded: dict | None,
    data_dir: str | os.PathLike | None,
    where: str,
    splits: tuple[str, ...] = ("test",),
) -> Dataset:
    """The dataset to check ``where`` (a run or a bundle) on, refused unless it is the recorded one.

    ``data_dir`` when given; else the recorded source folder when it is still
    there; else ``$PYNQ_MNIST_DATA`` or the cache (MNIST only: a custom dataset
    is never downloaded, so its absence is said at once).
    """
    rec = recorded_identity(recorded or {})
    if not data_dir and rec["source"] and Path(rec["source"]).is_dir():
        data_dir = rec["source"]
    elif (
        not data_dir
        and not os.environ.get("PYNQ_MNIST_DATA")
        and rec["name"]
        not in (
            None,
            MNIST_NAME,
        )
    ):
        raise DataError(
            f"{where} was made with the dataset {rec['name']!r} from {rec['source']}, which is "
            "not on this machine: pass --data DIR with that dataset"
        )
    data = load_mnist(data_dir, splits=splits)
    if recorded:
        check_same(data.identity(), recorded, where)
    return data
