"""The RTL CNN: a tiny integer CNN through da4ml and our streaming Verilog, in Verilator.

A 2-filter / 3-filter CNN with a dense head (random sparse integer weights, no
training) is generated once per module; every test drives the real Verilog
clock by clock and holds it to the numpy reference network
(``board/cpu_reference.py``) bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from pynq_mnist import encoding
from pynq_mnist.board.cpu_reference import CpuReference
from pynq_mnist.board.emulator.rtl_sim import RTLSimulation, build_simulation, stream_timing
from pynq_mnist.bundle import InputFormat
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.rtl import cnn_rtl
from pynq_mnist.host_training.conversion.rtl.cnn import QuantizedCNN, write_cnn_network_file
from pynq_mnist.host_training.conversion.rtl.network import Dense

#: da4ml, Verilator and (for the convert test) training: minutes each, so the main suite's.
pytestmark = pytest.mark.slow

N_CLASSES = 10
WIRE = InputFormat(64, (28, 28), encoding.describe())
BEATS = WIRE.beats_per_frame  # 98


def tiny_cnn() -> QuantizedCNN:
    rng = np.random.default_rng(11)

    def layer(name, n_in, n_out, relu, density):
        w = rng.integers(-7, 8, (n_in, n_out)) * (rng.random((n_in, n_out)) < density)
        return Dense(name, w, rng.integers(-7, 8, n_out), 3, 3, 4, 4, relu)

    convs = (layer("conv1", 9, 2, (4, 1), 0.8), layer("conv2", 18, 3, (4, 1), 0.6))
    return QuantizedCNN(convs, (layer("logits", 75, N_CLASSES, None, 0.3),))


@pytest.fixture(scope="module")
def cnn_ip(tmp_path_factory):
    """``(library, reference, frac_bits)`` of the tiny CNN's IP."""
    tmp = tmp_path_factory.mktemp("rtl_cnn")
    cnn = tiny_cnn()
    write_cnn_network_file(cnn, tmp / "net.npz")
    reference = CpuReference.from_file(tmp / "net.npz", WIRE.pixel_frac_bits, wire=WIRE)
    rtl = tmp / "rtl"
    units = cnn_rtl.write_units(cnn, rtl, WIRE.wire_bits)
    logits = reference.logits(frames_of(200))
    frac = wrapper.logit_frac_bits(logits, units.head.logit_frac)
    fmt = wrapper.output_format(N_CLASSES, frac)
    values = cnn_rtl.template_values(cnn, units, fmt, frac, WIRE)
    cnn_rtl.write_cnn_sources(values, rtl)
    return build_simulation(rtl, tmp / "sim.so"), reference, frac


