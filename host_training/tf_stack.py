"""The host's one TensorFlow set-up: TensorFlow 2.21 with Keras 2 (tf-keras).

QKeras 0.9 and tfmot build Keras 2 models, and TensorFlow ≥ 2.16 gives Keras 3
unless ``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is imported (its
``__path__`` is fixed at import, ``tensorflow/__init__.py``). hls4ml 1.3.0 picks
its parser from ``keras.__version__`` (``hls4ml/converters/__init__.py``) and
keras-tuner 1.4.8 builds on ``import keras``; beside TF 2.21 plain ``keras`` is
Keras 3, and a tf-keras model then fails in both. So ``keras`` is made to mean
``tf_keras`` for every importer, lazily: the finder below answers ``import keras``
(and ``keras.*``) with the tf_keras module, and nothing heavy is imported until
someone asks for Keras.

This module runs first whenever anything under ``pynq_mnist.host_training`` is
imported (the package's ``__init__`` imports it), so the rule has one home.
``tests/test_tf_stack.py`` converts a tf-keras QKeras model with hls4ml and fails
if either package stops honouring it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import platform
import sys

from pynq_mnist.errors import Refused

#: The distributions whose versions a result records (train, tune, bench).
STACK = (
    "tensorflow",
    "tf-keras",
    "qkeras",
    "tensorflow-model-optimization",
    "keras-tuner",
    "hls4ml",
    "da4ml",
    "numpy",
)


class StackError(Refused, ImportError):
    """TensorFlow or Keras 3 was imported before this module could choose Keras 2."""


class _KerasIsTfKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import keras`` / ``import keras.x`` give ``tf_keras`` / ``tf_keras.x``."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec] = {}

    def find_spec(self, name, path=None, target=None):
        if name == "keras" or name.startswith("keras."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = importlib.import_module("tf_keras" + spec.name[len("keras") :])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # The import system stamped the alias's spec on tf_keras' own module: undo it,
        # so tf_keras keeps its identity (reload, pickling, its submodules' imports).
        module.__spec__ = self._specs.pop(module.__spec__.name)


def _install() -> None:
    tf = sys.modules.get("tensorflow")
    if tf is not None and not getattr(tf, "_tf_uses_legacy_keras", False):
        raise StackError(
            "TensorFlow was imported before pynq_mnist.host_training without "
            "TF_USE_LEGACY_KERAS=1, so its Keras is Keras 3; import pynq_mnist.host_training "
            "first, or set TF_USE_LEGACY_KERAS=1 before importing TensorFlow"
        )
    keras = sys.modules.get("keras")
    if keras is not None and not keras.__name__.startswith("tf_keras"):
        raise StackError(
            f"Keras {getattr(keras, '__version__', '?')} was imported before "
            "pynq_mnist.host_training; the host stack needs Keras 2 (tf-keras): "
            "import pynq_mnist.host_training before keras, hls4ml or keras_tuner"
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if not any(isinstance(f, _KerasIsTfKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasIsTfKeras())


_install()


def versions() -> dict[str, str | None]:
    """Python and the host stack's package versions, as results record them."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in STACK:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def device() -> str:
    """What TensorFlow trains on here, in words (imports TensorFlow)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU (no GPU visible to TensorFlow; pip install '.[host,gpu]' for CUDA)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return "GPU: " + ", ".join(names)
