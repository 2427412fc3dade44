"""The RTL backend: the MLP student as fully pipelined Verilog (da4ml) in an AXI-Stream wrapper."""
