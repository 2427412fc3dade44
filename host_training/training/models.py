"""The networks, each built by one small function. All of them output logits.

Teachers are float Keras models (batch norm and dropout allowed). Students use
only what hls4ml 1.3.0 converts cleanly: ``QConv2D``, ``QDense``,
``QActivation('quantized_relu(bits,int)')``, ``MaxPooling2D`` and ``Flatten``;
weights and biases are ``quantized_bits(bits, integer, alpha=1)``; there is no
batch norm and no softmax. The last layer is a linear ``QDense`` named
``logits``. Inputs are ``encoding.to_network_input(pixels)`` as they are: no
input quantizer, because the encoded pixel already is the FPGA's ``ap_ufixed<8,0>``.
"""

from __future__ import annotations

import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from pynq_mnist.host_training.training.config import layer_bits
from pynq_mnist.mnist import IMAGE_SHAPE, NUM_CLASSES

keras = tf.keras
layers = tf.keras.layers


def input_shape(arch: str) -> tuple[int, ...]:
    """``(784,)`` for the MLP, ``(28, 28, 1)`` for the CNN."""
    return (IMAGE_SHAPE[0] * IMAGE_SHAPE[1],) if arch == "mlp" else (*IMAGE_SHAPE, 1)


def build_teacher(config: dict) -> keras.Model:
    """The float teacher of ``config["arch"]`` (logits out)."""
    arch, t = config["arch"], config["teacher"]
    model = keras.Sequential(name=f"teacher_{arch}")
    model.add(keras.Input(input_shape(arch), name="pixels"))
    if arch == "cnn":
        for i, filters in enumerate(t["filters"], 1):
            model.add(layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}"))
            model.add(layers.BatchNormalization(momentum=0.9, name=f"bn{i}"))
            model.add(layers.ReLU(name=f"relu{i}"))
            model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
        model.add(layers.Flatten(name="flatten"))
        widths = t["dense"]
    else:
        widths = t["units"]
    for i, units in enumerate(widths, 1):
        model.add(layers.Dropout(t["dropout"], name=f"dropout{i}"))
        model.add(layers.Dense(units, activation="relu", name=f"dense{i}"))
    model.add(layers.Dropout(t["dropout"], name="dropout_out"))
    model.add(layers.Dense(NUM_CLASSES, name="logits"))
    return model


def _weight_quantizers(bits: dict) -> dict:
    return {
        "kernel_quantizer": quantized_bits(bits["weight"], bits["weight_integer"], alpha=1),
        "bias_quantizer": quantized_bits(bits["bias"], bits["weight_integer"], alpha=1),
    }


def _relu(bits: dict, layer: str) -> QActivation:
    # The string form is what hls4ml's QKeras parser reads most reliably.
    quantizer = f"quantized_relu({bits['activation']},{bits['activation_integer']})"
    return QActivation(quantizer, name=f"{layer}_relu")


def build_student(student: dict, arch: str) -> keras.Model:
    """The quantized student described by ``student`` (a resolved ``config["student"]``)."""
    bits = layer_bits(student, arch)
    model = keras.Sequential(name=f"student_{arch}")
    model.add(keras.Input(input_shape(arch), name="pixels"))
    if arch == "cnn":
        for i, filters in enumerate(student["filters"], 1):
            name = f"conv{i}"
            model.add(QConv2D(filters, 3, name=name, **_weight_quantizers(bits[name])))
            model.add(_relu(bits[name], name))
            model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
        model.add(layers.Flatten(name="flatten"))
        widths = student["dense"]
    else:
        widths = student["units"]
    for i, units in enumerate(widths, 1):
        name = f"dense{i}"
        model.add(QDense(units, name=name, **_weight_quantizers(bits[name])))
        model.add(_relu(bits[name], name))
    model.add(QDense(NUM_CLASSES, name="logits", **_weight_quantizers(bits["logits"])))
    return model
