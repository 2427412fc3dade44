"""The RTL backend: a small MLP through da4ml, our Verilog wrapper, Yosys and Verilator.

One tiny MLP student (784-8-10, 90% pruned, one epoch on a data subset) is
trained and converted once per module; every test then drives the real
Verilog, clock by clock, and holds it to the numpy reference network.
"""

import shutil

import numpy as np
import pytest
from test_vivado_build import UTILIZATION, tool_calls, tools  # noqa: F401 (a fixture)

from pynq_mnist.board.cpu_reference import CpuReference, FixedType, requantize
from pynq_mnist.board.emulator.rtl_sim import RTLSimulation
from pynq_mnist.bundle import Bundle
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.wrapper import words_from_logits

BEATS = 98
STUDENT = {"units": [8], "pruning": {"sparsity": 0.9}}
FRAMES = 1000


pytestmark = pytest.mark.usefixtures("fresh_emulator_cache")


@pytest.fixture(scope="module")
def mlp_run_dir(tmp_path_factory):
    from pynq_mnist.host_training.training.train import train

    run_dir = tmp_path_factory.mktemp("rtl_run") / "run"
    config = {"arch": "mlp", "preset": "smoke", "teacher": {"units": [32]}, "student": STUDENT}
    train(config, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def rtl_bundle(mlp_run_dir, tmp_path_factory):
    from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl

    out = tmp_path_factory.mktemp("rtl_bundle") / "mnist_mlp_rtl"
    convert_rtl(mlp_run_dir, out, frames=FRAMES, progress=lambda message: None)
    return Bundle(out)


def reference_words(bundle, frames):
    """The words the IP must give: the numpy reference's logits in the bundle's layout."""
    reference = CpuReference.from_file(
        bundle.file("network"), bundle.metadata.input.pixel_frac_bits
    )
    logits = reference.logits(frames)
    return words_from_logits(logits, bundle.metadata.output.field("logits").frac_bits)[:, 0]


def random_frames(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 784), dtype=np.uint8)


def beats_of(frames):
    return np.ascontiguousarray(frames).reshape(-1).view("<u8").astype(np.uint64)


def stream(sim, beats, last):
    sim.push(beats, last)
    sim.run()
    return sim.pop_timed()


def test_rtl_matches_the_numpy_reference_and_the_student(rtl_bundle):
    frames, words = rtl_bundle.golden()
    assert np.array_equal(words[:, 0], reference_words(rtl_bundle, frames))
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        last = np.zeros(frames.shape[0] * BEATS, dtype=bool)
        last[-1] = True
        data, flags, _ = stream(sim, beats_of(frames), last)
    assert np.array_equal(data, words[:, 0])
    acc = rtl_bundle.metadata.accuracy
    assert acc["reference_bit_exact"] and acc["frames"] == FRAMES
    # Keras sums in float32: every frame where its argmax differs is one whose
    # top-2 margin is within Keras's own logit error.
    assert acc["disagreements"]["margin_below_error"] == acc["disagreements"]["count"]
    assert acc["agreement"] > 0.98


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_transfers_of_1_2_and_1000_frames(rtl_bundle, n):
    frames = random_frames(n, seed=n)
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        last = np.zeros(n * BEATS, dtype=bool)
        last[-1] = True
        sim.stamp_inputs(True)
        data, flags, cycles = stream(sim, beats_of(frames), last)
        taken = sim.pop_input_cycles()
    assert np.array_equal(data, reference_words(rtl_bundle, frames))
    assert flags.tolist() == [False] * (n - 1) + [True]
    assert taken.size == n * BEATS and np.all(np.diff(taken.astype(np.int64)) == 1)  # no stall
    if n > 1:  # one frame per 98 clocks: the DMA's own rate
        assert set(np.diff(cycles.astype(np.int64)).tolist()) == {BEATS}


def test_the_bundle_is_named_for_its_dataset_and_records_it(rtl_bundle, mlp_run_dir):
    import json

    meta = rtl_bundle.metadata
    recorded = json.loads((mlp_run_dir / "metrics.json").read_text())["data"]
    assert meta.name == "mnist_mlp_rtl" and meta.dataset.name == "mnist"
    assert meta.dataset.sha256 and all(
        recorded["sha256"][file] == digest for file, digest in meta.dataset.sha256.items()
    )
    assert meta.files.hls is None and meta.files.rtl == "rtl"


