"""Notebooks delivered by ``pynq get-notebooks pynq-mnist``."""
