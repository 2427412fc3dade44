"""A single-frame call's host work: register accesses and Python calls, counted.

The steady state writes only LENGTH per channel (SA stays where the last
transfer left it) and reads DMASR once per channel; a reset makes the next
transfer write SA again. Every guarantee (deadlines, error bits, recovery) is
tested with the same path in test_board_overlay.py and test_board_recovery.py.
"""

import numpy as np
import pytest
from test_board_fakes import synthetic_ip, synthetic_logits, write_synthetic_bundle

from pynq_mnist.board import load_overlay
from pynq_mnist.board.call_cost import call_cost, single_frame_costs


@pytest.fixture
def ol(tmp_path, monkeypatch):
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    return load_overlay(write_synthetic_bundle(tmp_path / "b"), "emulator", ip_factory=synthetic_ip)


def frames(n, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def right(ol, x):
    return np.array_equal(ol.classify(x), np.argmax(synthetic_logits(x.reshape(len(x), 784)), 1))


def test_a_single_frame_classify_meets_the_targets_and_beats_pynqs_transfer(ol):
    costs = single_frame_costs(ol, frames(1))
    ours, plain = costs["classify"], costs["pynq_transfer_wait"]
    # one DMASR read and at most three writes per channel; in the steady state one (LENGTH)
    assert ours["register_reads"] == 2 and ours["register_writes"] == 2
    assert ours["register_accesses"] <= 7 and ours["python_calls"] <= 25
    # pynq: two DMASR reads and SA, SA_MSB, LENGTH per channel, then wait()'s reads
    assert plain["register_writes"] == 6 and plain["register_reads"] >= 6
    assert right(ol, frames(3, seed=4))  # pynq's own transfer left the overlay working


def test_after_a_reset_the_next_transfer_points_the_channels_again(ol):
    x = frames(1, seed=2)
    ol.classify(x)
    model = ol.device.dmas[ol.dma_name]
    ol.link.reset()
    assert model.mm2s.address == model.s2mm.address == 0  # the reset cleared SA
    first = call_cost(lambda: ol.classify(x), ol.link.mmio)
    assert first["register_writes"] == 6  # SA, SA_MSB, LENGTH per channel: none assumed
    assert model.mm2s.address == ol.buffers(1)[0].physical_address
    assert model.s2mm.address == ol.buffers(1)[1].physical_address
    assert call_cost(lambda: ol.classify(x), ol.link.mmio)["register_writes"] == 2
    assert right(ol, frames(5, seed=6))


def test_the_counter_sees_python_calls_and_leaves_out_the_emulated_device(ol):
    x = frames(1)
    ol.classify(x)
    base = call_cost(lambda: ol.classify(x), ol.link.mmio)["python_calls"]
    assert base >= 10  # classify, execute, the transfer, the polls, the decode ...
    ol.device.dmas[ol.dma_name].ip.fn = lambda w, f=ol.device.dmas[ol.dma_name].ip.fn: f(w)
    assert call_cost(lambda: ol.classify(x), ol.link.mmio)["python_calls"] == base


def test_a_plan_makes_pynqs_checks_once(ol):
    src, dst = ol.buffers(2)
    ol.link.send._max_size = src.nbytes - 1  # pynq's limit, read from the driver
    with pytest.raises(ValueError, match="maximum"):
        ol.link.plan(src, dst)
    ol.link.send._max_size = 1 << 26
    with pytest.raises(ValueError, match="aligned"):
        ol.link.plan(ol.buffers(2)[0][1:], dst)
