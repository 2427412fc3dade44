"""Fixed-point numbers as ``ap_fixed`` holds them: types, and casts of raw integers.

A value of fixed-point type ``t`` travels as a raw integer: its value is
``raw * 2**-t.frac``. A cast follows ``ap_fixed`` semantics: first the
quantization mode (``TRN`` is floor, ``RND_CONV`` rounds half to even, ...),
then the overflow mode (``WRAP`` keeps the low bits, ``SAT`` clips).

The host (the hls4ml configuration, the network export) and the board (the
numpy CPU reference) share these types. Only numpy and the standard library
are imported: the board uses this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynq_mnist.errors import Refused

_ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
_SATURATION = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")


class FixedPointError(Refused, ValueError):
    """A fixed-point type is not one this module implements."""


@dataclass(frozen=True)
class FixedType:
    """An ``ap_fixed``/``ap_ufixed``/``ap_int`` type: ``width`` bits, ``integer`` of them above the point."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    saturation: str = "WRAP"

    def __post_init__(self) -> None:
        if self.width < 1 or self.width > 62:
            raise FixedPointError(f"type width {self.width} outside 1..62")
        if self.rounding not in _ROUNDING:
            raise FixedPointError(
                f"unknown rounding mode {self.rounding!r}; expected one of {_ROUNDING}"
            )
        if self.saturation not in _SATURATION:
            raise FixedPointError(
                f"unknown saturation mode {self.saturation!r}; expected one of {_SATURATION}"
            )

    @classmethod
    def from_dict(cls, d: dict) -> FixedType:
        """Read the dict the exporter writes (``saturation_bits`` must be 0)."""
        if d.get("saturation_bits", 0):
            raise FixedPointError(f"saturation_bits={d['saturation_bits']} is not supported: {d}")
        try:
            return cls(
                int(d["width"]),
                int(d["integer"]),
                bool(d["signed"]),
                d["rounding"],
                d["saturation"],
            )
        except KeyError as e:
            raise FixedPointError(f"type {d} lacks {e}") from None

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def raw_min(self) -> int:
        if not self.signed:
            return 0
        return -(2 ** (self.width - 1)) + (self.saturation == "SAT_SYM")

    @property
    def raw_max(self) -> int:
        return 2 ** (self.width - self.signed) - 1

    @property
    def raw_bound(self) -> int:
        """Largest magnitude a raw value of this type can take."""
        return max(abs(self.raw_min), abs(self.raw_max))

    def __str__(self) -> str:
        """The HLS type; the modes are spelt out unless they are the defaults (TRN, WRAP)."""
        kind = "fixed" if self.signed else "ufixed"
        if (self.rounding, self.saturation) == ("TRN", "WRAP"):
            return f"ap_{kind}<{self.width},{self.integer}>"
        return f"ap_{kind}<{self.width},{self.integer},AP_{self.rounding},AP_{self.saturation}>"


def requantize(raw: np.ndarray, frac: int, t: FixedType) -> np.ndarray:
    """Cast raw integers with ``frac`` fractional bits to type ``t`` as ``ap_fixed`` does.

    Parameters
    ----------
    raw : np.ndarray
        Integer array (any integer dtype); the value is ``raw * 2**-frac``.
    frac : int
        Fractional bits of ``raw``.
    t : FixedType
        The destination type.

    Returns
    -------
    np.ndarray
        int64 raw values of type ``t`` (value ``out * 2**-t.frac``).
    """
    x = np.asarray(raw, dtype=np.int64)
    shift = frac - t.frac
    if shift < 0:
        x = x << -shift
    elif shift > 0:
        x = _round_shift(x, shift, t.rounding)
    return _overflow(x, t)


def _round_shift(x: np.ndarray, d: int, mode: str) -> np.ndarray:
    """``x / 2**d`` rounded to an integer by ``mode`` (d >= 1)."""
    half = 1 << (d - 1)
    if mode == "TRN":
        return x >> d
    if mode == "RND":
        return (x + half) >> d
    if mode == "RND_MIN_INF":
        return (x + (half - 1)) >> d
    if mode == "RND_CONV":
        # A tie rounds up exactly when the truncated quotient is odd.
        y = (x >> d) & 1
        y += x
        y += half - 1
        y >>= d
        return y
    mag = np.abs(x)
    if mode == "TRN_ZERO":
        mag >>= d
    elif mode == "RND_ZERO":
        mag += half - 1
        mag >>= d
    else:  # RND_INF: half away from zero
        mag += half
        mag >>= d
    return np.where(x < 0, -mag, mag)


def _overflow(y: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = t.raw_min, t.raw_max
    if y.size == 0 or (y.min() >= lo and y.max() <= hi):
        return y  # the common case: nothing overflows, every mode keeps the value
    if t.saturation == "WRAP":
        y = y & (2**t.width - 1)
        if t.signed:
            y = np.where(y > hi, y - 2**t.width, y)
        return y
    if t.saturation == "SAT_ZERO":
        return np.where((y < lo) | (y > hi), 0, y)
    return np.clip(y, lo, hi)
