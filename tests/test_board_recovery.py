"""After any failure inside a call the next call answers right or raises; never wrong.

The emulated board holds state as the block design does: a DMA reset leaves the
IP's half-read frame and queued output in place; only the IP reset GPIO clears
them. Each scenario fails a call, then classifies known frames that must all be right.
"""

import os
import signal
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import pynq
import pytest
from test_board_fakes import (
    IN_BEATS,
    OUT_BEATS,
    synthetic_logits,
    synthetic_metadata,
    synthetic_words,
    write_synthetic_bundle,
)

from pynq_mnist.board import DmaError, DmaTimeout, RecoveryFailed, load_overlay
from pynq_mnist.board.emulator import axi_dma
from pynq_mnist.board.emulator.hwh import design_hwh
from pynq_mnist.board.emulator.stream_ip import FunctionIP
from pynq_mnist.board.ip_reset import IPReset
from pynq_mnist.design import IP_RESET_PARAMS, PYNQ_Z2, Vlnv

FRAME_S = 0.002  # the slow IP's compute per frame: a 2,000-frame call lasts 4 s


pytestmark = pytest.mark.usefixtures("fresh_emulator_cache")


@pytest.fixture
def bundle(tmp_path):
    return write_synthetic_bundle(tmp_path / "synthetic")


def slow_ip() -> FunctionIP:
    def fn(words):
        time.sleep(FRAME_S * len(words))
        return synthetic_words(words.view(np.uint8))

    return FunctionIP(IN_BEATS, OUT_BEATS, fn)


def load(bundle, **kw):
    return load_overlay(bundle, "emulator", ip_factory=slow_ip, **kw)


def frames(n, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def assert_all_right(ol, n=200, seed=5):
    x = frames(n, seed)
    assert np.array_equal(ol.classify(x), np.argmax(synthetic_logits(x.reshape(n, 784)), axis=1))


def dma_model(ol):
    return ol.device.dmas[ol.dma_name]


def test_the_design_has_an_ip_reset_and_a_dma_reset_alone_leaves_the_ip_shifted(bundle):
    """The emulator is as strict as the board: a DMA reset leaves the half-read frame."""
    ol = load(bundle, timeout_s=0.1)
    assert isinstance(ol.ip_reset, IPReset) and not ol.ip_reset.held
    model = dma_model(ol)
    model.faults.mm2s_stall_after_beats = IN_BEATS // 2  # half a frame, then a stall
    with pytest.raises(DmaTimeout, match="MM2S"):
        ol.classify(frames(4))
    x = frames(50, seed=3)
    errors = []
    for _ in range(3):  # what a user would try: reset the DMA only, and call again
        ol.link.reset()
        try:
            raw = ol._transfer_all(ol.metadata.input.pack(x))  # bypasses the restore
            break
        except DmaError as e:
            errors.append(e)
    # a shifted stream: one output word too many. The IP's early TLAST ends the
    # shift, and the next DMA reset's S2MM drain (PG022) discards the extra word
    # the IP still held, as the board's would: only then do answers come back right.
    assert len(errors) == 1 and "DMAIntErr" in str(errors[0])
    assert model.drained_beats == OUT_BEATS
    assert np.array_equal(raw, synthetic_words(x.reshape(50, 784)))
    assert model.ip_resets == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"mm2s_stall_after_beats": IN_BEATS // 2},  # mid-frame timeout
        {"mm2s_stall_after_beats": 5 * IN_BEATS + 7},
        {"drop_tlast": True},
        {"mm2s_error": axi_dma.SLV_ERR},
        {"s2mm_error": axi_dma.DEC_ERR},
    ],
)
def test_after_a_fault_the_next_call_is_right(bundle, fault):
    ol = load(bundle, timeout_s=0.1)
    model = dma_model(ol)
    for key, value in fault.items():
        setattr(model.faults, key, value)
    with pytest.raises((DmaTimeout, RuntimeError)):
        ol.classify(frames(20))
    model.faults = axi_dma.Faults()
    assert not ol.clean
    assert_all_right(ol)
    assert ol.clean and ol.recoveries == 1 and model.ip_resets == 1
    assert 0 < ol.last_recovery_s < 2


def test_a_fault_that_persists_raises_recovery_failed_not_wrong_answers(bundle):
    ol = load(bundle, timeout_s=0.1)
    dma_model(ol).faults.drop_tlast = True
    with pytest.raises(DmaTimeout):
        ol.classify(frames(3))
    with pytest.raises(RecoveryFailed, match="Nothing was classified"):
        ol.classify(frames(3))
    dma_model(ol).faults.drop_tlast = False
    assert_all_right(ol)


