"""pynq_mnist.board: runs on the PYNQ-Z2 (pynq, numpy, matplotlib; never TensorFlow)."""
