"""pynq_mnist.vivado_bd: the PYNQ-Z2 block design (Tcl) and the HLS + Vivado build."""