def _interrupt_after(delay_s: float) -> threading.Thread:
    """A real SIGINT (Ctrl-C) to this process after ``delay_s``."""
    t = threading.Timer(delay_s, os.kill, (os.getpid(), signal.SIGINT))
    t.start()
    return t


@pytest.mark.parametrize("delay_s", [0.05, 0.4, 1.5])
def test_ctrl_c_mid_transfer_arrives_promptly_and_the_next_call_is_right(bundle, delay_s):
    ol = load(bundle)
    x = frames(2000)  # 4 s of IP compute, in one DMA transfer
    timer = _interrupt_after(delay_s)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        ol.classify(x)
    late = time.perf_counter() - t0 - delay_s
    timer.join()
    assert late < 0.5, f"KeyboardInterrupt reached the caller {late:.2f} s after SIGINT"
    ip = dma_model(ol).ip
    assert ip.pending_output() or ip.pending_input()  # the IP was left holding state
    assert_all_right(ol)
    assert ol.recoveries == 1


@pytest.mark.parametrize("where", ["pack", "copy_in", "poll", "copy_out"])
def test_ctrl_c_at_each_stage_of_a_call(bundle, monkeypatch, where):
    """A KeyboardInterrupt raised at each point a signal can land in a call."""
    ol = load(bundle, max_batch=64)  # 300 frames: five transfers; interrupt the third
    calls = {"n": 0}

    def hit():
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    if where == "pack":  # the end of the pack stage, before anything reaches the DMA
        real_record = ol.timer.record
        monkeypatch.setattr(
            ol.timer, "record", lambda stage, s: (stage == "pack" and hit(), real_record(stage, s))
        )
        calls["n"] = 2
    elif where == "copy_in":
        real_views = ol._views
        monkeypatch.setattr(ol, "_views", lambda m: (hit(), real_views(m))[1])
    elif where == "poll":
        real_poll = ol.link._poll
        monkeypatch.setattr(ol.link, "_poll", lambda *a: (hit(), real_poll(*a))[1])
    else:
        real = ol.link.transfer
        monkeypatch.setattr(ol.link, "transfer", lambda *a: (real(*a), hit())[0])
    with pytest.raises(KeyboardInterrupt):
        ol.classify(frames(300))
    monkeypatch.undo()
    assert_all_right(ol)
    # an interrupt before any transfer leaves nothing to restore
    assert ol.recoveries == (0 if where == "pack" else 1)


def test_threads_serialise_and_every_answer_is_right(bundle):
    ol = load_overlay(bundle, "emulator", ip_factory=lambda: FunctionIP(IN_BEATS, OUT_BEATS, _fast))
    errors, results = [], {}

    def work(k):
        try:
            x = frames(64, seed=100 + k)
            for _ in range(5):
                results[k] = np.array_equal(
                    ol.classify(x), np.argmax(synthetic_logits(x.reshape(64, 784)), axis=1)
                )
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == {k: True for k in range(6)}


def _fast(words):
    return synthetic_words(words.view(np.uint8))


def test_a_design_without_the_ip_reset_is_restored_by_configuring_the_pl(tmp_path):
    meta = synthetic_metadata()
    b = write_synthetic_bundle(tmp_path / "synthetic", meta)
    design = PYNQ_Z2.with_ip(Vlnv.parse(meta.ip["vlnv"]))
    hwh = design_hwh(design, meta.name, 64, 64, 26, 100.0, ip_reset=False)
    (b / "synthetic.hwh").write_text(hwh)
    (b / "synthetic.bit").write_text("placeholder")
    ol = load(b, timeout_s=0.1)
    assert ol.ip_reset is None
    before = ol.device.dmas[ol.dma_name]
    before.faults.mm2s_stall_after_beats = IN_BEATS // 2
    with pytest.raises(DmaTimeout):
        ol.classify(frames(4))
    assert_all_right(ol)
    assert dma_model(ol) is not before  # a fresh PL: a new IP


def test_the_reset_gpio_reads_0_as_on_the_board_and_the_overlay_keeps_its_own_copy(bundle):
    """An all-output AXI GPIO's GPIO_DATA reads the undriven input pins (PG144), not the
    outputs: ``held`` must come from the bit the driver wrote, never from a read."""
    ol = load(bundle)
    gpio = ol.device.ip_reset
    assert not ol.ip_reset.held and ol.ip_reset.read(0) == 0 == gpio.read(0)
    ol.ip_reset.hold()
    assert ol.ip_reset.held and dma_model(ol).ip_in_reset and gpio.read(0) == 0
    ol.ip_reset.release()
    assert not ol.ip_reset.held and not dma_model(ol).ip_in_reset and gpio.data == 1


