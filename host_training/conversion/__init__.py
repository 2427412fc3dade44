"""Conversion: a trained student -> hls4ml network + AXI-Stream wrapper -> overlay bundle."""
