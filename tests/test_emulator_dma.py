"""The AXI DMA register model, driven by pynq's real DMA driver through a real Overlay."""

import time

import numpy as np
import pynq
import pytest
from test_board_fakes import synthetic_ip, synthetic_metadata, synthetic_words

from pynq_mnist.board.emulator import axi_dma
from pynq_mnist.board.emulator.device import EmulatedDevice
from pynq_mnist.board.emulator.hwh import emulated_hwh
from pynq_mnist.design import PYNQ_Z2


@pytest.fixture
def board(tmp_path):
    """(overlay, dma driver, dma model, device) for the synthetic design."""
    meta = synthetic_metadata()
    (tmp_path / "d.hwh").write_text(emulated_hwh(meta))
    (tmp_path / "d.bit").write_text("placeholder")
    dev = EmulatedDevice(synthetic_ip)
    ol = pynq.Overlay(str(tmp_path / "d.bit"), device=dev)
    name = PYNQ_Z2.dma.path
    return ol, getattr(ol, name), dev.dmas[name], dev


def frames(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 784), dtype=np.uint8)


def buffers(dev, n):
    src = pynq.allocate((n * 784,), np.uint8, target=dev)
    dst = pynq.allocate((n,), np.uint64, target=dev)
    return src, dst


def test_pynq_driver_streams_frames_through_the_model(board):
    ol, dma, model, dev = board
    assert type(dma).__module__ == "pynq.lib.dma" and ol.is_loaded()
    x = frames(5)
    src, dst = buffers(dev, 5)
    src[:] = x.reshape(-1)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait()
    dma.recvchannel.wait()
    assert np.array_equal(dst, synthetic_words(x)[:, 0])
    assert dma.recvchannel.transferred == 5 * 8
    assert model.read(axi_dma.S2MM + axi_dma.DMASR) & axi_dma.IDLE


def test_a_channel_starts_halted_and_runs_after_rs(board):
    _, dma, model, _ = board
    model.reset()
    while model.read(axi_dma.DMACR) & axi_dma.RESET:
        pass
    assert model.read(axi_dma.DMASR) == axi_dma.HALTED
    dma.sendchannel.start()
    assert dma.sendchannel.running and not dma.sendchannel.idle


def test_without_flush_the_dma_reads_stale_memory(board):
    _, dma, _, dev = board
    x = frames(1)
    src, dst = buffers(dev, 1)
    src[:] = x.reshape(-1)
    dma.recvchannel.transfer(dst)
    dma.sendchannel._flush_before = False  # a driver that forgets to flush
    dma.sendchannel.transfer(src)
    dma.recvchannel.wait()
    assert np.array_equal(dst, synthetic_words(np.zeros_like(x))[:, 0])


@pytest.mark.parametrize(
    "setup, bit",
    [
        ("zero_length", axi_dma.INT_ERR),
        ("unmapped", axi_dma.DEC_ERR),
        ("short_s2mm", axi_dma.INT_ERR),
    ],
)
def test_errors_set_dmasr_bits_and_halt(board, setup, bit):
    _, dma, model, dev = board
    src, dst = buffers(dev, 2)
    if setup == "zero_length":
        model.write(axi_dma.MM2S + axi_dma.LENGTH, 0)
        ch = axi_dma.MM2S
    elif setup == "unmapped":
        model.write(axi_dma.MM2S + axi_dma.SA, 0x0100_0000)
        model.write(axi_dma.MM2S + axi_dma.LENGTH, 784)
        ch = axi_dma.MM2S
    else:  # two frames into a one-frame S2MM buffer: the second beat overflows LENGTH
        dma.recvchannel.transfer(dst, nbytes=4)
        dma.sendchannel.transfer(src)
        ch = axi_dma.S2MM
    status = model.read(ch + axi_dma.DMASR)
    assert status & bit and status & axi_dma.HALTED and status & axi_dma.ERR_IRQ
    assert not model.read(ch + axi_dma.DMACR) & axi_dma.RS


def test_missing_tlast_keeps_s2mm_busy_until_reset(board):
    _, dma, model, dev = board
    model.faults.drop_tlast = True
    src, dst = buffers(dev, 3)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.idle and not dma.recvchannel.idle and not dma.recvchannel.error
    model.write(axi_dma.DMACR, axi_dma.RESET)
    assert model.read(axi_dma.S2MM + axi_dma.DMASR) == axi_dma.HALTED
    assert model.read(axi_dma.DMACR) & axi_dma.RESET == 0


def test_beats_after_a_tlast_wait_for_the_next_transfer(board):
    _, dma, _, dev = board
    x = frames(4, seed=3)
    src, dst = buffers(dev, 4)
    src[:] = x.reshape(-1)
    # two MM2S transfers of two frames each, then two S2MM transfers
    dma.sendchannel.transfer(src, nbytes=2 * 784)
    dma.sendchannel.wait()
    dma.sendchannel.transfer(src, start=2 * 784, nbytes=2 * 784)
    dma.sendchannel.wait()
    for k in range(2):
        dma.recvchannel.transfer(dst, start=16 * k, nbytes=32)
        dma.recvchannel.wait()
        assert dma.recvchannel.transferred == 16
    assert np.array_equal(dst, synthetic_words(x)[:, 0])


def test_buffers_are_pynq_buffers_and_free_back(board):
    _, _, _, dev = board
    before = dev.memory.stats.live_buffers
    buf = pynq.allocate((100,), np.uint32, target=dev)
    assert isinstance(buf, pynq.buffer.PynqBuffer) and buf.physical_address % 4096 == 0
    assert dev.memory.stats.live_buffers == before + 1
    buf.freebuffer()
    del buf
    assert dev.memory.stats.live_buffers == before


def test_a_soft_reset_drains_the_s2mm_side_for_its_shutdown_and_takes_its_time(board):
    """PG022: during the soft shutdown S2MM takes and discards the IP's output, one beat
    a cycle; what the shutdown does not reach stays in the IP. DMACR.Reset reads 1
    and writes are ignored until the modelled time has passed."""
    _, _, model, _ = board
    words = synthetic_ip().in_beats
    model.ip.push(np.zeros(40 * words, np.uint64), np.arange(40 * words) == 40 * words - 1)
    model.ip.run()
    assert model.ip.pending_output() == 40
    model.reset_s = 0.05
    model.write(axi_dma.DMACR, axi_dma.RESET)
    assert model.drained_beats == axi_dma.SHUTDOWN_CYCLES
    assert model.ip.pending_output() == 40 - axi_dma.SHUTDOWN_CYCLES
    assert model.read(axi_dma.DMACR) & axi_dma.RESET
    model.write(axi_dma.DMACR, axi_dma.RS)  # during the reset: ignored
    assert model.read(axi_dma.DMASR) & axi_dma.HALTED
    time.sleep(0.06)
    assert not model.read(axi_dma.DMACR) & axi_dma.RESET


def test_an_mm2s_shutdown_against_an_ip_in_reset_lasts_until_its_release(board):
    _, dma, model, dev = board
    model.faults.mm2s_stall_after_beats = 10  # an MM2S transfer in flight
    src, dst = buffers(dev, 2)
    dma.sendchannel.transfer(src)
    model.set_ip_reset(True)
    model.write(axi_dma.DMACR, axi_dma.RESET)
    time.sleep(10 * model.reset_s)
    assert model.read(axi_dma.DMACR) & axi_dma.RESET
    assert model.drained_beats == 0  # the IP in reset offers nothing to drain
    model.set_ip_reset(False)
    time.sleep(2 * model.reset_s)
    assert not model.read(axi_dma.DMACR) & axi_dma.RESET
