"""The numpy CPU reference against hls4ml's own C simulation, bit for bit.

One MLP (io_parallel) and one CNN (io_stream) are converted and compiled once per
session. Their weights are random but seeded and large enough that accumulators
wrap and activations saturate, so every cast path runs on real MNIST frames.
"""

from __future__ import annotations

import json
from fractions import Fraction
from math import floor

import numpy as np
import pytest

from pynq_mnist import encoding
from pynq_mnist.board.cpu_reference import CpuReference, NetworkFileError
from pynq_mnist.fixed_point import FixedType, requantize
from pynq_mnist.network_file import write_network

N_FRAMES = 1000
PIXEL_FRAC_BITS = encoding.PIXEL_BITS  # the bundle's input.pixel_frac_bits


def _qbits(bits: int, integer: int) -> str:
    return f"quantized_bits({bits},{integer},alpha=1)"


def _randomize(model, seed: int) -> None:
    """Seeded weights three times the usual scale and nonzero biases: casts overflow somewhere."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            w, b = layer.get_weights()
            fan_in = int(np.prod(w.shape[:-1]))
            layer.set_weights(
                [3 * rng.normal(0, fan_in**-0.5, w.shape), rng.uniform(-1, 1, b.shape)]
            )


def _mlp():
    from qkeras import QActivation, QDense
    from tensorflow.keras import Input, Model

    x = inp = Input((784,))
    x = QDense(32, kernel_quantizer=_qbits(6, 0), bias_quantizer=_qbits(6, 0), name="fc1")(x)
    x = QActivation("quantized_relu(6,2)", name="relu1")(x)
    x = QDense(10, kernel_quantizer=_qbits(6, 0), bias_quantizer=_qbits(6, 0), name="logits")(x)
    return Model(inp, x)


def _cnn():
    from qkeras import QActivation, QConv2D, QDense
    from tensorflow.keras import Input, Model, layers

    q = {"kernel_quantizer": _qbits(6, 0), "bias_quantizer": _qbits(6, 0)}
    x = inp = Input((28, 28, 1))
    x = QConv2D(4, 3, name="conv1", **q)(x)
    x = QActivation("quantized_relu(6,2)", name="relu1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = QConv2D(8, 3, padding="same", name="conv2", **q)(x)
    x = QActivation("quantized_relu(4,1)", name="relu2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flat")(x)
    x = QDense(10, name="logits", **q)(x)
    return Model(inp, x)


def _compile(model, io_type: str, edit, out_dir):
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(
        model, granularity="name", default_precision="fixed<16,6>"
    )
    config["LayerName"]["logits"]["Precision"]["result"] = "fixed<16,6>"
    edit(config["LayerName"])
    hls_model = hls4ml.converters.convert_from_keras_model(
        model,
        hls_config=config,
        io_type=io_type,
        output_dir=str(out_dir),
        backend="Vivado",
        part="xc7z020clg400-1",
    )
    hls_model.compile()
    return hls_model


def _mlp_config(layers: dict) -> None:
    """hls4ml defaults: fixed<16,6> input and accumulators, so products lose bits and sums wrap.

    fc1's weights are narrower than its quantizer, so they pass through hls4ml's
    decimal printing and the compiler's truncation; logits uses the Resource strategy.
    """
    layers["fc1"]["Precision"]["weight"] = "fixed<5,1>"
    layers["logits"].update(Strategy="Resource", ReuseFactor=2)  # hls4ml transposes its weights


def _cnn_config(layers: dict) -> None:
    """The converter's style: uint8 pixels, inferred accumulators, Resource strategy on conv2,
    and rounding, saturating logits (which makes hls4ml keep a separate linear layer)."""
    layers["input_1" if "input_1" in layers else next(iter(layers))]["Precision"]["result"] = (
        "ufixed<8,0>"
    )
    for cfg in layers.values():
        if "weight" in cfg["Precision"]:
            cfg["Precision"]["accum"] = "auto"
    layers["conv2"].update(Strategy="Resource", ReuseFactor=2)
    layers["logits"]["Precision"]["result"] = "fixed<10,4,RND,SAT>"


@pytest.fixture(scope="session")
def frames() -> np.ndarray:
    from pynq_mnist.mnist import load_mnist

    return load_mnist().test_images[:N_FRAMES]


@pytest.fixture(scope="session")
def mlp_hls(tmp_path_factory):
    import tensorflow as tf

    tf.random.set_seed(0)
    model = _mlp()
    _randomize(model, seed=1)
    return _compile(model, "io_parallel", _mlp_config, tmp_path_factory.mktemp("mlp_prj"))


@pytest.fixture(scope="session")
def cnn_hls(tmp_path_factory):
    import tensorflow as tf

    tf.random.set_seed(0)
    model = _cnn()
    _randomize(model, seed=2)
    return _compile(model, "io_stream", _cnn_config, tmp_path_factory.mktemp("cnn_prj"))


@pytest.fixture(scope="session")
def mlp_file(mlp_hls, tmp_path_factory):
    from pynq_mnist.host_training.conversion.network_export import export_network

    path = tmp_path_factory.mktemp("mlp") / "network.npz"
    export_network(mlp_hls, path)
    return path


def _assert_bit_exact(hls_model, path, frames: np.ndarray, shape: tuple[int, ...]) -> None:
    ref = CpuReference.from_file(path, PIXEL_FRAC_BITS)
    expected = np.asarray(hls_model.predict(frames.reshape(shape).astype(np.float64) / 256))
    expected = expected.reshape(len(frames), -1)
    raw = ref.logits_raw(frames)
    logits = ref.logits(frames)
    np.testing.assert_array_equal(logits, expected)
    np.testing.assert_array_equal(raw * 2.0**-ref.logits_frac_bits, expected)
    np.testing.assert_array_equal(ref.classify(frames), np.argmax(expected, axis=1))
    # Not a degenerate network: the comparison covers many distinct outputs.
    assert len(np.unique(ref.classify(frames))) >= 4
    assert len(np.unique(logits)) > 100


@pytest.mark.slow
def test_mlp_io_parallel_matches_hls4ml_csim(mlp_hls, mlp_file, frames):
    assert mlp_hls.graph["logits"].get_attr("_weights_transposed")  # the Resource layout is covered
    _assert_bit_exact(mlp_hls, mlp_file, frames, (len(frames), 784))


@pytest.mark.slow
def test_cnn_io_stream_matches_hls4ml_csim(cnn_hls, frames, tmp_path):
    from pynq_mnist.host_training.conversion.network_export import export_network

    export_network(cnn_hls, tmp_path / "cnn.npz")
    kinds = [layer["kind"] for layer in _graph(tmp_path / "cnn.npz")["layers"]]
    assert {"conv2d", "maxpool2d", "zeropad2d", "reshape", "linear"} <= set(kinds)
    _assert_bit_exact(cnn_hls, tmp_path / "cnn.npz", frames, (len(frames), 28, 28, 1))


@pytest.mark.slow
def test_frames_of_either_shape_give_the_same_classes(mlp_file, frames):
    ref = CpuReference.from_file(mlp_file, PIXEL_FRAC_BITS)
    np.testing.assert_array_equal(
        ref.classify(frames[:50]), ref.classify(frames[:50].reshape(50, 784))
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad, error, words",
    [
        (np.zeros((2, 28, 28), np.float32), TypeError, "uint8"),
        (np.zeros((2, 27, 28), np.uint8), ValueError, "shape"),
        (np.zeros((0, 784), np.uint8), ValueError, "empty"),
    ],
)
def test_bad_frames_get_clear_errors(mlp_file, bad, error, words):
    with pytest.raises(error, match=words):
        CpuReference.from_file(mlp_file, PIXEL_FRAC_BITS).classify(bad)


def _graph(path) -> dict:
    with np.load(path) as f:
        return json.loads(str(f["graph"]))


def _exact_cast(raw: int, frac: int, t: FixedType) -> int:
    """ap_fixed's cast written out with rationals, one mode at a time."""
    v = Fraction(raw, 2**frac) * 2**t.frac  # value in units of the destination LSB
    fl = floor(v)
    half = v - fl == Fraction(1, 2)
    q = {
        "TRN": fl,
        "TRN_ZERO": int(v),
        "RND": floor(v + Fraction(1, 2)),
        "RND_MIN_INF": fl if half else round(v),
        "RND_INF": (fl + 1 if v > 0 else fl) if half else round(v),
        "RND_ZERO": (fl if v > 0 else fl + 1) if half else round(v),
        "RND_CONV": round(v),  # Python rounds half to even
    }[t.rounding]
    span = 2 ** (t.width - t.signed)
    lo, hi = (-span, span - 1) if t.signed else (0, span - 1)
    if t.saturation == "SAT_SYM" and t.signed:
        lo += 1  # ap_fixed treats the most negative code as an underflow
    if lo <= q <= hi:
        return q
    if t.saturation == "WRAP":
        q %= 2**t.width
        return q - 2**t.width if t.signed and q > hi else q
    if t.saturation == "SAT_ZERO":
        return 0
    return min(max(q, lo), hi)


