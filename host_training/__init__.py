"""pynq_mnist.host_training: teachers, compressed students, and the hls4ml conversion."""