def test_measured_timing_is_in_the_bundle(rtl_bundle):
    ip = rtl_bundle.metadata.ip
    assert ip["backend"] == "rtl" and rtl_bundle.metadata.backend == "rtl"
    assert ip["target_ii_cycles"] == BEATS and "measured" in ip["target_ii_basis"]
    # The network's stages, the argmax chain (one clock per class) and the FIFO.
    assert ip["latency_cycles"] >= ip["rtl"]["network_latency_cycles"] + 10
    assert ip["timing"]["cycles_per_frame_max"] == BEATS


def test_tlast_mid_frame_pads_it_with_zeros_and_ends_the_transfer(rtl_bundle):
    frames = random_frames(3, seed=7)
    padded = frames.copy()
    padded[1, 8 * 10 :] = 0  # frame 1 ends with TLAST on its beat 9
    beats = np.concatenate([beats_of(frames[:1]), beats_of(frames[1:2])[:10], beats_of(frames[2:])])
    last = np.zeros(beats.size, dtype=bool)
    last[BEATS + 9] = True  # mid-frame
    last[-1] = True
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        data, flags, _ = stream(sim, beats, last)
    assert np.array_equal(data, reference_words(rtl_bundle, padded))
    assert flags.tolist() == [False, True, True]


def test_tlast_on_the_first_beat_and_on_a_middle_frames_last_beat(rtl_bundle):
    frames = random_frames(3, seed=8)
    padded = frames.copy()
    padded[0, 8:] = 0
    beats = np.concatenate([beats_of(frames[:1])[:1], beats_of(frames[1:])])
    last = np.zeros(beats.size, dtype=bool)
    last[0] = True
    last[BEATS] = True  # the last beat of frame 1: an ordinary end of transfer
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        data, flags, _ = stream(sim, beats, last)
        assert sim.pending_input() == 0
    assert np.array_equal(data, reference_words(rtl_bundle, padded))
    # frame 2 (no TLAST) is whole but its transfer has not ended: no TLAST on it
    assert flags.tolist() == [True, True, False]


def test_reset_drops_a_partial_frame(rtl_bundle):
    frames = random_frames(2, seed=9)
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        stream(sim, beats_of(frames[:1])[:50], np.zeros(50, dtype=bool))
        sim.reset()
        last = np.zeros(BEATS, dtype=bool)
        last[-1] = True
        data, flags, _ = stream(sim, beats_of(frames[1:]), last)
    assert np.array_equal(data, reference_words(rtl_bundle, frames[1:]))
    assert flags.tolist() == [True]


def test_the_emulated_board_runs_the_rtl_and_gives_the_bundles_accuracy(rtl_bundle):
    from pynq_mnist.board import load_overlay
    from pynq_mnist.mnist import load_mnist

    data = load_mnist()
    images = data.test_images[:FRAMES]
    with load_overlay(rtl_bundle.path, "emulator") as ol:
        model = ol.device.dmas[ol.dma_name].ip
        assert isinstance(model, RTLSimulation)
        classes = ol.classify(images)
        words = ol.execute(images[:64])
    assert np.mean(classes == data.test_labels[:FRAMES]) == rtl_bundle.metadata.accuracy["emulated"]
    assert np.array_equal(words, rtl_bundle.golden()[1])