def test_recovery_resets_the_dma_then_holds_the_ip_and_resets_the_dma_again(bundle):
    ol = load(bundle, timeout_s=0.1)
    model, order = dma_model(ol), []
    reset, set_ip_reset = model.reset, model.set_ip_reset
    model.reset = lambda: (order.append("dma"), reset())[1]
    model.set_ip_reset = lambda held: (
        order.append("hold" if held else "release"),
        set_ip_reset(held),
    )[1]
    ol.recover()
    assert order == ["dma", "hold", "dma", "release"]
    assert ol.clean and not ol.ip_reset.held


def test_the_ip_reset_gpio_holds_the_ip_and_only_the_ip(bundle):
    ol = load(bundle)
    model = dma_model(ol)
    ip = model.ip
    ip.push(np.arange(10, dtype=np.uint64), np.zeros(10, bool))  # a partial frame
    ol.link.reset()
    assert ip.pending_input() == 10  # the DMA reset did not touch it
    ol.ip_reset.hold()
    assert model.ip_in_reset and ip.pending_input() == 0
    ol.ip_reset.release()
    assert not model.ip_in_reset
    assert_all_right(ol)


def test_the_gpio_parameters_the_emulator_reads_exist_in_a_vivado_made_hwh(pynq_z2_base_hwh):
    """C_GPIO_WIDTH and C_DOUT_DEFAULT are read from the .hwh; Vivado writes these names."""
    root = ET.parse(pynq_z2_base_hwh).getroot()
    vlnv = str(PYNQ_Z2.ip_reset.vlnv)
    gpios = [m for m in root.iter("MODULE") if m.get("VLNV") == vlnv]
    assert gpios, "the base overlay has AXI GPIOs of this VLNV"
    names = {p.get("NAME") for p in gpios[0].iter("PARAMETER")}
    assert {*IP_RESET_PARAMS, "C_BASEADDR"} <= names
    assert any(b.get("NAME") == "S_AXI" for b in gpios[0].iter("BUSINTERFACE"))
    ours = ET.fromstring(design_hwh(PYNQ_Z2, "x", 64, 64, 26, 100.0))
    [gpio] = [m for m in ours.iter("MODULE") if m.get("VLNV") == vlnv]
    assert gpio.get("FULLNAME") == "/" + PYNQ_Z2.ip_reset.path
    values = {p.get("NAME"): p.get("VALUE") for p in gpio.iter("PARAMETER")}
    assert {k: values[k] for k in IP_RESET_PARAMS} == IP_RESET_PARAMS


def test_pynq_keeps_its_own_axi_gpio_driver():
    """Our IPReset driver must not take over every axi_gpio of every overlay."""
    from pynq.overlay import _ip_drivers

    assert _ip_drivers[str(PYNQ_Z2.ip_reset.vlnv)] is pynq.lib.AxiGPIO


def test_the_hls_build_makes_ap_rst_n_reset_the_networks_static_state():
    """hls4ml's io_stream layers keep static counters: the IP reset must clear them too."""
    from pynq_mnist.host_training.conversion.wrapper import TEMPLATES

    tcl = (TEMPLATES / "build_hls.tcl.in").read_text()
    solution, rtl, synth = (
        tcl.index("open_solution"),
        tcl.index("config_rtl -reset state"),
        tcl.index("csynth_design"),
    )
    assert solution < rtl < synth


def test_after_recovery_the_latency_counter_reports_the_golden_run_not_the_failed_call(bundle):
    """The counter's run ends only at an output TLAST or the IP's reset (stream_timer.v)."""
    from pynq_mnist.board.latency_counter import LatencyCounter
    from pynq_mnist.vivado_bd.params import latency_counter_info

    ol = load(bundle, timeout_s=0.1)
    seg = PYNQ_Z2.timer.segment
    ol.device.add_timer(seg.base, seg.size)
    counter = LatencyCounter(ol, latency_counter_info())
    ol.classify(frames(3))
    assert counter.last_run()["in_beats"] == 3 * IN_BEATS and counter.read("busy") == 0
    dma_model(ol).faults.mm2s_stall_after_beats = IN_BEATS // 2
    with pytest.raises(DmaTimeout):
        ol.classify(frames(4))
    assert counter.read("busy") == 1  # the failed call's run never saw its TLAST
    ol.recover()
    golden = len(ol._golden().frames)
    run = counter.last_run()
    assert counter.read("busy") == 0 and run["runs"] == 2
    assert (run["in_beats"], run["out_beats"]) == (golden * IN_BEATS, golden * OUT_BEATS)
