"""Pixels on the wire at 8, 4, 2 and 1 bits: one packing for the board, the reference and both IPs.

``InputFormat.pack`` (what the board sends) is checked bit by bit; then the HLS
wrapper (compiled with g++) and the Verilog wrapper (Verilator) each unpack the
same golden frames, a short final transfer included, into a stand-in network
whose ten outputs are checksums of every pixel it received, and their words are
held to the checksums of ``InputFormat.on_wire`` in numpy. Last, a tiny integer
MLP that reads 2 pixel bits goes through da4ml and Verilator on a 2-bit wire:
bit-exact with the numpy reference, at the wire's 25 beats per frame.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from pynq_mnist import encoding
from pynq_mnist.board.cpu_reference import CpuReference
from pynq_mnist.board.emulator.iplib import IPLibrary
from pynq_mnist.board.emulator.library_build import compile_library
from pynq_mnist.board.emulator.rtl_sim import (
    NET_DIR,
    RTLSimulation,
    build_simulation,
    stream_timing,
)
from pynq_mnist.bundle import WIRE_BITS, BundleError, BundleMetadata, InputFormat, wire_bits_for
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.rtl import sources
from pynq_mnist.host_training.conversion.rtl.network import (
    Dense,
    QuantizedMLP,
    write_network_file,
)
from pynq_mnist.host_training.conversion.rtl.trace import NetRTL

PIXELS = 784
N_CLASSES = 10
#: The stand-in network's outputs: 6-bit checksums (wrapping), logits with 0 fraction bits.
CHECK_BITS = 6


def fmt(wire_bits: int) -> InputFormat:
    return InputFormat(64, (28, 28), encoding.describe(), wire_bits)


def golden_frames(n: int = 4, seed: int = 0) -> np.ndarray:
    frames = np.random.default_rng(seed).integers(0, 256, (n, PIXELS), dtype=np.uint8)
    frames[0] = np.arange(PIXELS) % 256  # every byte value, in order
    return frames


# --------------------------------------------------------------------------- the packing


@pytest.mark.parametrize("bits, beats", [(8, 98), (4, 49), (2, 25), (1, 13)])
def test_a_frame_takes_the_beats_its_pixel_bits_need(bits, beats):
    f = fmt(bits)
    assert f.beats_per_frame == beats and f.bytes_per_frame == 8 * beats
    assert f.pixels_per_beat == 64 // bits
    assert f.pack(golden_frames(3)).size == 3 * 8 * beats


@pytest.mark.parametrize("bits", WIRE_BITS)
def test_pixel_i_of_a_beat_is_its_top_bits_at_bit_bits_times_i(bits):
    frames = golden_frames()
    f = fmt(bits)
    beats = f.pack(frames).view("<u8").reshape(len(frames), -1)
    top = frames.astype(np.uint64) >> np.uint64(8 - bits)
    per_beat = 64 // bits
    for n in range(len(frames)):
        for i in (0, 1, per_beat - 1, per_beat, PIXELS - 1):
            b, slot = divmod(i, per_beat)
            got = (int(beats[n, b]) >> (bits * slot)) & ((1 << bits) - 1)
            assert got == top[n, i], (n, i)
    # the bits after the last pixel of a frame are 0
    used = PIXELS - (f.beats_per_frame - 1) * per_beat
    if used < per_beat:
        assert not (beats[:, -1] >> np.uint64(bits * used)).any()


@pytest.mark.parametrize("bits", WIRE_BITS)
def test_unpack_gives_each_pixel_as_the_ip_reads_it(bits):
    frames = golden_frames()
    f = fmt(bits)
    keep = np.uint8((0xFF << (8 - bits)) & 0xFF)
    np.testing.assert_array_equal(f.on_wire(frames), frames & keep)
    np.testing.assert_array_equal(f.unpack(f.pack(frames).view("<u8")), frames & keep)
    with pytest.raises(BundleError, match="whole number"):
        f.unpack(f.pack(frames)[:-8])


def test_a_student_gets_the_narrowest_wire_that_carries_its_bits():
    assert [wire_bits_for(b) for b in range(1, 9)] == [1, 2, 4, 4, 8, 8, 8, 8]
    with pytest.raises(BundleError, match="wire_bits"):
        fmt(3)


def test_the_metadata_records_the_wire_and_reads_old_bundles_as_8_bits():
    from test_bundle import metadata_dict

    d = metadata_dict()
    old = BundleMetadata.from_dict(d)  # no wire_bits: made before it was recorded
    assert old.input.wire_bits == 8 and old.to_dict()["input"]["wire_bits"] == 8
    d["input"].update(wire_bits=2, beats_per_frame=25)
    meta = BundleMetadata.from_dict(d)
    assert meta.input.wire_bits == 2 and meta.to_dict()["input"]["bytes_per_frame"] == 200
    d["input"]["beats_per_frame"] = 98
    with pytest.raises(BundleError, match="beats_per_frame is 98 but the format gives 25"):
        BundleMetadata.from_dict(d)
    d["input"].update(wire_bits=3, beats_per_frame=25)
    with pytest.raises(BundleError, match="wire_bits"):
        BundleMetadata.from_dict(d)


def test_the_reference_sees_what_the_wire_carries(tmp_path):
    rng = np.random.default_rng(1)
    dense = Dense(
        "logits",
        rng.integers(-7, 8, (PIXELS, N_CLASSES)),
        rng.integers(-7, 8, N_CLASSES),
        3,
        3,
        4,
        4,
        None,
    )
    write_network_file(QuantizedMLP((dense,), PIXELS), tmp_path / "net.npz")
    frames = golden_frames()
    whole = CpuReference.from_file(tmp_path / "net.npz", 8)
    for bits in WIRE_BITS:
        wired = CpuReference.from_file(tmp_path / "net.npz", 8, wire=fmt(bits))
        np.testing.assert_array_equal(wired.logits(frames), whole.logits(fmt(bits).on_wire(frames)))
        assert np.array_equal(wired.logits(frames), whole.logits(frames)) == (bits == 8)


# --------------------------------------------------------------------------- both wrappers


#: The stand-in network's weights: output k sums pixel i times coef(i, k).
def coefficients(pixels: int = PIXELS) -> np.ndarray:
    i, k = np.meshgrid(np.arange(pixels), np.arange(N_CLASSES), indexing="ij")
    return (7 * i + 13 * k) % 31 + 1


def checksum_words(values: np.ndarray) -> np.ndarray:
    """The words of a stand-in network that outputs ``sum_i values_i * coef(i, k)``, wrapped."""
    sums = values.astype(np.int64) @ coefficients()
    wrapped = (sums + 32) % 64 - 32  # a signed 6-bit wrap
    return wrapper.words_from_logits(wrapped.astype(np.float64), 0)[:, 0]


def transfers(f: InputFormat, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beats and TLAST flags of two transfers (whole frames; a short last frame) and the
    frames the IP must see: the short frame's missing beats read as zero."""
    beats = f.pack(frames).view("<u8").astype(np.uint64)
    per = f.beats_per_frame
    short = per // 3  # the last frame ends with TLAST on this beat
    sent = beats[: 2 * per + short]
    last = np.zeros(sent.size, dtype=bool)
    last[per - 1] = last[-1] = True
    seen = np.concatenate([sent, np.zeros(per - short, dtype=np.uint64)])
    return sent, last, f.unpack(seen)


