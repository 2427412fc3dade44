"""Conversion: the hls4ml configuration, the output word layout, and a tiny run end to end."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from pynq_mnist.bundle import Bundle
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.hls4ml_config import (
    ConversionError,
    check_student,
    frame_interval,
    hls_config,
    logit_type,
    reuse_factor,
)


def _student(arch="mlp", alpha=1, activation=None):
    from qkeras import QActivation, QConv2D, QDense, quantized_bits
    from tensorflow import keras

    q = {
        "kernel_quantizer": quantized_bits(4, 0, alpha=alpha),
        "bias_quantizer": quantized_bits(8, 0, alpha=1),
    }
    model = keras.Sequential(name="s")
    if arch == "cnn":
        model.add(keras.Input((28, 28, 1), name="pixels"))
        model.add(QConv2D(4, 3, name="conv1", **q))
        model.add(QActivation("quantized_relu(6,2)", name="conv1_relu"))
        model.add(keras.layers.MaxPooling2D(2, name="pool1"))
        model.add(keras.layers.Flatten(name="flatten"))
    else:
        model.add(keras.Input((784,), name="pixels"))
        model.add(QDense(16, name="dense1", **q))
        model.add(QActivation("quantized_relu(6,2)", name="dense1_relu"))
    model.add(QDense(10, name="logits", activation=activation, **q))
    return model


# --------------------------------------------------------------------------- word layout


def test_words_pack_class_and_truncated_saturated_logits():
    logits = np.zeros((1, 10))
    logits[0, :4] = [1.74, -0.26, 40.0, -40.0]  # frac_bits 2: 6.96, -1.04, 160, -160 (x4)
    logits[0, 7] = 40.0  # ties with class 2: the first maximum wins
    word = int(wrapper.words_from_logits(logits, frac_bits=2)[0, 0])
    assert word & 0xF == 2
    raw = [(word >> (4 + 6 * k)) & 0x3F for k in range(10)]
    signed = [r - 64 if r >= 32 else r for r in raw]
    assert signed[:4] == [6, -2, 31, -32]  # floor (toward -inf), then saturate
    fmt = wrapper.output_format(10, 2)
    values = fmt.unpack(np.array([[word]], dtype=np.uint64))
    assert values["class"][0] == 2
    np.testing.assert_array_equal(values["logits"][0, :4], [1.5, -0.5, 7.75, -8.0])


def test_logit_frac_bits_is_the_finest_that_saturates_nothing():
    assert wrapper.logit_frac_bits(np.array([[3.9, -4.0]]), max_frac_bits=10) == 3
    assert wrapper.logit_frac_bits(np.array([[4.0, -1.0]]), max_frac_bits=10) == 2
    assert wrapper.logit_frac_bits(np.array([[100.0]]), max_frac_bits=10) == -2
    assert wrapper.logit_frac_bits(np.array([[0.01]]), max_frac_bits=3) == 3


def test_render_refuses_a_template_value_it_lacks(tmp_path):
    template = tmp_path / "t.in"
    template.write_text("set top @TOP@ ; set part @PART@")
    assert wrapper.render(template, {"top": "a", "part": "b"}) == "set top a ; set part b"
    with pytest.raises(KeyError, match="no value for part"):
        wrapper.render(template, {"top": "a"})


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "n_in, n_out, budget", [(784, 128, 256), (784, 64, 256), (144, 32, 256), (64, 10, 256)]
)
def test_reuse_factor_is_valid_and_within_the_multiplier_budget(n_in, n_out, budget):
    import hls4ml

    rf = reuse_factor(n_in, n_out, budget)
    assert rf in hls4ml.backends.get_backend("Vivado").get_valid_reuse_factors(n_in, n_out)
    assert n_in * n_out / rf <= budget


def test_logit_type_holds_the_largest_possible_logit_exactly():
    model = _student()
    t = logit_type(model)
    layer = model.layers[-1]
    kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
    bias = np.asarray(layer.bias_quantizer_internal(layer.bias))
    x_max = 4 - 2.0**-4  # quantized_relu(6,2): ap_ufixed<6,2>
    bound = np.max(np.abs(kernel).sum(axis=0) * x_max + np.abs(bias))
    assert bound < 2.0 ** (t.integer - 1)
    assert t.frac >= 4 + 3  # activation fraction bits + weight fraction bits


@pytest.mark.parametrize("arch, io_type", [("mlp", "io_parallel"), ("cnn", "io_stream")])
def test_hls_config_sets_input_last_layer_and_reuse(arch, io_type):
    model = _student(arch)
    config = hls_config(model, arch)
    layers = config["LayerName"]
    assert layers["pixels"]["Precision"]["result"] == "ap_ufixed<8,0>"
    assert layers["logits"]["Precision"]["result"] == str(logit_type(model))
    assert config["Model"]["Strategy"] == "Resource"
    assert all(
        layers[name]["Precision"]["accum"] == "auto"
        for name in ("conv1" if arch == "cnn" else "dense1",)
    )
    assert not any("softmax" in str(v).lower() for v in layers.values())


def test_unconvertible_students_are_refused_with_the_reason():
    with pytest.raises(ConversionError, match="alpha"):
        check_student(_student(alpha="auto_po2"))
    with pytest.raises(ConversionError, match="built-in activation"):
        check_student(_student(activation="softmax"))
    with pytest.raises(ConversionError, match="unknown arch"):
        hls_config(_student(), "rnn")


def test_frame_interval_sums_sequential_stages_and_takes_the_slowest_dataflow_one():
    stages = {"read_frame": 98, "dense1": 784, "dense2": 64, "write_result": 1}
    assert frame_interval(stages, "mlp") == 947  # io_parallel: one stage after the other
    assert frame_interval(stages, "cnn") == 784  # io_stream: DATAFLOW stages overlap


def test_vitis_sources_are_the_vivado_ones_with_the_files_the_vitis_backend_changes(tmp_path):
    vivado, vitis = tmp_path / "vivado", tmp_path / "vitis"
    files = {"net.cpp": "net", "nnet_utils/a.h": "a", "nnet_utils/b.h": "b", "weights/w.txt": "1"}
    for root in (vivado, vitis):
        for rel, text in files.items():
            (root / "firmware" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "firmware" / rel).write_text(text)
    (vitis / "firmware" / "nnet_utils" / "b.h").write_text("b for vitis")
    (vitis / "firmware" / "nnet_utils" / "c.h").write_text("only in vitis")
    assert wrapper.backend_differences(vivado, vitis) == ["nnet_utils/b.h", "nnet_utils/c.h"]

    hls = tmp_path / "hls"
    shutil.copytree(vivado / "firmware", hls / "firmware")
    for rel in ("nnet_utils/b.h", "nnet_utils/c.h"):
        (hls / "vitis" / "firmware" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(vitis / "firmware" / rel, hls / "vitis" / "firmware" / rel)
    made = wrapper.sources_for_backend(hls, "Vitis", tmp_path / "for_vitis")
    assert (made / "firmware/nnet_utils/b.h").read_text() == "b for vitis"
    assert (made / "firmware/nnet_utils/c.h").read_text() == "only in vitis"
    assert (made / "firmware/nnet_utils/a.h").read_text() == "a"
    plain = wrapper.sources_for_backend(hls, "Vivado", tmp_path / "for_vivado")
    assert (plain / "firmware/nnet_utils/b.h").read_text() == "b"
    with pytest.raises(ValueError, match="unknown hls4ml backend"):
        wrapper.sources_for_backend(hls, "Quartus", tmp_path / "q")
    (vitis / "firmware" / "net.cpp").unlink()
    with pytest.raises(ValueError, match="Vitis backend wrote no"):
        wrapper.backend_differences(vivado, vitis)


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_tiny_run_converts_to_a_verified_bundle(tiny_bundle):
    bundle = Bundle(tiny_bundle)
    bundle.verify_hashes()
    meta = bundle.metadata
    assert meta.name == "mnist_cnn" and meta.model["arch"] == "cnn"
    assert meta.input.bytes_per_frame == 784 and meta.input.beats_per_frame == 98
    assert meta.output.bytes_per_frame == 8 and meta.output.beats_per_frame == 1
    acc = meta.accuracy
    assert acc["frames"] == 1000
    # bit-exact, checked again here rather than read back from what convert wrote: the
    # golden frames through the compiled IP and through the numpy reference of the
    # exported network give the golden words, word for word
    from pynq_mnist.board.cpu_reference import CpuReference
    from pynq_mnist.board.emulator.iplib import IPLibrary

    frames, words = bundle.golden()
    with IPLibrary.for_bundle(bundle) as lib:
        np.testing.assert_array_equal(lib.transfer(frames.reshape(-1)), words)
    logits = CpuReference.from_file(bundle.file("network"), meta.input.pixel_frac_bits).logits(
        frames
    )
    frac = meta.output.field("logits").frac_bits
    np.testing.assert_array_equal(wrapper.words_from_logits(logits, frac), words)
    assert abs(acc["emulated"] - acc["keras"]) <= 0.01
    assert acc["agreement"] >= 0.99
    assert meta.ip["target_ii_cycles"] == max(meta.ip["target_ii_stages"].values())
    assert meta.ip["hls4ml"]["io_type"] == "io_stream"
    # the Vitis backend's sources, which convert also checked bit-exact, are hls4ml's own
    import hls4ml

    vitis_templates = Path(hls4ml.__file__).parent / "templates" / "vitis" / "nnet_utils"
    overlay = bundle.file("hls") / wrapper.VITIS_OVERLAY / "firmware"
    assert "nnet_utils/nnet_conv2d_stream.h" in acc["vitis_differences"]
    for rel in acc["vitis_differences"]:
        assert (overlay / rel).read_bytes() == (vitis_templates / Path(rel).name).read_bytes()
        assert (overlay / rel).read_bytes() != (bundle.file("hls") / "firmware" / rel).read_bytes()
    hls = bundle.file("hls")
    for name in (
        "build_hls.tcl",
        "pynq_mnist_top.cpp",
        "pynq_mnist_config.h",
        "firmware/mnist_net.cpp",
    ):
        assert (hls / name).is_file()
    assert "@" not in (hls / "build_hls.tcl").read_text().replace("@ stdout", "")
    classes = meta.output.unpack(words)["class"]
    assert np.all(classes < 10)


@pytest.mark.slow
def test_hashes_cover_the_sources_not_the_hls_build_outputs(tiny_bundle, tmp_path):
    import shutil

    from pynq_mnist.bundle import BundleError

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "hls" / "reports").mkdir()
    (copy / "hls" / "reports" / "csynth.xml").write_text("<report/>")
    Bundle(copy).verify_hashes()  # an HLS build's outputs are not sources
    top = copy / "hls" / "pynq_mnist_top.cpp"
    top.write_text(top.read_text() + "\n// edited\n")
    with pytest.raises(BundleError, match="pynq_mnist_top.cpp does not match"):
        Bundle(copy).verify_hashes()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--workers", "0", "must be 1 or more, got 0"),
        ("--frames", "-5", "must be 1 or more, got -5"),
        ("--mults-per-cycle", "many", "expected a whole number, got 'many'"),
        ("--name", "9 lives", "bundle name '9 lives' cannot name a bitstream"),
    ],
)
def test_convert_refuses_bad_numbers_before_loading_anything(capsys, flag, value, message):
    from pynq_mnist.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["convert", "no-such-run", "--out", "bundle", flag, value])
    assert exit_.value.code == 2
    assert f"argument {flag}: {message}" in capsys.readouterr().err
