"""The latency counter driver reads the stream_timer's registers (here a register stand-in)."""

import pytest
from test_board_fakes import synthetic_ip

from pynq_mnist.board.emulator.device import EmulatedDevice
from pynq_mnist.board.latency_counter import LatencyCounter, LatencyCounterError

INFO = {  # what build-overlay records in bundle.json build["latency_counter"]
    "instance": "stream_timer_0",
    "base_address": "0x43C00000",
    "id": "0x53544D52",
    "registers": {
        "id": "0x00",
        "cycles": "0x04",
        "runs": "0x08",
        "in_beats": "0x0C",
        "out_beats": "0x10",
        "busy": "0x14",
    },
}


class TimerRegisters:
    """stream_timer's read-only register file after one 98-beat run of 1,234 cycles."""

    def __init__(self, ident=0x53544D52):
        self.values = {0x00: ident, 0x04: 1234, 0x08: 1, 0x0C: 98, 0x10: 1, 0x14: 0}

    def read(self, offset):
        return self.values.get(offset, 0)

    def write(self, offset, value):
        pass


class FakeOverlay:
    def __init__(self, device, ip_dict):
        self.device, self.ip_dict = device, ip_dict


def test_reads_the_last_run_at_the_hwh_address():
    dev = EmulatedDevice(synthetic_ip)
    dev.map(0x43C10000, 0x1000, TimerRegisters())  # the .hwh address wins over bundle.json's
    overlay = FakeOverlay(dev, {"hier/stream_timer_0": {"phys_addr": 0x43C10000}})
    counter = LatencyCounter(overlay, INFO)
    assert counter.last_run() == {"cycles": 1234, "in_beats": 98, "out_beats": 1, "runs": 1}


def test_a_wrong_id_is_refused():
    dev = EmulatedDevice(synthetic_ip)
    dev.map(0x43C00000, 0x1000, TimerRegisters(ident=0x12345678))
    with pytest.raises(LatencyCounterError, match="0x12345678"):
        LatencyCounter(FakeOverlay(dev, {}), INFO)