HLS_STUB_H = """#ifndef STUB_H_
#define STUB_H_
#include "ap_fixed.h"
typedef ap_ufixed<8, 0> input_t;
typedef ap_fixed<6, 6> result_t;
void stub(input_t pixels[784], result_t logits[10]);
#endif
"""
HLS_STUB_CPP = """#include "stub.h"
#include "nnet_utils/nnet_helpers.h"
// A stand-in network: output k is sum_i byte_i * coef[i][k], wrapped to 6 signed bits.
void stub(input_t pixels[784], result_t logits[10]) {
    static int coef[784 * 10];
    static bool loaded = false;
    if (!loaded) {
        nnet::load_weights_from_txt<int, 7840>(coef, "coef.txt");
        loaded = true;
    }
    for (int k = 0; k < 10; k++) {
        int sum = 0;
        for (int i = 0; i < 784; i++)
            sum += pixels[i].range(7, 0).to_int() * coef[10 * i + k];
        ap_int<6> wrapped = sum;
        logits[k].range(5, 0) = wrapped.range(5, 0);
    }
}
"""

RTL_STUB = """// A stand-in network: output k is sum_i pixel_i * ((7i + 13k) % 31 + 1), wrapped
// to 6 bits, two clocks after its input (pixel i at bits W*i of model_inp).
module stub_net (input wire clk, input wire [@W@*784-1:0] model_inp, output reg [59:0] model_out);
    reg [59:0] sums;
    reg [31:0] s;
    integer i, k;
    always @(posedge clk) begin
        for (k = 0; k < 10; k = k + 1) begin
            s = 0;
            for (i = 0; i < 784; i = i + 1)
                s = s + {24'd0, @PAD@model_inp[@W@*i +: @W@]} * ((7 * i + 13 * k) % 31 + 1);
            sums[6*k +: 6] <= s[5:0];
        end
        model_out <= sums;
    end
endmodule
"""


