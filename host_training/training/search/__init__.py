"""The design search: a Pareto front of accuracy against hardware cost (``pynq-mnist tune``)."""
