"""The one error a refused configuration raises."""


class ConfigError(ValueError):
    """A configuration is refused before any training starts; the message names the key."""
