"""Pruning reaches its target; quantized weights lie on their grid; cost is counted right."""

import numpy as np
import pytest
import tensorflow as tf

from pynq_mnist.host_training.training import compression
from pynq_mnist.host_training.training.config import resolve
from pynq_mnist.host_training.training.models import build_student
from pynq_mnist.host_training.training.train import train_student


def _student(arch, **over):
    """The arch's base student with ``over``: the smoke preset lays over the base, not
    over the searched presets, so these tests do not move when a new pick lands."""
    over = {"kd": {"enabled": False}, **over}
    config = resolve({"arch": arch, "student": over, "tuner": {"enabled": False}}, preset="smoke")
    return config["student"]


def _random_data(arch, n=256, seed=0):
    rng = np.random.default_rng(seed)
    shape = (784,) if arch == "mlp" else (28, 28, 1)
    x = (rng.integers(0, 256, (n, *shape)) / 256).astype(np.float32)
    return x, (np.arange(n) % 10).astype(np.int32)


@pytest.mark.slow
@pytest.mark.parametrize("target,logits_target", [(0.5, None), (0.8, None), (0.9, 0.3)])
def test_pruning_reaches_target_sparsity_in_a_short_run(target, logits_target):
    tf.keras.utils.set_random_seed(0)
    pruning = {"sparsity": target, "logits_sparsity": logits_target, "frequency": 100}
    student = _student("mlp", units=[32], batch_size=32, epochs=1, pruning=pruning)
    model, _ = train_student(
        student, "mlp", _random_data("mlp"), epochs=1, validation=None,
        checkpoint=None, stage="test", seed=0, verbose=0,
    )  # fmt: skip
    assert not any("prune" in lay.name for lay in model.layers)  # wrappers stripped
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            own = logits_target if layer.name == "logits" and logits_target else target
            kernel = layer.kernel.numpy()
            assert np.mean(kernel == 0) == pytest.approx(own, abs=0.01), layer.name


def test_schedule_ends_on_a_pruning_step_inside_the_run():
    pruning = {"sparsity": 0.5, "begin_fraction": 0.1, "end_fraction": 0.6, "frequency": 25}
    for steps, epochs in [(8, 1), (19, 1), (422, 12), (3, 2)]:
        cfg = compression.pruning_schedule(pruning, steps, epochs).get_config()["config"]
        begin, end, freq = cfg["begin_step"], cfg["end_step"], cfg["frequency"]
        assert 0 <= begin < end <= steps * epochs
        assert (end - begin) % freq == 0


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_quantized_weights_lie_on_their_grid(arch):
    tf.keras.utils.set_random_seed(1)
    student = _student(arch, weight_bits=[3, 4, 5], bias_bits=6, epochs=1, batch_size=64)
    model, _ = train_student(
        student, arch, _random_data(arch), epochs=1, validation=None,
        checkpoint=None, stage="test", seed=0, verbose=0,
    )  # fmt: skip
    bits = compression.cost(model)["layer_bits"]
    assert [b["weight"] for b in bits.values()] == [3, 4, 5]
    for layer in model.layers:
        if layer.name not in bits:
            continue
        kernel, bias = compression.quantized_weights(layer)
        for values, b in ((kernel, bits[layer.name]["weight"]), (bias, 6)):
            steps = values * 2 ** (b - 1)  # integer bits 0: step 2**-(bits-1)
            np.testing.assert_allclose(steps, np.round(steps), atol=1e-5)
            assert steps.min() >= -(2 ** (b - 1)) and steps.max() <= 2 ** (b - 1) - 1
        assert len(np.unique(kernel)) > 2  # trained weights are not all one value


def test_student_uses_only_layers_hls4ml_converts():
    model = build_student(_student("cnn", dense=[16], weight_bits=6), "cnn")
    kinds = [type(lay).__name__ for lay in model.layers]
    assert set(kinds) <= {"QConv2D", "QActivation", "MaxPooling2D", "Flatten", "QDense"}
    assert model.layers[-1].name == "logits" and kinds[-1] == "QDense"
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert model.input_shape == (None, 28, 28, 1)
    relu = [
        lay.get_config()["activation"] for lay in model.layers if kinds[0] and "relu" in lay.name
    ]
    assert relu == ["quantized_relu(6,2)"] * 3
    assert build_student(_student("mlp"), "mlp").input_shape == (None, 784)


def test_cost_counts_quantized_nonzeros_and_bops():
    student = _student("mlp", units=[2], weight_bits=[4, 3], activation_bits=5)
    model = build_student(student, "mlp")
    k1 = np.zeros((784, 2), np.float32)
    k1[:3, 0] = [0.5, -0.25, 0.01]  # 0.01 rounds to 0 at 4 bits (step 1/8)
    k2 = np.zeros((2, 10), np.float32)
    k2[0, :4] = 0.5
    model.layers[0].set_weights([k1, np.array([0.25, 0.0], np.float32)])
    model.layers[2].set_weights([k2, np.zeros(10, np.float32)])
    cost = compression.cost(model)
    assert cost["nonzero_weights"] == 2 + 1 + 4
    assert cost["total_weights"] == 784 * 2 + 2 + 2 * 10 + 10
    assert cost["bops"] == 2 * 4 * 8 + 4 * 3 * 5  # nonzero MACs x weight bits x input bits
    # every kernel and bias entry at its layer's width, the zeros too (8-bit biases)
    assert cost["stored_weight_bits"] == 784 * 2 * 4 + 2 * 8 + 2 * 10 * 3 + 10 * 8
    assert cost["sparsity"] == pytest.approx(1 - 6 / (784 * 2 + 20))
    assert cost["layer_bits"]["dense1"] == {"weight": 4, "bias": 8, "activation": 5}


def test_unpruned_count_bounds_the_quantized_count():
    student = _student("mlp", units=[2], weight_bits=[4, 3], activation_bits=5)
    model = build_student(student, "mlp")
    k1 = np.zeros((784, 2), np.float32)
    k1[:3, 0] = [0.5, -0.25, 0.01]  # 0.01 is kept by pruning but quantizes to 0
    model.layers[0].set_weights([k1, np.zeros(2, np.float32)])
    model.layers[2].set_weights([np.zeros((2, 10), np.float32), np.zeros(10, np.float32)])
    assert compression.cost(model)["nonzero_weights"] == 2
    assert compression.cost(model, count="unpruned")["nonzero_weights"] == 3 + 2 + 10


def test_limit_excess():
    assert (
        compression.limit_excess(
            {"nonzero_weights": 90, "bops": 5}, {"nonzero_weights": 100, "bops": None}
        )
        == 0
    )
    assert compression.limit_excess(
        {"nonzero_weights": 150, "bops": 20}, {"nonzero_weights": 100, "bops": 10}
    ) == pytest.approx(1.5)