@pytest.mark.parametrize(
    "rounding", ["TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV"]
)
@pytest.mark.parametrize("saturation", ["WRAP", "SAT", "SAT_ZERO", "SAT_SYM"])
@pytest.mark.parametrize("width, integer, signed", [(6, 2, True), (6, 2, False), (5, -1, True)])
def test_requantize_follows_ap_fixed(rounding, saturation, width, integer, signed):
    t = FixedType(width, integer, signed, rounding, saturation)
    raw = np.arange(-(2**9), 2**9)
    for frac in (t.frac - 2, t.frac, t.frac + 3):
        expected = [_exact_cast(int(r), frac, t) for r in raw]
        np.testing.assert_array_equal(requantize(raw, frac, t), expected, err_msg=f"frac={frac}")


def _write_graph(path, layers: list[dict], **arrays) -> None:
    write_network(path, "io_parallel", [784], layers, arrays)


def _t(width: int, integer: int, signed: bool = True, saturation: str = "WRAP") -> dict:
    return {
        "width": width,
        "integer": integer,
        "signed": signed,
        "rounding": "TRN",
        "saturation": saturation,
        "saturation_bits": 0,
    }


def test_saturating_accumulator_that_can_overflow_is_refused(tmp_path):
    dense = {
        "kind": "dense",
        "name": "fc",
        "n_out": 2,
        "result_t": _t(16, 6),
        "weight_t": _t(4, 1),
        "bias_t": _t(4, 1),
        "accum_t": _t(12, 4, saturation="SAT"),
    }
    layers = [{"kind": "input", "name": "in", "result_t": _t(8, 0, signed=False)}, dense]
    _write_graph(
        tmp_path / "n.npz", layers, layer1_weight=np.full((784, 2), 7), layer1_bias=np.zeros(2)
    )
    with pytest.raises(NetworkFileError, match="summation order"):
        CpuReference.from_file(tmp_path / "n.npz", PIXEL_FRAC_BITS)


