"""Run configuration: presets, files, and the checks made before any training.

Four rooms: :mod:`.presets` (the named configurations, data only), :mod:`.merge`
(files, laying a partial dict over a preset, dotted tuner keys), :mod:`.schema`
(the pydantic models every resolved configuration must pass) and :mod:`.bits`
(the student's weight layers and their per-layer bits).

A configuration is a plain nested dict. :func:`resolve` lays a user's partial
dict (from ``--config`` or from Python) over the named preset and refuses
anything wrong (unknown keys, unknown arch, bits <= 0, sparsity outside [0, 1),
...) with a :class:`ConfigError` that says which key and what is allowed.

``data``: ``val_fraction`` of the training set is held out for validation
(seeded); ``train_subset`` keeps the first N training images (and N/4
validation images) and ``test_subset`` the first N test images, for smoke runs.

Keys of ``student``:

- ``filters`` (cnn) / ``units`` (mlp): hidden layer widths; each conv is 3x3
  valid + ReLU + 2x2 max-pool, then ``dense`` hidden units, then ``logits``.
- ``weight_bits``, ``bias_bits``, ``activation_bits``, ``weight_integer``,
  ``activation_integer``: an int for every layer or a list, one per weight layer
  (activations: one per hidden layer).
- ``pruning``: tfmot polynomial schedule to ``sparsity`` between
  ``begin_fraction`` and ``end_fraction`` of the training steps, every
  ``frequency`` steps.
- ``kd``: distillation from the teacher's logits; ``alpha`` weighs the soft term
  (times ``temperature**2``), ``1 - alpha`` the hard-label term.
- ``augment``: light augmentation of the training images (shifts of up to 2
  pixels, rotations of up to 10 degrees), redrawn every batch.

``tuner.space`` maps a dotted ``student`` key to ``{"choice": [...]}`` or
``{"min": a, "max": b, "log": bool}`` (``null`` drops an entry); ``tuner.limits`` caps the trained
student's ``nonzero_weights`` and/or ``bops`` (``null`` = no cap).
"""

from pynq_mnist.host_training.training.config.bits import layer_bits, weight_layer_names
from pynq_mnist.host_training.training.config.errors import ConfigError
from pynq_mnist.host_training.training.config.merge import (
    apply_hyperparameters,
    for_command,
    load_file,
    resolve,
)
from pynq_mnist.host_training.training.config.presets import ARCHS, DEFAULT_PRESET, PRESETS
from pynq_mnist.host_training.training.config.schema import check, check_student

__all__ = [
    "ARCHS",
    "DEFAULT_PRESET",
    "PRESETS",
    "ConfigError",
    "apply_hyperparameters",
    "for_command",
    "check",
    "check_student",
    "layer_bits",
    "load_file",
    "resolve",
    "weight_layer_names",
]