def hls_stub_library(tmp: Path, f: InputFormat) -> IPLibrary:
    hls4ml_dir = Path(importlib.util.find_spec("hls4ml").submodule_search_locations[0])
    templates = hls4ml_dir / "templates" / "vivado"
    src = tmp / "hls4ml"
    (src / "firmware" / "weights").mkdir(parents=True)
    shutil.copytree(templates / "ap_types", src / "firmware" / "ap_types")
    (src / "firmware" / "nnet_utils").mkdir()
    shutil.copy2(templates / "nnet_utils" / "nnet_helpers.h", src / "firmware" / "nnet_utils")
    (src / "firmware" / "stub.h").write_text(HLS_STUB_H)
    (src / "firmware" / "stub.cpp").write_text(HLS_STUB_CPP)
    (src / "firmware" / "weights" / "coef.txt").write_text(
        ",".join(map(str, coefficients().ravel())) + "\n"
    )
    shutil.copytree(src, tmp / "vitis")  # no Vitis differences
    hls = tmp / "hls"
    wrapper.write_hls_sources(
        src, "stub", "io_parallel", f, N_CLASSES, 0, hls, "xc7z020clg400-1", 100.0, tmp / "vitis"
    )
    lib = compile_library(hls, tmp / "lib.so")
    return IPLibrary(lib, hls / "firmware" / "weights")


def rtl_stub_simulation(tmp: Path, f: InputFormat) -> RTLSimulation:
    w = f.wire_bits
    rtl = tmp / "rtl"
    (rtl / NET_DIR).mkdir(parents=True)
    pad = "" if w == 8 else f"{8 - w}'d0, "
    (rtl / NET_DIR / "stub_net.v").write_text(RTL_STUB.replace("@W@", str(w)).replace("@PAD@", pad))
    net = NetRTL("stub_net", PIXELS * w, 60, N_CLASSES, CHECK_BITS, 0, True, 1, 2, {}, 0.0)
    values = sources.template_values(net, wrapper.output_format(N_CLASSES, 0), 0, f)
    sources.write_rtl_sources(values, rtl)
    return RTLSimulation(build_simulation(rtl, tmp / "sim.so"))