@pytest.mark.parametrize("stall_at", [BEATS // 2, 3 * BEATS + 7])
def test_the_ip_reset_gpio_resets_the_rtl_after_a_stalled_transfer(rtl_bundle, stall_at):
    """A DMA timeout leaves part of a frame in the Verilog; the overlay's recovery pulses
    the IP reset GPIO, which holds the simulation's ap_rst_n low, and the next call is right."""
    from pynq_mnist.board import DmaTimeout, load_overlay

    frames, words = rtl_bundle.golden()
    with load_overlay(rtl_bundle.path, "emulator", timeout_s=0.2) as ol:
        model = ol.device.dmas[ol.dma_name]
        assert isinstance(model.ip, RTLSimulation) and ol.ip_reset is not None
        model.faults.mm2s_stall_after_beats = stall_at
        with pytest.raises(DmaTimeout, match="MM2S"):
            ol.execute(frames[:8])
        assert model.ip_resets == 0  # the next call restores the overlay first
        assert np.array_equal(ol.execute(frames), words)
        assert model.ip_resets >= 1 and isinstance(model.ip, RTLSimulation)


def test_yosys_counts_sit_beside_das4mls_estimate(rtl_bundle):
    resources = rtl_bundle.metadata.ip["resources"]
    y, e = resources["yosys"], resources["da4ml_estimate"]
    assert "Yosys" in y["basis"] and "da4ml" in e["basis"]
    assert y["lut"] >= y["inv"] and y["lut"] > 0 and y["ff"] > 0 and y["carry4"] > 0
    assert y["lut"] + y["srl"] <= y["slice_luts"] <= resources["lut_budget"]
    # da4ml's figure counts the network alone; the wrapper adds its own LUTs.
    assert 0.3 * y["lut"] < e["lut"] < 3 * y["lut"]


def test_an_oversized_design_is_refused_with_the_numbers(mlp_run_dir, tmp_path):
    from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl
    from pynq_mnist.host_training.conversion.rtl.yosys import LUT_BUDGET, check_budget

    out = tmp_path / "refused"
    # the cheap bound stops it before da4ml runs
    refusal = r"at least [\d,]+ LUTs .*over the budget of 100; da4ml was not run"
    with pytest.raises(ConversionError, match=refusal):
        convert_rtl(mlp_run_dir, out, frames=10, progress=lambda m: None, lut_budget=100)
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
    assert LUT_BUDGET == 42_560
    with pytest.raises(ConversionError, match=r"50,000 LUTs by Yosys.*42,560 \(80% of"):
        check_budget(50_000, "Yosys")


def test_relu_rounds_half_to_even_and_saturates_like_quantized_relu():
    from da4ml.trace import FixedVariableArray, comb_trace

    from pynq_mnist.host_training.conversion.rtl.trace import _relu_half_even

    frac, bits, integer = 5, 4, 2  # x in fixed<9,4> (5 fraction bits) -> ufixed<4,2>
    x = FixedVariableArray.from_kif(np.array([1]), np.array([3]), np.array([frac]))
    y = FixedVariableArray(np.array([_relu_half_even(x._vars[0], bits, integer)]))
    raw = np.arange(-(1 << 8), 1 << 8)
    got = comb_trace(x, y).predict((raw * 2.0**-frac).reshape(-1, 1))[:, 0]
    t = FixedType(bits, integer, False, "RND_CONV", "SAT")
    want = requantize(np.maximum(raw, 0), frac, t) * 2.0**-t.frac
    assert np.array_equal(got, want)


def test_the_block_design_takes_the_rtl_ip_as_a_module_reference(rtl_bundle, tmp_path):
    from test_vivado_tcl import BD_DIR, STANDINS, Graph, tclsh

    from pynq_mnist.vivado_bd import params as bd_params

    meta = rtl_bundle.metadata
    rtl = rtl_bundle.file("rtl")
    p = bd_params.design_params(meta, rtl, tmp_path / "out", 1)
    assert p["ip_backend"] == "rtl" and p["ip_repo"] == str(rtl.resolve())
    params_file = bd_params.write_params_tcl(p, tmp_path / "params.tcl")
    script = f"""
        source {{{STANDINS / "vivado_standin.tcl"}}}
        set ::standin::ip_stream_bytes {{in_stream 8 out_stream 8}}
        source {{{params_file}}}
        add_files {{*}}[concat [glob {{{rtl}/*.v}}] [glob {{{rtl}/net/*.v}}]]
        add_files [dict get $params ip_reset_and_rtl]
        source {{{BD_DIR / "pynq_z2_ps7.tcl"}}}
        source {{{BD_DIR / "pynq_z2_design.tcl"}}}
        set code [catch {{::pynq_mnist::create_design $params 0}} msg]
        ::standin::dump graph.txt
        if {{$code}} {{ puts stderr $msg; exit 1 }}
    """
    result = tclsh(script, tmp_path)
    assert result.returncode == 0, result.stderr
    g = Graph.read(tmp_path / "graph.txt")
    ip, dma = f"/{bd_params.CELLS['ip_cell']}", f"/{bd_params.CELLS['dma_cell']}"
    assert g.cells[ip] == meta.ip["vlnv"] == "xilinx.com:module_ref:pynq_mnist_top:1.0"
    assert (f"{dma}/M_AXIS_MM2S", f"{ip}/in_stream") in g.intf_nets
    assert (f"{ip}/out_stream", f"{dma}/S_AXIS_S2MM") in g.intf_nets
    assert f"{ip}/ap_clk" in g.net_of("/processing_system7_0/FCLK_CLK0")
    # the same reset as the HLS IP's: the system reset AND the IP reset GPIO's bit
    gpio, gate = (f"/{bd_params.CELLS[k]}" for k in ("ip_reset_cell", "ip_reset_and_cell"))
    assert f"{ip}/ap_rst_n" not in g.net_of("/rst_fclk0/peripheral_aresetn")
    assert g.net_of(f"{ip}/ap_rst_n") == {f"{gate}/Res", f"{ip}/ap_rst_n"}
    assert f"{gate}/Op1" in g.net_of("/rst_fclk0/peripheral_aresetn")
    assert g.net_of(f"{gpio}/gpio_io_o") == {f"{gpio}/gpio_io_o", f"{gate}/Op2"}


def test_build_overlay_check_plans_an_rtl_bundle_without_hls(rtl_bundle, tmp_path):
    from pynq_mnist.vivado_bd.plan import check_plan

    plan = check_plan(rtl_bundle.path)
    text = plan.format()
    assert not plan.failed, text
    assert "bit-exact with the numpy reference in Verilator" in text
    assert "an RTL IP needs no HLS tool" in text and "build_hls.tcl" not in text
    broken = tmp_path / "broken"
    shutil.copytree(rtl_bundle.path, broken)
    (broken / "rtl" / "pynq_mnist_top.v").unlink()
    plan = check_plan(broken)
    assert plan.failed and "RTL top rtl/pynq_mnist_top.v is there" in plan.format()


def test_the_cost_the_design_search_can_use_is_the_bundles(mlp_run_dir, rtl_bundle):
    from pynq_mnist.host_training.conversion.rtl.cost import rtl_cost
    from pynq_mnist.host_training.training.run_dir import load_student

    cost = rtl_cost(load_student(mlp_run_dir))
    ip = rtl_bundle.metadata.ip
    assert cost["lut_estimate"] == ip["resources"]["da4ml_estimate"]["lut"]
    assert cost["ff_estimate"] == ip["resources"]["da4ml_estimate"]["ff"]
    assert cost["cycles_per_frame"] == ip["target_ii_cycles"]
    assert cost["nonzero_weights"] == rtl_bundle.metadata.model["nonzero_weights"]


def test_a_stalled_output_stalls_the_input_and_loses_nothing(rtl_bundle):
    frames = random_frames(20, seed=11)
    with RTLSimulation.for_bundle(rtl_bundle) as sim:
        sim.set_output_ready_every(300)  # slower than one frame per 98 clocks
        last = np.zeros(20 * BEATS, dtype=bool)
        last[-1] = True
        sim.stamp_inputs(True)
        data, flags, cycles = stream(sim, beats_of(frames), last)
        taken = sim.pop_input_cycles()
    assert np.array_equal(data, reference_words(rtl_bundle, frames))
    assert flags.tolist() == [False] * 19 + [True]
    assert np.diff(taken.astype(np.int64)).max() > 1  # the input was held back
    assert np.diff(cycles.astype(np.int64)).min() >= 300


def test_convert_cli_refuses_hls4ml_options_and_a_run_whose_model_is_not_its_arch(
    mlp_run_dir, tmp_path, capsys
):
    import json
    import shutil

    from pynq_mnist.cli import EXIT_REFUSED, main

    out = tmp_path / "b"
    rc = main(
        ["convert", str(mlp_run_dir), "--out", str(out), "--backend", "rtl", "--workers", "2"]
    )
    assert (
        rc == EXIT_REFUSED
        and "--workers: hls4ml options, not for --backend rtl" in capsys.readouterr().err
    )
    cnn = tmp_path / "cnn_run"
    shutil.copytree(mlp_run_dir, cnn)
    metrics = json.loads((cnn / "metrics.json").read_text())
    (cnn / "metrics.json").write_text(json.dumps({**metrics, "arch": "cnn"}))
    assert main(["convert", str(cnn), "--out", str(out), "--backend", "rtl"]) == EXIT_REFUSED
    assert "a QDense must follow the Flatten" in capsys.readouterr().err  # an MLP, not a CNN
    assert not out.exists()


def test_build_overlay_takes_the_verilog_with_vivado_alone(rtl_bundle, tmp_path, tools):  # noqa: F811
    """Stand-in Vivado only on PATH (no HLS tool): the RTL goes in as a module reference."""
    import shutil

    from pynq_mnist.vivado_bd.build import build_overlay

    path = tmp_path / rtl_bundle.metadata.name
    shutil.copytree(rtl_bundle.path, path)
    calls = tools(
        "vivado",
        IP_VLNV=rtl_bundle.metadata.ip["vlnv"],
        HLS_INTF="in_stream out_stream",
        IP_STREAM_BYTES="in_stream 8 out_stream 8",
        UTILIZATION=" ".join(f"{k} {v}" for k, v in UTILIZATION.items()),
        WNS="0.5",
    )
    meta = build_overlay(path, jobs=1).metadata
    assert meta.build["tools"] == {"hls": None, "vivado": "vivado 2022.1"}
    assert tool_calls(calls, "vivado") == 1
    assert 'INSTANCE="nn_0"' in Bundle(path).file("hwh").read_text()
    Bundle(path).verify_hashes()


def test_the_search_measures_rtl_luts_as_the_conversion_does(mlp_run_dir, rtl_bundle):
    """``rtl_lut_estimate``, a search cost on request, is the estimate the bundle records."""
    from pynq_mnist.host_training.training.run_dir import load_student
    from pynq_mnist.host_training.training.search.costs import student_costs

    model = load_student(mlp_run_dir)
    assert "rtl_lut_estimate" not in student_costs(model, "mlp")  # slow: only on request
    costs = student_costs(model, "mlp", ("rtl_lut_estimate",))
    recorded = rtl_bundle.metadata.ip["resources"]["da4ml_estimate"]["lut"]
    assert costs["rtl_lut_estimate"] == recorded > 0


def test_a_student_that_reads_the_top_pixel_bits_is_exact_through_da4ml_and_numpy(tmp_path):
    """``student.input_bits``: Keras, the numpy reference and da4ml's logic agree, and
    they compute on the truncated pixels (the full bytes give other logits)."""
    from pynq_mnist import encoding
    from pynq_mnist.host_training.conversion.hls4ml_config import check_student
    from pynq_mnist.host_training.conversion.rtl.network import (
        mlp_from_student,
        write_network_file,
    )
    from pynq_mnist.host_training.conversion.rtl.trace import trace_network
    from pynq_mnist.host_training.training import run_dir as rd
    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.models import build_student

    student = resolve({"arch": "mlp", "student": {"units": [8], "input_bits": 3}}, preset="smoke")
    rd.save_model(build_student(student["student"], "mlp"), tmp_path / rd.STUDENT)
    model = rd.load_model(tmp_path / rd.STUDENT)  # as conversion reads it
    mlp = mlp_from_student(model)
    assert mlp.input_bits == 3
    frames = random_frames(200, seed=3)

    def reference(net):
        write_network_file(net, tmp_path / "net.npz")
        return CpuReference.from_file(tmp_path / "net.npz", encoding.PIXEL_BITS).logits(frames)

    logits = reference(mlp)
    keras_logits = model(encoding.to_network_input(frames)).numpy()
    np.testing.assert_array_equal(keras_logits, logits)
    da4ml_logits = trace_network(mlp).predict(frames * encoding.PIXEL_SCALE)
    np.testing.assert_array_equal(da4ml_logits, logits)
    from dataclasses import replace

    assert not np.array_equal(reference(replace(mlp, input_bits=encoding.PIXEL_BITS)), logits)
    with pytest.raises(ConversionError, match="only the rtl backend builds"):
        check_student(model)
    # BOPs count the first layer's products at the bits it reads
    from pynq_mnist.host_training.training.compression import cost

    in_bits = [3] + [layer.relu[0] for layer in mlp.layers[:-1]]
    bops = sum(
        layer.nonzero_weights * layer.weight_bits * b
        for layer, b in zip(mlp.layers, in_bits, strict=True)
    )
    assert cost(model)["bops"] == bops
