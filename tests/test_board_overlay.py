"""MnistOverlay on the emulated board: load checks, the data path, faults, no leaks."""

import signal
import time

import numpy as np
import pytest
from test_board_fakes import (
    IN_BEATS,
    OUT_BEATS,
    synthetic_ip,
    synthetic_logits,
    synthetic_metadata,
    synthetic_words,
    write_synthetic_bundle,
)

from pynq_mnist.board import (
    DesignMismatch,
    DmaError,
    DmaTimeout,
    GoldenMismatch,
    OverlayBusy,
    OverlayLoadError,
    load_overlay,
)
from pynq_mnist.board.emulator import axi_dma
from pynq_mnist.board.emulator.hwh import EMULATED_TAG, emulated_hwh
from pynq_mnist.board.emulator.stream_ip import FunctionIP
from pynq_mnist.bundle import BundleError
from pynq_mnist.limits import LimitError

pytestmark = pytest.mark.usefixtures("fresh_emulator_cache")


@pytest.fixture
def bundle(tmp_path):
    return write_synthetic_bundle(tmp_path / "synthetic")


def load(bundle, **kw):
    return load_overlay(bundle, "emulator", ip_factory=synthetic_ip, **kw)


def frames(n, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def classes_of(x):
    return np.argmax(synthetic_logits(x.reshape(len(x), 784)), axis=1)


def dma_model(ol):
    return ol.device.dmas[ol.dma_name]


def test_load_reports_the_emulated_board_and_an_emulated_hwh(bundle, tmp_path):
    ol = load(bundle)
    assert ol.target == "emulator" and "emulated" in ol.board_name
    assert ol.emulated_hwh and ol.fclk_mhz == 100.0
    hwh = (tmp_path / "cache").rglob("*.hwh")
    assert EMULATED_TAG in next(hwh).read_text()


@pytest.mark.parametrize("n", [1, 8, 10_000])
def test_classify_batches(bundle, n):
    ol = load(bundle)
    x = frames(n)
    assert np.array_equal(ol.classify(x), classes_of(x))
    assert np.array_equal(ol.classify(x.reshape(n, 784)), classes_of(x))


def test_predict_logits_are_the_fixed_point_values(bundle):
    ol = load(bundle)
    x = frames(5)
    assert np.array_equal(ol.predict_logits(x), synthetic_logits(x.reshape(5, 784)) / 4)


def test_every_stage_is_timed(bundle):
    ol = load(bundle)
    ol.classify(frames(50))
    assert set(ol.timer.last) == {"pack", "copy_in", "dma", "copy_out", "unpack"}
    assert all(v > 0 for v in ol.timer.last.values()) and ol.timer.frames == 50


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((0, 28, 28), np.uint8), "empty"),
        (np.zeros((2, 28, 28), np.float32), "uint8"),
        (np.zeros((2, 27, 28), np.uint8), "shape"),
        ([[0] * 784], "numpy array"),
    ],
)
def test_bad_frames_get_clear_errors(bundle, bad, match):
    ol = load(bundle)
    with pytest.raises(BundleError, match=match):
        ol.classify(bad)