@pytest.mark.slow  # g++ and Verilator builds
@pytest.mark.parametrize("bits", WIRE_BITS)
@pytest.mark.parametrize("ip", ["hls", "rtl"])
def test_both_wrappers_unpack_the_boards_packing(tmp_path, ip, bits):
    f = fmt(bits)
    frames = golden_frames()
    sent, last, seen = transfers(f, frames[:3])
    make = hls_stub_library if ip == "hls" else rtl_stub_simulation
    beats = f.pack(frames).view("<u8").astype(np.uint64)
    with make(tmp_path, f) as model:
        assert model.beats_in_per_frame == f.beats_per_frame
        whole, whole_flags = stream(model, beats, np.arange(beats.size) == beats.size - 1)
        data, flags = stream(model, sent, last)
    # the HLS network reads each pixel byte, the Verilog one the wire's bits as they are
    values = (lambda x: x) if ip == "hls" else (lambda x: x >> (8 - bits))
    np.testing.assert_array_equal(whole, checksum_words(values(f.on_wire(frames))))
    assert whole_flags.tolist() == [False] * (len(frames) - 1) + [True]
    np.testing.assert_array_equal(data, checksum_words(values(seen)))
    assert flags.tolist() == [True, False, True]
    if ip == "hls" and bits < 8:  # the byte's low bits are 0, not the wire's bits again
        assert not np.array_equal(whole, checksum_words(frames))


def stream(model, beats: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model.push(beats, last)
    model.run()
    return model.pop()


# --------------------------------------------------------------------------- the RTL MLP


def tiny_mlp(input_bits: int) -> QuantizedMLP:
    """784-4-10 in integers, 97% of the first layer's weights zero, reading ``input_bits``."""
    rng = np.random.default_rng(5)
    w1 = rng.integers(-3, 4, (PIXELS, 4)) * (rng.random((PIXELS, 4)) < 0.03)
    hidden = Dense("dense", w1, rng.integers(-3, 4, 4), 2, 2, 3, 3, (4, 2))
    w2, b2 = rng.integers(-3, 4, (4, N_CLASSES)), rng.integers(-3, 4, N_CLASSES)
    return QuantizedMLP((hidden, Dense("logits", w2, b2, 2, 2, 3, 3, None)), PIXELS, input_bits)


@pytest.mark.slow  # da4ml and Verilator
def test_the_rtl_mlp_on_a_2_bit_wire_is_exact_at_25_clocks_a_frame(tmp_path):
    """The ``mlp`` preset reads 2 bits a pixel: on a 2-bit wire a frame is 25 beats, and
    back-to-back frames leave the IP one per 25 clocks, bit-exact with the numpy reference."""
    from pynq_mnist.host_training.conversion.rtl import trace

    mlp, f = tiny_mlp(2), fmt(wire_bits_for(2))
    assert f.wire_bits == 2 and f.beats_per_frame == 25 and f.bytes_per_frame == 200
    write_network_file(mlp, tmp_path / "net.npz")
    reference = CpuReference.from_file(tmp_path / "net.npz", f.pixel_frac_bits, wire=f)
    frames = golden_frames(200, seed=2)
    logits = reference.logits(frames)
    rtl = tmp_path / "rtl"
    net = trace.write_network(mlp, rtl / NET_DIR, f.wire_bits)
    assert net.input_bits == PIXELS * 2
    frac = wrapper.logit_frac_bits(logits, net.logit_frac)
    values = sources.template_values(net, wrapper.output_format(N_CLASSES, frac), frac, f)
    sources.write_rtl_sources(values, rtl)
    with RTLSimulation(build_simulation(rtl, tmp_path / "sim.so")) as sim:
        beats = f.pack(frames).view("<u8").astype(np.uint64)
        sim.stamp_inputs(True)
        sim.push(beats, np.arange(beats.size) == beats.size - 1)
        sim.run()
        data, flags, cycles = sim.pop_timed()
        taken = sim.pop_input_cycles()
    np.testing.assert_array_equal(data, wrapper.words_from_logits(logits, frac)[:, 0])
    assert flags.tolist() == [False] * 199 + [True]
    timing = stream_timing(taken, cycles, f.beats_per_frame)
    assert timing["cycles_per_frame"] == timing["cycles_per_frame_max"] == 25
    assert set(np.diff(cycles.astype(np.int64)).tolist()) == {25}
