"""The overlay bundle: the one contract between the host and the board.

A bundle is a folder::

    BUNDLE/
      bundle.json          metadata (this module's schema), written last
      golden.npz           frames, the exact output words the IP must give, and
                           their decoded classes and logits
      hls/                 HLS project: hls4ml network + our AXI-Stream wrapper
      emulator/            the wrapper compiled for this host (the emulated board)
      network.npz          the network for the numpy CPU reference (pynq_mnist.network_file)
      NAME.bit, NAME.hwh   after ``pynq-mnist build-overlay`` (Vivado)

Each fact lives once, in ``bundle.json``; both sides read it through
:class:`BundleMetadata`, whose every section is a typed, validated dataclass
(also readable by key, as the JSON it is written as). A value of the wrong type
or out of range is refused on read with an error naming the file, the key and
what is allowed. Derived numbers that people and Tcl like to see (beats and
bytes per frame) are stored too, and :func:`BundleMetadata.from_dict` refuses a
file whose numbers disagree with each other. ``bundle.json`` carries the
SHA-256 of its own canonical JSON (``metadata_sha256``), so an edit by hand is
refused like an edited file.

This module imports numpy and the standard library only: the board uses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from pynq_mnist.atomic import atomic_path
from pynq_mnist.design import DesignError, Vlnv
from pynq_mnist.digest import file_digest
from pynq_mnist.errors import Refused
from pynq_mnist.outputs import LOCK_NAME, OutputError

SCHEMA = "pynq-mnist-bundle"
SCHEMA_VERSION = 1
METADATA_FILE = "bundle.json"
#: Most cycles a frame may take (1 s at 100 MHz): the board's call deadlines grow with them,
#: so a larger figure (a typo, or 10**40) would make a dropped TLAST a hang.
MAX_CYCLES = 10**8
DIGEST_KEY = "metadata_sha256"
#: The AXI-Stream TDATA widths a bundle may use.
STREAM_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
#: The AXI DMA's LENGTH register width, in bits (PG021: 8 to 26).
LENGTH_WIDTHS = range(8, 27)
IP_BACKENDS = ("hls", "rtl")  # hls4ml + HLS, or da4ml Verilog (convert --backend rtl)
WORD_BITS = 64  # output words are read as little-endian uint64
#: Bits of a uint8 pixel byte.
PIXEL_BITS = 8
#: Bits a pixel may take on the wire (``InputFormat.wire_bits``): each divides a byte.
WIRE_BITS = (8, 4, 2, 1)


def wire_bits_for(input_bits: int) -> int:
    """The narrowest wire (:data:`WIRE_BITS`) that carries a pixel's top ``input_bits``."""
    return min(b for b in WIRE_BITS if b >= input_bits)


#: The C API version of the emulation library (``hls/emulator/pynq_mnist_emu.cpp``)
#: that this pynq-mnist drives; a library of another version is rebuilt, never loaded.
EMULATOR_ABI_VERSION = 2


class BundleError(Refused, ValueError):
    """A bundle, its metadata or data given to it is not what it must be."""


# --------------------------------------------------------------------------- checked values

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIXED = re.compile(r"ap_u?fixed<\d+,-?\d+(,[A-Z_]+)*>")


def _get(d: Any, key: str, source: str, section: str = "") -> Any:
    where = f"{section}.{key}" if section else key
    if not isinstance(d, dict):
        raise BundleError(f"{source}: {section or 'the metadata'} must be a JSON object")
    if key not in d:
        raise BundleError(f"{source}: missing key {key!r} ({where})")
    return d[key]