def test_batches_above_the_max_transfer_are_split(tmp_path):
    meta = synthetic_metadata(length_width_bits=14)  # 16,383 bytes: 20 frames a transfer
    b = write_synthetic_bundle(tmp_path / "small_dma", meta)
    ol = load(b)
    assert ol.frames_per_transfer == 16383 // 784
    before = dma_model(ol).mm2s.transfers
    x = frames(101)
    assert np.array_equal(ol.classify(x), classes_of(x))
    assert dma_model(ol).mm2s.transfers - before == -(-101 // ol.frames_per_transfer)


def test_the_cma_budget_caps_the_buffers(bundle):
    ol = load(bundle, cma_budget_bytes=100 * 792)
    assert ol.frames_per_transfer == 100
    x = frames(250)
    assert np.array_equal(ol.classify(x), classes_of(x))


def test_missing_tlast_times_out_within_the_deadline_and_recovers(bundle):
    ol = load(bundle, timeout_s=0.2)
    dma_model(ol).faults.drop_tlast = True
    t0 = time.perf_counter()
    with pytest.raises(DmaTimeout, match="S2MM.*TLAST"):
        ol.classify(frames(4))
    assert time.perf_counter() - t0 < 0.2 + 0.5
    dma_model(ol).faults.drop_tlast = False
    x = frames(4, seed=7)
    assert np.array_equal(ol.classify(x), classes_of(x))
    assert ol.link.resets == 3  # at the timeout, then the recovery's two (around the IP's)


@pytest.mark.parametrize(
    "channel, bit, name",
    [
        ("mm2s_error", axi_dma.SLV_ERR, "DMASlvErr"),
        ("s2mm_error", axi_dma.DEC_ERR, "DMADecErr"),
        ("mm2s_error", axi_dma.INT_ERR, "DMAIntErr"),
    ],
)
def test_dma_error_bits_give_a_clear_error(bundle, channel, bit, name):
    ol = load(bundle)
    setattr(dma_model(ol).faults, channel, bit)
    with pytest.raises(DmaError, match=name):
        ol.classify(frames(3))
    assert not ol.clean
    x = frames(3, seed=9)  # an S2MM error left output in the IP: the IP reset dropped it
    assert np.array_equal(ol.classify(x), classes_of(x))
    assert ol.clean and ol.recoveries == 1 and dma_model(ol).ip_resets == 1


def test_a_hwh_from_another_design_is_refused(tmp_path):
    meta = synthetic_metadata()
    b = write_synthetic_bundle(tmp_path / "synthetic", meta)
    other = synthetic_metadata(vlnv="pynq-mnist:hls:other_axi:1.0", length_width_bits=23)
    (b / "synthetic.hwh").write_text(emulated_hwh(other))
    (b / "synthetic.bit").write_text("placeholder")
    with pytest.raises(DesignMismatch, match="c_sg_length_width.*other_axi"):
        load(b)


def test_a_golden_mismatch_is_refused_at_load(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (16, 784), dtype=np.uint8)
    wrong = synthetic_words(x) ^ np.uint64(1)
    b = write_synthetic_bundle(tmp_path / "bad_golden", golden=wrong)
    with pytest.raises(GoldenMismatch, match="output words differ on 16 of 16 frames"):
        load(b)


def test_a_changed_bundle_file_is_refused(bundle):
    with open(bundle / "golden.npz", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        load(bundle)


def test_targets(bundle):
    with pytest.raises(ValueError, match="target must be one of"):
        load_overlay(bundle, "fpga")
    with pytest.raises(OverlayLoadError, match="no FPGA device"):
        load_overlay(bundle, "board")
    assert load_overlay(bundle, "auto", ip_factory=synthetic_ip).target == "emulator"


@pytest.mark.slow
def test_ten_thousand_calls_leave_buffers_flat(bundle):
    ol = load(bundle)
    stats = ol.device.memory.stats
    x = frames(10)
    ol.classify(x[:1])
    live = (stats.live_buffers, stats.live_bytes, stats.allocations)
    for i in range(10_000):
        ol.classify(x[i % 10 : i % 10 + 1])
    assert (stats.live_buffers, stats.live_bytes, stats.allocations) == live
    ol.close()
    assert stats.live_buffers == live[0] - 2


@pytest.mark.parametrize(
    "option, value",
    [
        ("timeout_s", float("nan")),
        ("timeout_s", float("inf")),
        ("timeout_s", 0),
        ("timeout_s", -1.0),
        ("timeout_s", 1e9),
        ("timeout_s", "2"),
        ("max_batch", 0),
        ("max_batch", 2.5),
        ("cma_budget_bytes", -1),
    ],
)
def test_bad_load_options_are_refused_in_one_line_before_anything_loads(bundle, option, value):
    with pytest.raises(LimitError, match=option) as e:
        load(bundle, **{option: value})
    assert isinstance(e.value, ValueError) and "\n" not in str(e.value)


def test_a_call_from_a_signal_handler_during_a_call_is_refused_not_deadlocked(bundle):
    """The handler runs in the calling thread, which holds the lock: waiting would never end."""
    slow = lambda: FunctionIP(  # noqa: E731 - 2 ms a frame: the call below lasts ~0.4 s
        IN_BEATS, OUT_BEATS, lambda w: (time.sleep(0.002 * len(w)), synthetic_ip().fn(w))[1]
    )
    ol = load_overlay(bundle, "emulator", ip_factory=slow)
    seen = []

    def handler(signum, frame):
        try:
            ol.classify(frames(1))
        except OverlayBusy as e:
            seen.append(e)

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        x = frames(200)
        assert np.array_equal(ol.classify(x), classes_of(x))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(seen) == 1 and "signal handler" in str(seen[0])
    assert ol.clean
    assert np.array_equal(ol.classify(frames(3)), classes_of(frames(3)))  # and it goes on
