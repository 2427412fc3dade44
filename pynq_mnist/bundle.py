"""The overlay bundle: the one contract between the host and the board.

A bundle is a folder::

    BUNDLE/
      bundle.json          metadata (this module's schema), written last
      golden.npz           frames + the exact output words the IP must give
      hls/                 HLS project: hls4ml network + our AXI-Stream wrapper
      emulator/            the wrapper compiled for this host (the emulated board)
      NAME.bit, NAME.hwh   after ``pynq-mnist build-overlay`` (Vivado)

Each fact lives once, in ``bundle.json``; both sides read it through
:class:`BundleMetadata`. Derived numbers that people and Tcl like to see (beats
and bytes per frame) are stored too, and :func:`BundleMetadata.from_dict`
refuses a file whose numbers disagree with each other.

This module imports numpy and the standard library only: the board uses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pynq_mnist.digest import file_digest

SCHEMA = "pynq-mnist-bundle"
SCHEMA_VERSION = 1
METADATA_FILE = "bundle.json"


class BundleError(ValueError):
    """A bundle, its metadata or data given to it is not what it must be."""


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class Field:
    """``count`` fixed-point numbers of ``width`` bits packed from bit ``lsb`` up.

    Element ``k`` sits at bits ``lsb + k*width ...``; its value is
    ``raw * 2**-frac_bits`` (two's complement when ``signed``).
    """

    name: str
    lsb: int
    width: int
    count: int = 1
    signed: bool = False
    frac_bits: int = 0

    @property
    def msb(self) -> int:
        return self.lsb + self.count * self.width - 1

    def extract(self, words: np.ndarray) -> np.ndarray:
        """Raw integers of this field, shape ``(N, count)``, from ``(N, beats)`` uint64 words."""
        out = np.empty((words.shape[0], self.count), dtype=np.int64)
        mask = np.uint64((1 << self.width) - 1)
        for k in range(self.count):
            bit = self.lsb + k * self.width
            raw = (words[:, bit // 64] >> np.uint64(bit % 64)) & mask
            out[:, k] = raw.astype(np.int64)
        if self.signed:
            out[out >= 1 << (self.width - 1)] -= 1 << self.width
        return out

    def value(self, raw: np.ndarray) -> np.ndarray:
        """Real values of raw integers: integers stay integers when ``frac_bits`` is 0."""
        return raw if self.frac_bits == 0 else raw * 2.0**-self.frac_bits


@dataclass(frozen=True)
class InputFormat:
    """Frames of uint8 pixels packed little-endian into stream beats.

    Pixel ``i`` of a beat occupies bits ``8i .. 8i+7``; frames are row-major and
    a frame starts on a beat boundary.
    """

    stream_width_bits: int
    frame_shape: tuple[int, ...]
    pixel: dict  # encoding.describe(): dtype, scale, hls_type

    @property
    def pixels_per_frame(self) -> int:
        return int(np.prod(self.frame_shape))

    @property
    def bytes_per_frame(self) -> int:
        return self.pixels_per_frame

    @property
    def beats_per_frame(self) -> int:
        return self.bytes_per_frame // (self.stream_width_bits // 8)

    def check_frames(self, frames: np.ndarray) -> np.ndarray:
        """Frames as a C-contiguous ``(N, pixels)`` uint8 array, or a clear error."""
        if not isinstance(frames, np.ndarray):
            raise BundleError(f"frames must be a numpy array, got {type(frames).__name__}")
        if frames.dtype != np.uint8:
            raise BundleError(
                f"frames must be uint8 raw pixels (0..255), got dtype {frames.dtype}; "
                "do not scale them, the IP takes raw bytes"
            )
        n_pix = self.pixels_per_frame
        as_images = frames.shape[1:] == self.frame_shape
        as_rows = frames.ndim == 2 and frames.shape[1] == n_pix
        if not (as_images or as_rows):
            raise BundleError(
                f"frames must have shape (N, {', '.join(map(str, self.frame_shape))}) "
                f"or (N, {n_pix}), got {frames.shape}"
            )
        if frames.shape[0] == 0:
            raise BundleError("the batch is empty: give at least one frame")
        return np.ascontiguousarray(frames.reshape(frames.shape[0], n_pix))

    def pack(self, frames: np.ndarray) -> np.ndarray:
        """Stream bytes for ``frames``: a uint8 array of ``N * bytes_per_frame``."""
        return self.check_frames(frames).reshape(-1)


@dataclass(frozen=True)
class OutputFormat:
    """Per frame, ``beats_per_frame`` beats whose bits hold the named fields."""

    stream_width_bits: int
    beats_per_frame: int
    fields: tuple[Field, ...]

    @property
    def bytes_per_frame(self) -> int:
        return self.beats_per_frame * self.stream_width_bits // 8

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise BundleError(f"the output format has no field {name!r}")

    def words(self, data: np.ndarray) -> np.ndarray:
        """Received bytes (or uint64 words) as ``(N, beats)`` little-endian uint64 words."""
        data = np.ascontiguousarray(data)
        if data.dtype != np.uint64:
            if data.nbytes % self.bytes_per_frame:
                raise BundleError(
                    f"{data.nbytes} output bytes are not a whole number of "
                    f"{self.bytes_per_frame}-byte frames"
                )
            data = data.view("<u8")
        return data.reshape(-1, self.bytes_per_frame // 8)

    def unpack(self, data: np.ndarray) -> dict[str, np.ndarray]:
        """Every field of every frame: ``{name: (N,) or (N, count) array}``."""
        words = self.words(data)
        out = {}
        for f in self.fields:
            values = f.value(f.extract(words))
            out[f.name] = values[:, 0] if f.count == 1 else values
        return out


# --------------------------------------------------------------------------- metadata


def _require(d: dict, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise BundleError(f"{where}: missing key {key!r}")
    return d[key]


@dataclass(frozen=True)
class BundleMetadata:
    """Everything the board needs to know about an overlay (``bundle.json``).

    ``model``, ``accuracy``, ``ip``, ``files``, ``sha256`` and ``build`` are plain
    dicts; their required keys are checked in :meth:`from_dict`.
    """

    name: str
    classes: tuple[str, ...]
    input: InputFormat
    output: OutputFormat
    ip: dict
    dma: dict
    model: dict
    accuracy: dict
    files: dict
    sha256: dict = field(default_factory=dict)
    build: dict | None = None
    schema_version: int = SCHEMA_VERSION

    REQUIRED = {
        "ip": ("top", "vlnv", "part", "clock_mhz", "target_ii_cycles"),
        "dma": ("length_width_bits",),
        "model": ("arch", "run_dir"),
        "accuracy": ("frames", "keras", "emulated", "agreement"),
        "files": ("golden", "emulator"),
    }
    #: The IP's sources: ``hls`` (hls4ml + the HLS wrapper) or ``rtl`` (``--backend rtl``).
    SOURCE_FILES = ("hls", "rtl")

    @property
    def backend(self) -> str:
        """What made the IP: ``"hls"`` (hls4ml + Vitis/Vivado HLS) or ``"rtl"`` (da4ml Verilog)."""
        return str(self.ip.get("backend", "hls"))

    @property
    def max_transfer_bytes(self) -> int:
        """The AXI DMA's simple-mode limit: the LENGTH register's width."""
        return (1 << int(self.dma["length_width_bits"])) - 1

    # ------------------------------------------------------------------ (de)serialise

    @classmethod
    def from_dict(cls, d: dict, source: str = "metadata") -> BundleMetadata:
        """Validate ``d`` and build the metadata; every problem names ``source``."""
        if _require(d, "schema", source) != SCHEMA:
            raise BundleError(f"{source}: not a pynq-mnist bundle (schema {d['schema']!r})")
        version = _require(d, "schema_version", source)
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{source}: schema_version {version} but this pynq-mnist reads "
                f"{SCHEMA_VERSION}; convert the model again with this version"
            )
        for section, keys in cls.REQUIRED.items():
            for key in keys:
                _require(_require(d, section, source), key, f"{source} [{section}]")
        if not set(cls.SOURCE_FILES) & set(d["files"]):
            raise BundleError(f"{source} [files]: missing key 'hls' (or 'rtl' for an RTL IP)")
        i, o = _require(d, "input", source), _require(d, "output", source)
        inp = InputFormat(
            stream_width_bits=int(_require(i, "stream_width_bits", f"{source} [input]")),
            frame_shape=tuple(_require(i, "frame_shape", f"{source} [input]")),
            pixel=dict(_require(i, "pixel", f"{source} [input]")),
        )
        out = OutputFormat(
            stream_width_bits=int(_require(o, "stream_width_bits", f"{source} [output]")),
            beats_per_frame=int(_require(o, "beats_per_frame", f"{source} [output]")),
            fields=tuple(Field(**f) for f in _require(o, "fields", f"{source} [output]")),
        )
        meta = cls(
            name=str(_require(d, "name", source)),
            classes=tuple(_require(d, "classes", source)),
            input=inp,
            output=out,
            ip=d["ip"],
            dma=d["dma"],
            model=d["model"],
            accuracy=d["accuracy"],
            files=d["files"],
            sha256=d.get("sha256", {}),
            build=d.get("build"),
        )
        meta._check_consistent(i, o, source)
        return meta

    def _check_consistent(self, i: dict, o: dict, source: str) -> None:
        def fail(msg: str) -> None:
            raise BundleError(f"{source}: {msg}")

        if self.input.pixel.get("dtype") != "uint8":
            fail(f"input pixel dtype must be uint8, got {self.input.pixel.get('dtype')!r}")
        for fmt, stored, where in ((self.input, i, "input"), (self.output, o, "output")):
            w = fmt.stream_width_bits
            if w not in (8, 16, 32, 64, 128, 256, 512, 1024):
                fail(f"{where} stream_width_bits {w} is not an AXI-Stream width")
            for key in ("beats_per_frame", "bytes_per_frame"):
                if key in stored and stored[key] != getattr(fmt, key):
                    fail(f"{where} {key} is {stored[key]} but the format gives {getattr(fmt, key)}")
        if self.input.bytes_per_frame % (self.input.stream_width_bits // 8):
            fail("an input frame is not a whole number of stream beats")
        if self.output.stream_width_bits % 64:
            fail("output stream_width_bits must be a multiple of 64")
        frame_bits = self.output.beats_per_frame * self.output.stream_width_bits
        used: set[int] = set()
        for f in self.output.fields:
            if f.width <= 0 or f.count <= 0 or f.lsb < 0 or f.msb >= frame_bits:
                fail(f"output field {f.name!r} does not fit in {frame_bits} bits")
            for k in range(f.count):
                lo = f.lsb + k * f.width
                if lo // 64 != (lo + f.width - 1) // 64:
                    fail(f"output field {f.name!r}[{k}] crosses a 64-bit word")
                bits = set(range(lo, lo + f.width))
                if bits & used:
                    fail(f"output field {f.name!r} overlaps another field")
                used |= bits
        names = {f.name for f in self.output.fields}
        if not {"class", "logits"} <= names:
            fail(f"output fields must include 'class' and 'logits', got {sorted(names)}")
        if self.output.field("logits").count != len(self.classes):
            fail(f"{self.output.field('logits').count} logits but {len(self.classes)} classes")
        if len(self.classes) > 1 << self.output.field("class").width:
            fail("the class field is too narrow for the class count")

    def to_dict(self) -> dict:
        d = {
            "schema": SCHEMA,
            "schema_version": self.schema_version,
            "name": self.name,
            "classes": list(self.classes),
            "input": {
                "stream_width_bits": self.input.stream_width_bits,
                "frame_shape": list(self.input.frame_shape),
                "pixel": self.input.pixel,
                "beats_per_frame": self.input.beats_per_frame,
                "bytes_per_frame": self.input.bytes_per_frame,
            },
            "output": {
                "stream_width_bits": self.output.stream_width_bits,
                "beats_per_frame": self.output.beats_per_frame,
                "bytes_per_frame": self.output.bytes_per_frame,
                "fields": [asdict(f) for f in self.output.fields],
            },
        }
        for key in ("ip", "dma", "model", "accuracy", "files", "sha256", "build"):
            d[key] = getattr(self, key)
        return d


# --------------------------------------------------------------------------- bundle


def sha256_file(path: str | os.PathLike) -> str:
    return file_digest(path, "sha256")


def sha256_tree(path: str | os.PathLike) -> str:
    """One hash of a file, or of every file under a folder (names and contents)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(path).as_posix().encode() + b"\0" + sha256_file(p).encode())
    return h.hexdigest()


