"""The emulated PYNQ-Z2: the IP compiled for the host behind a register-level AXI DMA model."""