def frames_of(n: int, seed: int = 0) -> np.ndarray:
    """Digit-like frames: a random stroke pattern over a dark background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, 28, 28)) * (rng.random((n, 28, 28)) < 0.3)
    return frames.astype(np.uint8)


def want(cnn_ip, frames):
    _, reference, frac = cnn_ip
    return wrapper.words_from_logits(reference.logits(frames), frac)[:, 0]


def beats_of(frames):
    return WIRE.pack(frames).view("<u8").astype(np.uint64)


def stream(sim, beats, last):
    sim.push(beats, last)
    sim.run()
    return sim.pop_timed()


def test_the_rtl_cnn_is_bit_exact_at_one_frame_per_frame_time(cnn_ip):
    frames = frames_of(40, seed=1)
    with RTLSimulation(cnn_ip[0]) as sim:
        sim.stamp_inputs(True)
        beats = beats_of(frames)
        data, flags, cycles = stream(sim, beats, np.arange(beats.size) == beats.size - 1)
        taken = sim.pop_input_cycles()
    np.testing.assert_array_equal(data, want(cnn_ip, frames))
    assert flags.tolist() == [False] * 39 + [True]
    assert np.all(np.diff(taken.astype(np.int64)) == 1)  # the input never waited
    timing = stream_timing(taken, cycles, BEATS)
    assert timing["cycles_per_frame"] == timing["cycles_per_frame_max"] == BEATS
    assert timing["latency_cycles"] == timing["latency_cycles_max"]  # nothing ever waits


def test_a_stalled_output_stalls_the_input_and_loses_nothing(cnn_ip):
    frames = frames_of(12, seed=2)
    with RTLSimulation(cnn_ip[0]) as sim:
        sim.set_output_ready_every(300)  # slower than a frame-time: the FIFO fills
        beats = beats_of(frames)
        data, flags, _ = stream(sim, beats, np.arange(beats.size) == beats.size - 1)
    np.testing.assert_array_equal(data, want(cnn_ip, frames))
    assert flags.tolist() == [False] * 11 + [True]


def test_a_short_transfer_is_padded_and_answered_with_tlast(cnn_ip):
    frames = frames_of(3, seed=3)
    padded = frames.reshape(3, -1).copy()
    padded[2, 8 * 40 :] = 0  # the last frame ends with TLAST on its beat 39
    beats = beats_of(frames)[: 2 * BEATS + 40]
    last = np.zeros(beats.size, dtype=bool)
    last[BEATS - 1] = last[-1] = True
    with RTLSimulation(cnn_ip[0]) as sim:
        data, flags, _ = stream(sim, beats, last)
    np.testing.assert_array_equal(data, want(cnn_ip, padded))
    assert flags.tolist() == [True, False, True]


def test_the_reset_empties_it_mid_frame(cnn_ip):
    """A frame and a half in, then ``ap_rst_n``: the whole frame's answer came out, the
    half frame (rows in the line buffers, counters mid-frame) leaves no trace."""
    frames = frames_of(4, seed=4)
    beats = beats_of(frames)
    with RTLSimulation(cnn_ip[0]) as sim:
        n = BEATS + BEATS // 2
        first, first_flags, _ = stream(sim, beats[:n], np.zeros(n, dtype=bool))
        sim.reset()
        data, flags, _ = stream(sim, beats[2 * BEATS :], np.arange(2 * BEATS) == 2 * BEATS - 1)
    np.testing.assert_array_equal(first, want(cnn_ip, frames[:1]))
    assert first_flags.tolist() == [False]
    np.testing.assert_array_equal(data, want(cnn_ip, frames[2:]))
    assert flags.tolist() == [False, True]


def test_a_qkeras_cnn_student_is_the_integer_cnn_keras_computes(tmp_path):
    """The window matrices, the ReLUs, the pooling and the flatten order read from a
    QKeras student give Keras's own logits in the numpy reference, exactly."""
    from pynq_mnist.host_training.conversion.rtl.cnn import cnn_from_student
    from pynq_mnist.host_training.training import run_dir as rd
    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.models import build_student

    config = resolve({"arch": "cnn", "student": {"filters": [3, 4]}}, preset="smoke")
    rd.save_model(build_student(config["student"], "cnn"), tmp_path / rd.STUDENT)
    model = rd.load_model(tmp_path / rd.STUDENT)  # as conversion reads it
    cnn = cnn_from_student(model)
    assert [c.weight.shape for c in cnn.convs] == [(9, 3), (27, 4)]
    assert cnn.block_shapes() == [(28, 28, 1), (13, 13, 3), (5, 5, 4)]
    write_cnn_network_file(cnn, tmp_path / "net.npz")
    frames = frames_of(50, seed=5)
    logits = CpuReference.from_file(tmp_path / "net.npz", 8, wire=WIRE).logits(frames)
    keras_logits = model(encoding.to_network_input(frames)[..., None]).numpy()
    np.testing.assert_allclose(keras_logits, logits, rtol=0, atol=1e-5)
    assert len(np.unique(logits.round(6), axis=0)) == 50


def test_convert_builds_a_verified_rtl_bundle_of_a_cnn_run_that_the_emulated_board_runs(
    tmp_path, monkeypatch
):
    """``pynq-mnist convert RUN --backend rtl`` on a (tiny, barely trained) CNN run:
    bit-exact through Verilator, one frame per 98 clocks measured, Yosys counts; the
    emulated board refuses the bundle rather than hang (left to do: run it there)."""
    from pynq_mnist.board import load_overlay
    from pynq_mnist.bundle import Bundle, BundleError
    from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl
    from pynq_mnist.host_training.training.train import train

    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    config = {
        "arch": "cnn",
        "preset": "smoke",
        "teacher": {"filters": [4, 4], "dense": [16]},
        "student": {"filters": [2, 3], "pruning": {"sparsity": 0.5}},
        "tuner": {"enabled": False},  # else it picks the filters
    }
    train(config, run)
    report = convert_rtl(run, tmp_path / "b", frames=300, progress=lambda message: None)
    assert report["arch"] == "cnn" and report["reference_bit_exact"]
    assert report["cycles_per_frame"] == BEATS and report["wire_bits"] == 8
    assert report["yosys"]["lut"] > 0 and report["da4ml_estimate"]["lut"] > 0
    bundle = Bundle(tmp_path / "b")
    # the emulated board refuses it in one line (its RTL simulation did not return when
    # driven through the DMA model): never a hang
    with pytest.raises(BundleError, match="does not run an RTL cnn IP yet"):
        load_overlay(bundle.path, "emulator")
