"""Shared by the board tests: a synthetic bundle and the stream IP that answers it.

The bundle's "network" is a fixed numpy function of the pixels, so every
expected answer is computed independently of the data path under test.
"""

from __future__ import annotations

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.board.emulator.stream_ip import FunctionIP
from pynq_mnist.bundle import (
    BundleMetadata,
    Field,
    Golden,
    InputFormat,
    OutputFormat,
    sha256_tree,
    write_metadata,
)

IN_BEATS, OUT_BEATS = 98, 1
LOGIT_BITS = 6


def synthetic_logits(pixels: np.ndarray) -> np.ndarray:
    """Raw signed 6-bit logits of ``(N, 784)`` uint8 pixels: band sums mod 64, minus 32."""
    bands = pixels.reshape(len(pixels), 784)[:, :780].reshape(-1, 10, 78).astype(np.int64)
    return bands.sum(axis=2) % 64 - 32


def synthetic_words(pixels: np.ndarray) -> np.ndarray:
    """The output word per frame, ``(N, 1)`` uint64: class in bits 0..3, logits above."""
    logits = synthetic_logits(pixels)
    word = np.argmax(logits, axis=1).astype(np.uint64)
    for k in range(10):
        raw = (logits[:, k] & ((1 << LOGIT_BITS) - 1)).astype(np.uint64)
        word |= raw << np.uint64(4 + LOGIT_BITS * k)
    return word.reshape(-1, 1)


def synthetic_ip() -> FunctionIP:
    """A stream IP computing :func:`synthetic_words` from 98 beats of packed pixels."""
    return FunctionIP(IN_BEATS, OUT_BEATS, lambda w: synthetic_words(w.view(np.uint8)))


def synthetic_metadata(
    name: str = "synthetic", length_width_bits: int = 26, **ip
) -> BundleMetadata:
    return BundleMetadata(
        name=name,
        classes=tuple(str(d) for d in range(10)),
        input=InputFormat(64, (28, 28), encoding.describe()),
        output=OutputFormat(
            64,
            OUT_BEATS,
            (Field("class", 0, 4), Field("logits", 4, LOGIT_BITS, 10, True, 2)),
        ),
        ip={
            "top": "synthetic_axi",
            "vlnv": "pynq-mnist:hls:synthetic_axi:1.0",
            "part": "xc7z020clg400-1",
            "clock_mhz": 100,
            "target_ii_cycles": 98,
            **ip,
        },
        dma={"length_width_bits": length_width_bits},
        model={"arch": "synthetic", "run_dir": "none"},
        accuracy={"frames": 16, "keras": 0.0, "emulated": 0.0, "agreement": 1.0},
        files={"golden": "golden.npz", "hls": "hls", "emulator": "emulator"},
    )


def write_synthetic_bundle(folder, meta: BundleMetadata | None = None, seed: int = 0, golden=None):
    """A bundle folder whose golden words are :func:`synthetic_words` (or ``golden``)."""
    meta = meta or synthetic_metadata()
    folder.mkdir(parents=True, exist_ok=True)
    frames = np.random.default_rng(seed).integers(0, 256, (16, 784), dtype=np.uint8)
    words = synthetic_words(frames) if golden is None else golden
    Golden.of(meta.input, meta.output, frames, words).write(folder / "golden.npz")
    (folder / "hls").mkdir(exist_ok=True)
    (folder / "emulator").mkdir(exist_ok=True)
    meta = BundleMetadata(
        **{**meta.__dict__, "sha256": {"golden.npz": sha256_tree(folder / "golden.npz")}}
    )
    write_metadata(folder, meta)
    return folder
