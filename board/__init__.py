"""pynq_mnist.board: runs on the PYNQ-Z2 (pynq, numpy, matplotlib; never TensorFlow).

Importing this package is cheap; pynq is imported when the overlay is first used::

    from pynq_mnist.board import load_overlay
    ol = load_overlay("mlp", target="auto")      # "board", "emulator" or "auto"
    classes = ol.classify(frames)                # uint8 (N, 28, 28) or (N, 784)

On pynq 4 (no PYNQ-Z2 support) the import fails with :class:`UnsupportedPynq`.
"""

from pynq_mnist.board.pynq_version import UnsupportedPynq as UnsupportedPynq
from pynq_mnist.board.pynq_version import check_pynq

check_pynq()

_LAZY = {
    "MnistOverlay": "overlay",
    "load_overlay": "overlay",
    "GoldenMismatch": "overlay",
    "OverlayLoadError": "overlay",
    "RecoveryFailed": "overlay",
    "OverlayBusy": "overlay",
    "DesignMismatch": "design_check",
    "DmaError": "dma_link",
    "DmaTimeout": "dma_link",
}

__all__ = sorted([*_LAZY, "UnsupportedPynq"])


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