def _int(value: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BundleError(f"{where} must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        allowed = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        raise BundleError(f"{where} is {value}; allowed: {allowed}")
    return value


def _float(value: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BundleError(f"{where} must be a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BundleError(f"{where} is {value}; allowed: {lo}..{hi}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BundleError(f"{where} must be true or false, got {value!r}")
    return value


def _str(value: Any, where: str, pattern: re.Pattern | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value:
        raise BundleError(f"{where} must be a non-empty string, got {value!r}")
    if pattern is not None and not pattern.fullmatch(value):
        raise BundleError(f"{where} is {value!r}; allowed: {what}")
    return value


def safe_name(value: Any, where: str) -> str:
    """``value`` if it can name a file or folder: no separators, no ``..``, no leading dot."""
    return _str(value, where, _SAFE_NAME, "letters, digits, '_', '.', '-' (no '/', no leading '.')")


def _relative_path(value: Any, where: str) -> str:
    """A path inside the bundle: relative, '/'-separated safe names, no '..'."""
    text = _str(value, where)
    for part in text.split("/"):
        if not _SAFE_NAME.fullmatch(part):
            raise BundleError(
                f"{where} is {text!r}; allowed: a path inside the bundle "
                "(relative, no '..', no leading '.', parts of letters, digits, '_', '.', '-')"
            )
    return text


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise BundleError(f"{where} must be a JSON object, got {value!r}")
    return value


def _refuse_unknown(d: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(d) - known)
    if unknown:
        raise BundleError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {sorted(known)}")


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

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Field:
        _dict(d, where)
        _refuse_unknown(d, {f.name for f in fields(cls)}, where)
        name = _str(_get(d, "name", where), f"{where}.name", _IDENTIFIER, "an identifier")
        w = f"{where} ({name})"
        return cls(
            name=name,
            lsb=_int(_get(d, "lsb", where), f"{w}.lsb", 0),
            width=_int(_get(d, "width", where), f"{w}.width", 1, WORD_BITS),
            count=_int(d.get("count", 1), f"{w}.count", 1),
            signed=_bool(d.get("signed", False), f"{w}.signed"),
            frac_bits=_int(d.get("frac_bits", 0), f"{w}.frac_bits", -WORD_BITS, WORD_BITS),
        )

    @property
    def msb(self) -> int:
        return self.lsb + self.count * self.width - 1

    def extract(self, words: np.ndarray) -> np.ndarray:
        """Raw integers of this field, shape ``(N, count)``, from ``(N, beats)`` uint64 words."""
        out = np.empty((words.shape[0], self.count), dtype=np.int64)
        mask = np.uint64((1 << self.width) - 1)
        for k in range(self.count):
            bit = self.lsb + k * self.width
            raw = (words[:, bit // WORD_BITS] >> np.uint64(bit % WORD_BITS)) & mask
            out[:, k] = raw.astype(np.int64)
        if self.signed:
            out[out >= 1 << (self.width - 1)] -= 1 << self.width
        return out

    def value(self, raw: np.ndarray) -> np.ndarray:
        """Real values of raw integers: integers stay integers when ``frac_bits`` is 0."""
        return raw if self.frac_bits == 0 else raw * 2.0**-self.frac_bits

    def decode(self, words: np.ndarray) -> np.ndarray:
        """Values of this field: ``(N,)`` for one element, else ``(N, count)``."""
        values = self.value(self.extract(words))
        return values[:, 0] if self.count == 1 else values

    @property
    def raw_range(self) -> tuple[int, int]:
        """The smallest and largest raw integer the field holds."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """Raw integers ``(N, count)`` (in :attr:`raw_range`) as their bits in uint64 words
        ``(N, words)`` of a frame of ``words`` 64-bit words (OR them into a frame's words)."""
        raw = np.asarray(raw, dtype=np.int64).reshape(len(raw), self.count)
        lo, hi = self.raw_range
        if raw.size and (raw.min() < lo or raw.max() > hi):
            raise BundleError(f"field {self.name!r}: raw values outside {lo}..{hi}")
        n_words = self.msb // WORD_BITS + 1
        out = np.zeros((len(raw), n_words), dtype=np.uint64)
        mask = np.int64((1 << self.width) - 1)
        for k in range(self.count):
            bit = self.lsb + k * self.width
            out[:, bit // WORD_BITS] |= (raw[:, k] & mask).astype(np.uint64) << np.uint64(
                bit % WORD_BITS
            )
        return out


@dataclass(frozen=True)
class PixelFormat:
    """How a pixel travels: a uint8 byte ``p`` means the value ``p * scale``."""

    dtype: str
    scale: float
    hls_type: str

    @classmethod
    def from_dict(cls, d: Any, where: str) -> PixelFormat:
        _dict(d, where)
        _refuse_unknown(d, {"dtype", "scale", "hls_type"}, where)
        dtype = _get(d, "dtype", where)
        if dtype != "uint8":
            raise BundleError(f"{where}.dtype: input pixel dtype must be uint8, got {dtype!r}")
        scale = _float(_get(d, "scale", where), f"{where}.scale", 2.0**-WORD_BITS, 1.0)
        if math.frexp(scale)[0] != 0.5:
            raise BundleError(f"{where}.scale is {scale}; allowed: a power of two 2**-k")
        hls_type = _str(_get(d, "hls_type", where), f"{where}.hls_type", _FIXED, "ap_ufixed<W,I>")
        return cls(dtype, scale, hls_type)

    @property
    def frac_bits(self) -> int:
        """Fraction bits of a raw pixel byte: ``scale == 2**-frac_bits``."""
        return -(math.frexp(self.scale)[1] - 1)

    def to_network_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels as the float32 values the network computes on."""
        return pixels.astype(np.float32) * np.float32(self.scale)

    def from_network_input(self, values: np.ndarray) -> np.ndarray:
        """The uint8 pixels of float values made by :meth:`to_network_input`."""
        return np.rint(np.asarray(values) / self.scale).astype(np.uint8)


@dataclass(frozen=True)
class InputFormat:
    """Frames of uint8 pixels, each sent as its top ``wire_bits`` bits, packed into beats.

    A beat carries ``stream_width_bits // wire_bits`` pixels; pixel ``i`` of a
    beat occupies bits ``wire_bits*i .. wire_bits*i + wire_bits - 1`` (little
    endian) and holds ``p >> (8 - wire_bits)``: the pixel's value ``p * scale``
    truncated toward zero to ``wire_bits`` fraction bits of the byte, what a
    student that reads only its top ``input_bits`` computes anyway (the RTL
    MLP's ``TruncatePixels``). Frames are row-major and every frame starts on a
    beat boundary: the last beat of a frame is padded with zero bits, so the
    wrappers' short-frame rule (missing beats read as 0) and TLAST are the same
    at every width. At 8 bits (the default) the stream is the pixel bytes.
    """

    stream_width_bits: int
    frame_shape: tuple[int, ...]
    pixel: PixelFormat
    wire_bits: int = PIXEL_BITS

    def __post_init__(self) -> None:
        if isinstance(self.pixel, dict):
            object.__setattr__(self, "pixel", PixelFormat.from_dict(self.pixel, "input.pixel"))
        if self.wire_bits not in WIRE_BITS:
            raise BundleError(
                f"input.wire_bits is {self.wire_bits!r}; allowed: {', '.join(map(str, WIRE_BITS))}"
            )

    @property
    def pixel_frac_bits(self) -> int:
        return self.pixel.frac_bits

    @property
    def pixels_per_frame(self) -> int:
        return int(np.prod(self.frame_shape))

    @property
    def pixels_per_beat(self) -> int:
        return self.stream_width_bits // self.wire_bits

    @property
    def beats_per_frame(self) -> int:
        return -(-self.pixels_per_frame // self.pixels_per_beat)

    @property
    def bytes_per_frame(self) -> int:
        return self.beats_per_frame * self.stream_width_bits // 8

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
        frames = self.check_frames(frames)
        b = self.wire_bits
        if b == PIXEL_BITS:
            return frames.reshape(-1)
        slots = self.beats_per_frame * self.pixels_per_beat
        wire = np.zeros((frames.shape[0], slots), dtype=np.uint8)
        wire[:, : frames.shape[1]] = frames >> (PIXEL_BITS - b)
        per_byte = PIXEL_BITS // b  # pixel j of a byte at its bits b*j ..
        pixels = wire.reshape(frames.shape[0], -1, per_byte)
        out = pixels[:, :, 0].copy()
        for j in range(1, per_byte):
            out |= pixels[:, :, j] << np.uint8(b * j)
        return out.reshape(-1)

    def unpack(self, stream: np.ndarray) -> np.ndarray:
        """Frames ``(N, pixels)`` uint8 of stream bytes (or beats) made by :meth:`pack`.

        Each pixel comes back as the IP reads it: its ``wire_bits`` top bits, the rest 0.
        """
        data = np.ascontiguousarray(stream).view(np.uint8).reshape(-1)
        if data.size % self.bytes_per_frame:
            raise BundleError(
                f"{data.size} input bytes are not a whole number of "
                f"{self.bytes_per_frame}-byte frames"
            )
        b = self.wire_bits
        if b == PIXEL_BITS:
            return data.reshape(-1, self.pixels_per_frame)
        per_byte = PIXEL_BITS // b
        data = data.reshape(-1, self.bytes_per_frame)
        wire = np.empty((data.shape[0], data.shape[1], per_byte), dtype=np.uint8)
        mask = np.uint8((1 << b) - 1)
        for j in range(per_byte):
            wire[:, :, j] = (data >> np.uint8(b * j)) & mask
        wire = wire.reshape(data.shape[0], -1)[:, : self.pixels_per_frame]
        return np.ascontiguousarray(wire << np.uint8(PIXEL_BITS - b))

    def on_wire(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` as the IP receives them (:meth:`unpack` of :meth:`pack`), ``(N, pixels)``."""
        return self.unpack(self.pack(frames))


@dataclass(frozen=True)
class OutputFormat:
    """Per frame, ``beats_per_frame`` beats whose bits hold the named fields."""

    stream_width_bits: int
    beats_per_frame: int
    fields: tuple[Field, ...]

    @property
    def bytes_per_frame(self) -> int:
        return self.beats_per_frame * self.stream_width_bits // 8

    @property
    def words_per_frame(self) -> int:
        return self.bytes_per_frame * 8 // WORD_BITS

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise BundleError(f"the output format has no field {name!r}")

    def words(self, data: np.ndarray) -> np.ndarray:
        """Received bytes (or uint64 words) as ``(N, words)`` little-endian uint64 words."""
        data = np.ascontiguousarray(data)
        if data.dtype != np.uint64:
            if data.nbytes % self.bytes_per_frame:
                raise BundleError(
                    f"{data.nbytes} output bytes are not a whole number of "
                    f"{self.bytes_per_frame}-byte frames"
                )
            data = data.view("<u8")
        return data.reshape(-1, self.words_per_frame)

    def unpack(self, data: np.ndarray) -> dict[str, np.ndarray]:
        """Every field of every frame: ``{name: (N,) or (N, count) array}``."""
        words = self.words(data)
        return {f.name: f.decode(words) for f in self.fields}

    def pack(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """Output words ``(N, words)`` uint64 holding each field's raw integers ``raw[name]``."""
        n = len(next(iter(raw.values())))
        out = np.zeros((n, self.words_per_frame), dtype=np.uint64)
        for f in self.fields:
            bits = f.encode(raw[f.name])
            out[:, : bits.shape[1]] |= bits
        return out


# --------------------------------------------------------------------------- sections


def _only(backend: str) -> Any:
    """An optional field that only one backend (:data:`IP_BACKENDS`) writes."""
    return field(default=None, metadata={"backend": backend})


class _Section(Mapping):
    """A typed section of ``bundle.json``, also readable by key as the JSON it is written as.

    ``from_dict`` checks every value; a field that is ``None`` is absent from the JSON.
    """

    @classmethod
    def keys_allowed(cls) -> tuple[str, ...]:
        """The section's keys: its dataclass fields."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def keys_required(cls) -> tuple[str, ...]:
        """The keys without a default."""
        return tuple(f.name for f in fields(cls) if f.default is MISSING)

    @classmethod
    def keys_of_other_backends(cls, backend: str) -> tuple[str, ...]:
        """The keys that only another backend than ``backend`` writes."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("backend", backend) != backend)

    @classmethod
    def _open(cls, d: Any, source: str, section: str) -> str:
        """Check that ``d`` is an object with every required key and no unknown one;
        the prefix ``"SOURCE: section"`` of this section's messages."""
        w = f"{source}: {section}"
        _dict(d, w)
        _refuse_unknown(d, set(cls.keys_allowed()), w)
        for key in cls.keys_required():
            _get(d, key, source, section)
        return w

    def __getitem__(self, key: str) -> Any:
        if key in self.keys_allowed() and getattr(self, key) is not None:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k in self.keys_allowed() if getattr(self, k) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def to_dict(self) -> dict:
        return {k: self[k] for k in self}


@dataclass(frozen=True, eq=True)
class IpSection(_Section):
    """The network IP: its top function, VLNV, target part and clock, ports and hls4ml set-up."""

    top: str
    vlnv: str
    part: str
    clock_mhz: float
    target_ii_cycles: int
    target_ii_basis: str | None = None
    target_ii_stages: dict | None = _only("hls")
    ports: dict | None = None
    hls4ml: dict | None = _only("hls")
    #: What made the IP (:data:`IP_BACKENDS`); absent means ``"hls"``.
    backend: str | None = None
    #: The rtl backend's measured facts (Verilator, Yosys, da4ml), in clock cycles.
    latency_cycles: int | None = _only("rtl")
    timing: dict | None = _only("rtl")
    rtl: dict | None = _only("rtl")
    resources: dict | None = _only("rtl")
    tool_seconds: dict | None = _only("rtl")

    @classmethod
    def from_dict(cls, d: Any, source: str) -> IpSection:
        w = cls._open(d, source, "ip")
        backend = d.get("backend")
        if backend is not None and backend not in IP_BACKENDS:
            raise BundleError(f"{w}.backend must be one of {IP_BACKENDS}, got {backend!r}")
        latency = d.get("latency_cycles")
        if latency is not None:
            latency = _int(latency, f"{w}.latency_cycles", 1, MAX_CYCLES)
        timing = d.get("timing")
        if timing is not None:
            for key, cycles in _dict(timing, f"{w}.timing").items():
                if cycles is not None:
                    _int(cycles, f"{w}.timing.{key}", 0)
        tool_seconds = d.get("tool_seconds")
        if tool_seconds is not None:
            for key, seconds in _dict(tool_seconds, f"{w}.tool_seconds").items():
                _float(seconds, f"{w}.tool_seconds.{key}", 0.0)
        extra = {
            key: _dict(d[key], f"{w}.{key}")
            for key in ("rtl", "resources")
            if d.get(key) is not None
        }
        vlnv = _str(d["vlnv"], f"{w}.vlnv")
        try:
            Vlnv.parse(vlnv)
        except DesignError as e:
            raise BundleError(f"{w}.vlnv: {e}") from None
        ports = d.get("ports")
        if ports is not None:
            _dict(ports, f"{w}.ports")
            _refuse_unknown(ports, {"input", "output", "clock", "reset"}, f"{w}.ports")
            for role, name in ports.items():
                _str(name, f"{w}.ports.{role}", _IDENTIFIER, "an identifier")
        stages = d.get("target_ii_stages")
        if stages is not None:
            for stage, cycles in _dict(stages, f"{w}.target_ii_stages").items():
                _int(cycles, f"{w}.target_ii_stages.{stage}", 1, MAX_CYCLES)
        return cls(
            top=_str(d["top"], f"{w}.top", _IDENTIFIER, "an identifier"),
            vlnv=vlnv,
            part=safe_name(d["part"], f"{w}.part"),
            # above 0 and at most the PS7's FCLK limit (250 MHz; any higher is a typo)
            clock_mhz=_float(d["clock_mhz"], f"{w}.clock_mhz", 1e-3, 250.0),
            target_ii_cycles=_int(d["target_ii_cycles"], f"{w}.target_ii_cycles", 1, MAX_CYCLES),
            target_ii_stages=stages,
            target_ii_basis=d.get("target_ii_basis"),
            ports=ports,
            hls4ml=None if d.get("hls4ml") is None else _dict(d["hls4ml"], f"{w}.hls4ml"),
            backend=backend,
            latency_cycles=latency,
            timing=timing,
            tool_seconds=tool_seconds,
            **extra,
        )


@dataclass(frozen=True, eq=True)
class DmaSection(_Section):
    """The AXI DMA's LENGTH register width: the longest simple-mode transfer."""

    length_width_bits: int

    @classmethod
    def from_dict(cls, d: Any, source: str) -> DmaSection:
        w = cls._open(d, source, "dma")
        lw = _get(d, "length_width_bits", source, "dma")
        return cls(_int(lw, f"{w}.length_width_bits", LENGTH_WIDTHS[0], LENGTH_WIDTHS[-1]))


@dataclass(frozen=True, eq=True)
class ModelSection(_Section):
    """Where the network came from: architecture, training run, hashes, logit type."""

    arch: str
    run_dir: str
    #: The hls backend: the hls4ml configuration's hash, the logits' type in the IP.
    hls4ml_config_sha256: str | None = _only("hls")
    logit_type: str | None = _only("hls")
    #: The rtl backend: the student's nonzero weights, the logits' fraction bits in the RTL.
    nonzero_weights: int | None = _only("rtl")
    logit_frac_bits_on_chip: int | None = _only("rtl")
    student_sha256: str | None = None

    @classmethod
    def from_dict(cls, d: Any, source: str) -> ModelSection:
        w = cls._open(d, source, "model")
        counts = {
            key: _int(d[key], f"{w}.{key}", 0)
            for key in ("nonzero_weights", "logit_frac_bits_on_chip")
            if d.get(key) is not None
        }
        hashes = {}
        for key in ("student_sha256", "hls4ml_config_sha256"):
            if d.get(key) is not None:
                hashes[key] = _str(d[key], f"{w}.{key}", _HEX64, "64 hex digits")
        logit_type = d.get("logit_type")
        if logit_type is not None:
            _str(logit_type, f"{w}.logit_type", _FIXED, "an ap_fixed<W,I> type")
        return cls(
            arch=_str(_get(d, "arch", source, "model"), f"{w}.arch", _IDENTIFIER, "an identifier"),
            run_dir=_str(_get(d, "run_dir", source, "model"), f"{w}.run_dir"),
            logit_type=logit_type,
            **hashes,
            **counts,
        )


def _names(d: dict, key: str, where: str) -> tuple[str, ...] | None:
    """``d[key]`` as a tuple of strings, or ``None`` when it is absent."""
    if d.get(key) is None:
        return None
    if not isinstance(d[key], (list, tuple)):
        raise BundleError(f"{where}.{key} must be a list of names, got {d[key]!r}")
    return tuple(_str(v, f"{where}.{key}[{k}]") for k, v in enumerate(d[key]))


@dataclass(frozen=True, eq=True)
class AccuracySection(_Section):
    """What conversion measured on the test frames (fractions in 0..1)."""

    frames: int
    keras: float
    emulated: float
    agreement: float
    csim_bit_exact: bool | None = _only("hls")
    run_metrics_test_accuracy: float | None = None
    disagreements: dict | None = None
    #: hls4ml backends whose sources were compiled and found bit-exact (see convert).
    bit_exact_backends: tuple[str, ...] | None = _only("hls")
    #: Files in which the Vitis backend's sources differ from the Vivado backend's.
    vitis_differences: tuple[str, ...] | None = _only("hls")
    #: The rtl backend: the Verilator-simulated RTL equals the numpy reference bit for bit.
    reference_bit_exact: bool | None = _only("rtl")

    @classmethod
    def from_dict(cls, d: Any, source: str) -> AccuracySection:
        w = cls._open(d, source, "accuracy")
        frac = {
            k: _float(_get(d, k, source, "accuracy"), f"{w}.{k}", 0.0, 1.0)
            for k in ("keras", "emulated", "agreement")
        }
        run = d.get("run_metrics_test_accuracy")
        return cls(
            frames=_int(_get(d, "frames", source, "accuracy"), f"{w}.frames", 1),
            csim_bit_exact=None
            if d.get("csim_bit_exact") is None
            else _bool(d["csim_bit_exact"], f"{w}.csim_bit_exact"),
            run_metrics_test_accuracy=None
            if run is None
            else _float(run, f"{w}.run_metrics_test_accuracy", 0.0, 1.0),
            disagreements=None
            if d.get("disagreements") is None
            else _dict(d["disagreements"], f"{w}.disagreements"),
            bit_exact_backends=_names(d, "bit_exact_backends", w),
            vitis_differences=_names(d, "vitis_differences", w),
            reference_bit_exact=None
            if d.get("reference_bit_exact") is None
            else _bool(d["reference_bit_exact"], f"{w}.reference_bit_exact"),
            **frac,
        )


#: A file's path inside the bundle folder: relative and POSIX (checked on read).
BundlePath = str
#: The path of a file that not every bundle has.
OptionalBundlePath = BundlePath | None


@dataclass(frozen=True, eq=True)
class FilesSection(_Section):
    """The bundle's files, as paths inside the bundle folder."""

    golden: BundlePath
    emulator: BundlePath
    #: The IP's sources: the HLS project (hls backend) or the Verilog folder (rtl backend).
    hls: OptionalBundlePath = None
    rtl: OptionalBundlePath = None
    network: OptionalBundlePath = None
    #: What ``build-overlay`` adds.
    bitstream: OptionalBundlePath = None
    hwh: OptionalBundlePath = None
    reports: OptionalBundlePath = None

    @classmethod
    def from_dict(cls, d: Any, source: str) -> FilesSection:
        w = cls._open(d, source, "files")
        if d.get("hls") is None and d.get("rtl") is None:
            raise BundleError(f"{w}: missing key 'hls' (or 'rtl' for an RTL IP)")
        return cls(**{k: _relative_path(v, f"{w}.{k}") for k, v in d.items() if v is not None})


def _sha256_section(d: Any, source: str) -> dict[str, str]:
    w = f"{source}: sha256"
    _dict(d, w)
    for rel, digest in d.items():
        _relative_path(rel, f"{w} key")
        _str(digest, f"{w}.{rel}", _HEX64, "64 hex digits")
    return dict(d)


_SECTIONS = {
    "ip": IpSection,
    "dma": DmaSection,
    "model": ModelSection,
    "accuracy": AccuracySection,
    "files": FilesSection,
}


# --------------------------------------------------------------------------- metadata


def canonical_json(d: dict) -> bytes:
    """The canonical JSON of ``d``: sorted keys, no spaces, UTF-8 (what the digest covers)."""
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def metadata_digest(d: dict) -> str:
    """SHA-256 of the canonical JSON of ``d`` without its own digest key."""
    return hashlib.sha256(
        canonical_json({k: v for k, v in d.items() if k != DIGEST_KEY})
    ).hexdigest()


@dataclass(frozen=True)
class DatasetInfo:
    """The dataset a bundle was converted and verified on (``bundle.json`` ``dataset``).

    The identity :meth:`pynq_mnist.mnist.Dataset.identity` gives: ``bench``
    refuses test data whose name, classes or content hashes differ.
    """

    name: str
    classes: tuple[str, ...]
    source: str
    sha256: dict[str, str]

    @classmethod
    def from_dict(cls, d: Any, source: str) -> DatasetInfo:
        w = f"{source}: dataset"
        _dict(d, w)
        _refuse_unknown(d, {"name", "classes", "source", "sha256"}, w)
        classes = _get(d, "classes", source, "dataset")
        if not isinstance(classes, (list, tuple)) or not classes:
            raise BundleError(f"{w}.classes must be a non-empty list of names")
        sha = _dict(_get(d, "sha256", source, "dataset"), f"{w}.sha256")
        return cls(
            name=_str(_get(d, "name", source, "dataset"), f"{w}.name"),
            classes=tuple(_str(c, f"{w}.classes[{k}]") for k, c in enumerate(classes)),
            source=_str(_get(d, "source", source, "dataset"), f"{w}.source"),
            sha256={_str(k, f"{w}.sha256"): _str(v, f"{w}.sha256.{k}") for k, v in sha.items()},
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "classes": list(self.classes)}


@dataclass(frozen=True)
class BundleMetadata:
    """Everything the board needs to know about an overlay (``bundle.json``).

    Sections given as dicts are validated into their typed sections.
    """

    name: str
    classes: tuple[str, ...]
    input: InputFormat
    output: OutputFormat
    ip: IpSection
    dma: DmaSection
    model: ModelSection
    accuracy: AccuracySection
    files: FilesSection
    sha256: dict = field(default_factory=dict)
    build: dict | None = None
    schema_version: int = SCHEMA_VERSION
    dataset: DatasetInfo | None = None  # absent in bundles made before it was recorded

    def __post_init__(self) -> None:
        for key, kind in _SECTIONS.items():
            value = getattr(self, key)
            if not isinstance(value, kind):
                object.__setattr__(self, key, kind.from_dict(dict(value), "metadata"))

    @property
    def backend(self) -> str:
        """What made the IP: ``"hls"`` (hls4ml + Vitis/Vivado HLS) or ``"rtl"`` (da4ml Verilog)."""
        return self.ip.backend or "hls"

    @property
    def max_transfer_bytes(self) -> int:
        """The AXI DMA's simple-mode limit: the LENGTH register's width."""
        return (1 << self.dma.length_width_bits) - 1

    # ------------------------------------------------------------------ (de)serialise

    @classmethod
    def from_dict(cls, d: dict, source: str = "metadata") -> BundleMetadata:
        """Validate ``d`` and build the metadata; every problem names ``source`` and the key."""
        if not isinstance(d, dict):
            raise BundleError(f"{source}: the metadata must be a JSON object")
        if _get(d, "schema", source) != SCHEMA:
            raise BundleError(f"{source}: not a pynq-mnist bundle (schema {d['schema']!r})")
        version = _get(d, "schema_version", source)
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{source}: schema_version {version} but this pynq-mnist reads "
                f"{SCHEMA_VERSION}; convert the model again with this version"
            )
        known = {"schema", "schema_version", "name", "classes", "input", "output", "sha256"}
        _refuse_unknown(d, known | set(_SECTIONS) | {"build", "dataset", DIGEST_KEY}, source)
        sections = {
            key: kind.from_dict(_get(d, key, source), source) for key, kind in _SECTIONS.items()
        }
        i, o = _get(d, "input", source), _get(d, "output", source)
        _dict(i, f"{source}: input")
        _dict(o, f"{source}: output")
        _refuse_unknown(
            i,
            {
                "stream_width_bits",
                "frame_shape",
                "pixel",
                "wire_bits",
                "beats_per_frame",
                "bytes_per_frame",
            },
            f"{source}: input",
        )
        _refuse_unknown(
            o,
            {"stream_width_bits", "beats_per_frame", "bytes_per_frame", "fields"},
            f"{source}: output",
        )
        widths = {}
        for where, stored in (("input", i), ("output", o)):
            wb = _int(
                _get(stored, "stream_width_bits", source, where),
                f"{source}: {where}.stream_width_bits",
            )
            if wb not in STREAM_WIDTHS:
                raise BundleError(
                    f"{source}: {where} stream_width_bits {wb} is not an AXI-Stream width "
                    f"(allowed: {STREAM_WIDTHS})"
                )
            widths[where] = wb
        shape = _get(i, "frame_shape", source, "input")
        if not isinstance(shape, list) or not shape:
            raise BundleError(f"{source}: input.frame_shape must be a list of sizes, got {shape!r}")
        shape = tuple(_int(n, f"{source}: input.frame_shape[{k}]", 1) for k, n in enumerate(shape))
        wire_bits = i.get("wire_bits", PIXEL_BITS)  # absent in bundles made before it
        if wire_bits not in WIRE_BITS or isinstance(wire_bits, bool):
            raise BundleError(
                f"{source}: input.wire_bits is {wire_bits!r}; allowed: "
                f"{', '.join(map(str, WIRE_BITS))}"
            )
        inp = InputFormat(
            widths["input"],
            shape,
            PixelFormat.from_dict(_get(i, "pixel", source, "input"), f"{source}: input.pixel"),
            wire_bits,
        )
        raw_fields = _get(o, "fields", source, "output")
        if not isinstance(raw_fields, list):
            raise BundleError(f"{source}: output.fields must be a list")
        out = OutputFormat(
            stream_width_bits=widths["output"],
            beats_per_frame=_int(
                _get(o, "beats_per_frame", source, "output"), f"{source}: output.beats_per_frame", 1
            ),
            fields=tuple(
                Field.from_dict(f, f"{source}: output.fields[{k}]")
                for k, f in enumerate(raw_fields)
            ),
        )
        classes = _get(d, "classes", source)
        if not isinstance(classes, list) or not classes:
            raise BundleError(f"{source}: classes must be a non-empty list of names")
        classes = tuple(_str(c, f"{source}: classes[{k}]") for k, c in enumerate(classes))
        if len(set(classes)) != len(classes):
            raise BundleError(f"{source}: classes must be distinct, got {list(classes)}")
        build = d.get("build")
        if build is not None:
            _dict(build, f"{source}: build")
        meta = cls(
            name=safe_name(_get(d, "name", source), f"{source}: name"),
            classes=classes,
            input=inp,
            output=out,
            sha256=_sha256_section(d.get("sha256", {}), source),
            build=build,
            dataset=DatasetInfo.from_dict(d["dataset"], source) if "dataset" in d else None,
            **sections,
        )
        meta._check_consistent(i, o, source)
        return meta

    def _check_consistent(self, i: dict, o: dict, source: str) -> None:
        needs = "rtl" if self.backend == "rtl" else "hls"
        if getattr(self.files, needs) is None:
            raise BundleError(
                f"{source}: files.{needs} is missing: an ip.backend {self.backend!r} bundle "
                f"carries its IP's sources there; convert the model again"
            )
        # A fact only one backend measures, in a bundle another backend made, is a hand
        # edit or a mix-up of two bundles: refused rather than shown as measured.
        for key in _SECTIONS:
            section = getattr(self, key)
            for name in section.keys_of_other_backends(self.backend):
                if getattr(section, name) is not None:
                    raise BundleError(
                        f"{source}: {key}.{name} is written only by another backend than "
                        f"this bundle's ({self.backend!r}); remove it, or convert the model again"
                    )

        def fail(msg: str) -> None:
            raise BundleError(f"{source}: {msg}")

        for fmt, stored, where in ((self.input, i, "input"), (self.output, o, "output")):
            for key in ("beats_per_frame", "bytes_per_frame"):
                if key in stored and stored[key] != getattr(fmt, key):
                    fail(f"{where} {key} is {stored[key]} but the format gives {getattr(fmt, key)}")
        for where, fmt in (("input", self.input), ("output", self.output)):
            if fmt.bytes_per_frame > self.max_transfer_bytes:
                fail(
                    f"{where}: a frame of {fmt.bytes_per_frame} bytes does not fit one DMA "
                    f"transfer (dma.length_width_bits {self.dma.length_width_bits} allows "
                    f"{self.max_transfer_bytes})"
                )
        if self.output.stream_width_bits % WORD_BITS:
            fail(f"output stream_width_bits must be a multiple of {WORD_BITS}")
        frame_bits = self.output.beats_per_frame * self.output.stream_width_bits
        used: set[int] = set()
        for f in self.output.fields:
            if f.msb >= frame_bits:
                fail(f"output field {f.name!r} does not fit in {frame_bits} bits")
            for k in range(f.count):
                lo = f.lsb + k * f.width
                if lo // WORD_BITS != (lo + f.width - 1) // WORD_BITS:
                    fail(f"output field {f.name!r}[{k}] crosses a 64-bit word")
                bits = set(range(lo, lo + f.width))
                if bits & used:
                    fail(f"output field {f.name!r} overlaps another field")
                used |= bits
        names = [f.name for f in self.output.fields]
        if len(set(names)) != len(names):
            fail(f"output fields must have distinct names, got {names}")
        if not {"class", "logits"} <= set(names):
            fail(f"output fields must include 'class' and 'logits', got {sorted(names)}")
        klass, logits = self.output.field("class"), self.output.field("logits")
        if klass.count != 1 or klass.signed or klass.frac_bits:
            fail("output field 'class' must be one unsigned integer (count 1, frac_bits 0)")
        if not logits.signed or logits.frac_bits >= logits.width:
            # at least one integer bit, as the wrapper's ap_fixed<LOGIT_BITS, LOGIT_INT_BITS>
            fail(
                f"output field 'logits' must be signed with frac_bits at most {logits.width - 1}, "
                f"got signed={logits.signed}, frac_bits={logits.frac_bits}"
            )
        if logits.count != len(self.classes):
            fail(f"{logits.count} logits but {len(self.classes)} classes")
        if len(self.classes) > 1 << klass.width:
            fail("the class field is too narrow for the class count")
        if self.dataset is not None and self.dataset.classes != self.classes:
            fail(
                f"dataset classes {list(self.dataset.classes)} are not classes {list(self.classes)}"
            )

    def to_dict(self) -> dict:
        d = {
            "schema": SCHEMA,
            "schema_version": self.schema_version,
            "name": self.name,
            "classes": list(self.classes),
            "input": {
                "stream_width_bits": self.input.stream_width_bits,
                "frame_shape": list(self.input.frame_shape),
                "pixel": asdict(self.input.pixel),
                "wire_bits": self.input.wire_bits,
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
        for key in _SECTIONS:
            d[key] = getattr(self, key).to_dict()
        d["sha256"] = self.sha256
        d["build"] = self.build
        if self.dataset is not None:
            d["dataset"] = self.dataset.to_dict()
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
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BundleError(f"{meta_file}: not valid JSON ({e})") from None
        if not isinstance(raw, dict):
            raise BundleError(f"{meta_file}: the metadata must be a JSON object")
        recorded = raw.get(DIGEST_KEY)
        if recorded != metadata_digest(raw):
            raise BundleError(
                f"{meta_file}: {DIGEST_KEY} "
                + ("is missing" if recorded is None else "does not match the file's content")
                + ": bundle.json was edited after it was written (or by an older pynq-mnist); "
                "convert or build the bundle again instead of editing it"
            )
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
        g = self.golden_vectors()
        return g.frames, g.words

    def golden_vectors(self) -> Golden:
        """The golden vectors, checked against the metadata's formats (:class:`Golden`)."""
        return Golden.read(self.file("golden"), self.metadata)


# --------------------------------------------------------------------------- golden vectors


@dataclass(frozen=True)
class Golden:
    """Frames, the exact output words the IP gives for them, and those words decoded.

    The decoded ``classes`` and ``logits`` are stored at conversion, so a bundle
    whose output format was changed afterwards fails the check even though its
    raw words still match.
    """

    frames: np.ndarray
    words: np.ndarray
    classes: np.ndarray
    logits: np.ndarray

    ARRAYS = ("frames", "words", "classes", "logits")  # the arrays of golden.npz

    @classmethod
    def of(
        cls, input: InputFormat, output: OutputFormat, frames: np.ndarray, words: np.ndarray
    ) -> Golden:
        """Golden vectors of ``frames`` and their ``words``, decoded with ``output``."""
        words = output.words(words)
        decoded = output.unpack(words)
        return cls(
            input.check_frames(frames),
            words,
            decoded["class"].astype(np.int64),
            decoded["logits"].astype(np.float64),
        )

    def write(self, path: str | os.PathLike) -> None:
        """Write ``golden.npz`` atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{k: getattr(self, k) for k in self.ARRAYS})

    @classmethod
    def read(cls, path: str | os.PathLike, meta: BundleMetadata) -> Golden:
        """Read and check ``golden.npz``: shapes and dtypes that fit ``meta``'s formats."""
        try:
            with np.load(path, allow_pickle=False) as g:
                missing = [k for k in cls.ARRAYS if k not in g.files]
                if missing:
                    raise BundleError(
                        f"{path}: no {missing[0]!r} array (golden vectors written by an older "
                        "pynq-mnist); convert the model again"
                    )
                arrays = {k: g[k] for k in cls.ARRAYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # truncated: BadZipFile
            raise BundleError(f"{path}: cannot read the golden vectors ({e})") from None
        n = len(arrays["frames"])
        expected = {
            "frames": (np.uint8, (n, meta.input.pixels_per_frame)),
            "words": (np.uint64, (n, meta.output.words_per_frame)),
            "classes": (np.int64, (n,)),
            "logits": (np.float64, (n, len(meta.classes))),
        }
        for key, (dtype, shape) in expected.items():
            a = arrays[key]
            if a.dtype != dtype or a.shape != shape or n == 0:
                raise BundleError(
                    f"{path}: {key} is {a.dtype} {a.shape}; the metadata needs {np.dtype(dtype)} "
                    f"{shape} with at least one frame"
                )
        return cls(**arrays)

    def mismatches(self, output: OutputFormat, words: np.ndarray) -> list[str]:
        """How ``words`` (a device's answers to :attr:`frames`) differ from the golden ones.

        Compares the raw words, then the classes and logits ``output`` decodes from them.
        """
        got = output.words(words)
        decoded = output.unpack(got)
        problems = []
        for what, a, b in (
            ("output words", got, self.words),
            ("classes", decoded["class"], self.classes),
            ("logits", decoded["logits"], self.logits),
        ):
            if a.shape != b.shape:
                problems.append(f"{what}: shape {a.shape}, the golden vectors have {b.shape}")
                continue
            bad = np.flatnonzero((a != b).reshape(len(a), -1).any(axis=1))
            if bad.size:
                i = int(bad[0])
                got_i, want_i = np.asarray(a[i]).tolist(), np.asarray(b[i]).tolist()
                if what == "output words":
                    got_i, want_i = [hex(w) for w in got_i], [hex(w) for w in want_i]
                problems.append(
                    f"{what} differ on {bad.size} of {len(a)} frames (frame {i}: got "
                    f"{got_i}, golden {want_i})"
                )
        return problems


def write_metadata(bundle_dir: str | os.PathLike, meta: BundleMetadata) -> None:
    """Write ``bundle.json`` atomically, validated and with its own digest."""
    d = meta.to_dict()
    BundleMetadata.from_dict(json.loads(json.dumps(d)), source="metadata being written")
    d[DIGEST_KEY] = metadata_digest(json.loads(json.dumps(d)))
    with atomic_path(Path(bundle_dir) / METADATA_FILE) as tmp:
        tmp.write_text(json.dumps(d, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def staged_dir(dest: str | os.PathLike, own: str | None = None) -> Iterator[Path]:
    """Build a folder beside ``dest`` and move it into place only on success.

    An exception (or a kill) leaves ``dest`` as it was: never half-written. An
    existing ``dest`` is replaced only if it is empty or holds ``own`` (the file
    that marks it as what is being built): the user's folders are never removed.
    ``own=None`` is for a part of an output the caller already owns (a bundle's
    reports folder).
    """
    dest = Path(os.path.abspath(dest))  # "." has no name to stage beside
    _check_replaceable(dest, own)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.staging-"))
    try:
        yield stage
        _check_replaceable(dest, own)  # again: the build can take hours
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


def _check_replaceable(dest: Path, own: str | None) -> None:
    if own is None or not dest.exists():
        return
    if not dest.is_dir():
        raise OutputError(f"{dest} is a file; it is not replaced by a folder")
    entries = set(os.listdir(dest)) - {LOCK_NAME}
    if entries and own not in entries:
        raise OutputError(
            f"{dest} holds {len(entries)} entries and no {own}; it is not replaced "
            "(choose a new or empty folder)"
        )