class Bundle:
    """A bundle folder on disk, with its validated metadata.

    Parameters
    ----------
    path : str or Path
        The bundle folder (the one holding ``bundle.json``).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_file = self.path / METADATA_FILE
        if not meta_file.is_file():
            raise BundleError(
                f"{self.path} is not an overlay bundle: {METADATA_FILE} is missing "
                "(an interrupted conversion never leaves one; run `pynq-mnist convert` again)"
            )
        try:
            raw = json.loads(meta_file.read_text())
        except json.JSONDecodeError as e:
            raise BundleError(f"{meta_file}: not valid JSON ({e})") from None
        self.metadata = BundleMetadata.from_dict(raw, source=str(meta_file))

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"

    def file(self, key: str) -> Path:
        """The path of the file the metadata names under ``files[key]``."""
        rel = self.metadata.files.get(key)
        if not rel:
            raise BundleError(f"{self.path}: the bundle has no {key!r} file")
        p = self.path / rel
        if not p.exists():
            raise BundleError(f"{self.path}: {key} file {rel} is missing")
        return p

    def has(self, key: str) -> bool:
        rel = self.metadata.files.get(key)
        return bool(rel) and (self.path / rel).exists()

    def verify_hashes(self) -> None:
        """Raise :class:`BundleError` naming the first file whose hash is not recorded."""
        for rel, expected in self.metadata.sha256.items():
            p = self.path / rel
            if not p.exists():
                raise BundleError(f"{self.path}: {rel} is listed in sha256 but missing")
            if sha256_tree(p) != expected:
                raise BundleError(
                    f"{self.path}: {rel} does not match its recorded sha256; the bundle was "
                    "changed after it was written (convert or build it again)"
                )

    def golden(self) -> tuple[np.ndarray, np.ndarray]:
        """The golden ``(frames uint8 (N, 784), output words uint64 (N, beats))``."""
        with np.load(self.file("golden")) as g:
            return g["frames"], g["words"]


def write_metadata(bundle_dir: str | os.PathLike, meta: BundleMetadata) -> None:
    """Write ``bundle.json`` atomically (validating it first)."""
    d = meta.to_dict()
    BundleMetadata.from_dict(json.loads(json.dumps(d)), source="metadata being written")
    bundle_dir = Path(bundle_dir)
    fd, tmp = tempfile.mkstemp(dir=bundle_dir, prefix=".bundle.", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(d, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, bundle_dir / METADATA_FILE)


@contextlib.contextmanager
def staged_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Build a folder beside ``dest`` and move it into place only on success.

    An exception (or a kill) leaves ``dest`` as it was: never half-written.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.staging-"))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(stage, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
