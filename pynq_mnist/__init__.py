"""pynq-mnist: an MNIST classifier from a workstation to a PYNQ-Z2, measured on the board.

Sub-packages (see ``setup.py`` for the folder each comes from):

- ``pynq_mnist.mnist`` / ``encoding`` / ``bundle``: shared by both sides, no TensorFlow.
- ``pynq_mnist.host_training``: teachers, students, compression, hls4ml conversion.
- ``pynq_mnist.vivado_bd``: the Vivado block design and the bitstream build.
- ``pynq_mnist.overlays``: built overlay bundles and the locator that finds them.
- ``pynq_mnist.board``: the pynq driver, the emulated board and the benchmark.
"""

__version__ = "0.1.0"

import warnings

# pynq 3.x imports pynqutils, which imports pkg_resources; setuptools >= 67 warns about it
# on every import (setup.py pins setuptools<81, where it still exists). Not the user's
# concern, and the only line a board command would print before its own.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
