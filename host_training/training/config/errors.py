"""The one error a refused configuration raises."""

from pynq_mnist.errors import Refused


class ConfigError(Refused, ValueError):
    """A configuration is refused before any training starts; the message names the key."""
