"""How a raw pixel becomes the network's input: decided once, here.

A uint8 pixel ``p`` enters the network as ``p / 256``. That value is exactly an
``ap_ufixed<8,0>`` whose bits are the pixel's bits, so the FPGA takes raw bytes
from the DMA with no arithmetic and no rounding, and the Keras model sees the
very same numbers during training.

Training reads these constants; the converter copies :func:`describe` into the
overlay bundle's metadata; the board reads the metadata, never this module.
"""

import numpy as np

PIXEL_BITS = 8
PIXEL_SCALE = 2.0**-PIXEL_BITS
PIXEL_HLS_TYPE = f"ap_ufixed<{PIXEL_BITS},0>"


def to_network_input(pixels: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to the float32 values the network is trained on."""
    if pixels.dtype != np.uint8:
        raise TypeError(f"pixels must be uint8, got {pixels.dtype}")
    return pixels.astype(np.float32) * np.float32(PIXEL_SCALE)


def describe() -> dict:
    """The encoding as recorded in run outputs and in the bundle metadata."""
    return {"dtype": "uint8", "scale": PIXEL_SCALE, "hls_type": PIXEL_HLS_TYPE}
