"""The networks, each built by one small function. All of them output logits.

Teachers are float Keras models (batch norm and dropout allowed). Students use
only what hls4ml 1.3.0 converts cleanly: ``QConv2D``, ``QDense``,
``QActivation('quantized_relu(bits,int)')``, ``MaxPooling2D`` and ``Flatten``;
weights and biases are ``quantized_bits(bits, integer, alpha=1)``; there is no
batch norm and no softmax. The last layer is a linear ``QDense`` named
``logits``. Inputs are ``encoding.to_network_input(pixels)``, the FPGA's
``ap_ufixed<8,0>``; a student with ``input_bits`` keeps only the top bits of each
pixel (:class:`TruncatePixels`), which costs no logic and halves the first layer's
adders at 4 bits (the rtl backend takes it; hls4ml's does not).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from pynq_mnist import encoding
from pynq_mnist.host_training.training.config import layer_bits
from pynq_mnist.mnist import IMAGE_SHAPE, NUM_CLASSES

keras = tf.keras
layers = tf.keras.layers


def input_shape(arch: str) -> tuple[int, ...]:
    """``(784,)`` for the MLP, ``(28, 28, 1)`` for the CNN."""
    return (IMAGE_SHAPE[0] * IMAGE_SHAPE[1],) if arch == "mlp" else (*IMAGE_SHAPE, 1)


def _stack(
    name: str,
    arch: str,
    widths: dict,
    conv_block: Callable[[int, int], list[layers.Layer]],
    dense_block: Callable[[int, int], list[layers.Layer]],
    head: list[layers.Layer],
    first: tuple[layers.Layer, ...] = (),
) -> keras.Sequential:
    """The shape both families share: ``first`` on the input, conv blocks (cnn:
    ``widths["filters"]``), then hidden dense blocks (``widths["dense"]``, or
    ``widths["units"]`` for the MLP), then ``head``; each block's layers come from
    its builder, numbered from 1."""
    model = keras.Sequential(name=name)
    model.add(keras.Input(input_shape(arch), name="pixels"))
    for layer in first:
        model.add(layer)
    if arch == "cnn":
        for i, filters in enumerate(widths["filters"], 1):
            for layer in conv_block(i, filters):
                model.add(layer)
        model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(widths["dense" if arch == "cnn" else "units"], 1):
        for layer in dense_block(i, units):
            model.add(layer)
    for layer in head:
        model.add(layer)
    return model


def build_teacher(config: dict) -> keras.Model:
    """The float teacher of ``config["arch"]`` (logits out)."""
    arch, t = config["arch"], config["teacher"]

    def conv(i: int, filters: int) -> list[layers.Layer]:
        return [
            layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}"),
            layers.BatchNormalization(momentum=0.9, name=f"bn{i}"),
            layers.ReLU(name=f"relu{i}"),
            layers.MaxPooling2D(2, name=f"pool{i}"),
        ]

    def dense(i: int, units: int) -> list[layers.Layer]:
        return [
            layers.Dropout(t["dropout"], name=f"dropout{i}"),
            layers.Dense(units, activation="relu", name=f"dense{i}"),
        ]

    head = [
        layers.Dropout(t["dropout"], name="dropout_out"),
        layers.Dense(NUM_CLASSES, name="logits"),
    ]
    return _stack(f"teacher_{arch}", arch, t, conv, dense, head)


def _weight_quantizers(bits: dict) -> dict:
    return {
        "kernel_quantizer": quantized_bits(bits["weight"], bits["weight_integer"], alpha=1),
        "bias_quantizer": quantized_bits(bits["bias"], bits["weight_integer"], alpha=1),
    }


def _relu(bits: dict, layer: str) -> QActivation:
    # The string form is what hls4ml's QKeras parser reads most reliably.
    quantizer = f"quantized_relu({bits['activation']},{bits['activation_integer']})"
    return QActivation(quantizer, name=f"{layer}_relu")


@keras.utils.register_keras_serializable(package="pynq_mnist")
class TruncatePixels(layers.Layer):
    """Each input in ``[0, 1)`` truncated to ``bits`` fraction bits: ``floor(x * 2**bits) / 2**bits``.

    On pixels ``p * 2**-8`` this keeps the top ``bits`` bits of every byte, as
    wiring only those bits into the network does; it has no weights and no gradient
    (it sits on the input).
    """

    def __init__(self, bits: int, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= bits <= encoding.PIXEL_BITS:
            raise ValueError(f"bits must be 1..{encoding.PIXEL_BITS}, got {bits!r}")
        self.bits = int(bits)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        scale = float(2**self.bits)
        return tf.floor(x * scale) / scale

    def get_config(self) -> dict:
        return {**super().get_config(), "bits": self.bits}


def build_student(student: dict, arch: str) -> keras.Model:
    """The quantized student described by ``student`` (a resolved ``config["student"]``)."""
    bits = layer_bits(student, arch)
    input_bits = student.get("input_bits")  # configurations made before it: absent

    def conv(i: int, filters: int) -> list[layers.Layer]:
        name = f"conv{i}"
        return [
            QConv2D(filters, 3, name=name, **_weight_quantizers(bits[name])),
            _relu(bits[name], name),
            layers.MaxPooling2D(2, name=f"pool{i}"),
        ]

    def dense(i: int, units: int) -> list[layers.Layer]:
        name = f"dense{i}"
        return [QDense(units, name=name, **_weight_quantizers(bits[name])), _relu(bits[name], name)]

    head = [QDense(NUM_CLASSES, name="logits", **_weight_quantizers(bits["logits"]))]
    truncate = input_bits not in (None, encoding.PIXEL_BITS)
    first = (TruncatePixels(input_bits, name="pixel_bits"),) if truncate else ()
    return _stack(f"student_{arch}", arch, student, conv, dense, head, first)


#: Light augmentation: shifts of up to this many pixels, rotations of up to this many degrees.
SHIFT_PIXELS, ROTATION_DEGREES = 2, 10


def augmentation(arch: str, seed: int) -> keras.Model:
    """Random small shifts and rotations of a batch of network inputs (training only)."""
    height, width = IMAGE_SHAPE
    steps = [layers.Reshape((height, width, 1))] if arch == "mlp" else []
    steps += [
        layers.RandomTranslation(
            SHIFT_PIXELS / height, SHIFT_PIXELS / width, fill_mode="constant", seed=seed
        ),
        layers.RandomRotation(ROTATION_DEGREES / 360, fill_mode="constant", seed=seed + 1),
    ]
    steps += [layers.Reshape(input_shape(arch))] if arch == "mlp" else []
    return keras.Sequential(steps, name="augmentation")