def test_files_that_are_not_networks_are_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(NetworkFileError, match="cannot read"):
        CpuReference.from_file(tmp_path / "junk.npz", PIXEL_FRAC_BITS)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(NetworkFileError, match="export_network"):
        CpuReference.from_file(tmp_path / "other.npz", PIXEL_FRAC_BITS)
    _write_graph(tmp_path / "odd.npz", [{"kind": "lstm", "name": "x", "result_t": _t(8, 1)}])
    with pytest.raises(NetworkFileError, match="first layer"):
        CpuReference.from_file(tmp_path / "odd.npz", PIXEL_FRAC_BITS)


@pytest.mark.slow
def test_export_refuses_layers_the_reference_cannot_run(tmp_path):
    import hls4ml
    from qkeras import QDense
    from tensorflow.keras import Input, Model, layers

    from pynq_mnist.host_training.conversion.network_export import export_network

    inp = Input((784,))
    model = Model(inp, layers.Softmax(name="soft")(QDense(10, kernel_quantizer=_qbits(6, 0))(inp)))
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(tmp_path / "prj"), backend="Vivado"
    )
    with pytest.raises(NetworkFileError, match="Softmax"):
        export_network(hls_model, tmp_path / "n.npz")
    assert not list(tmp_path.glob("n.npz*"))
