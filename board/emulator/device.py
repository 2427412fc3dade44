"""The emulated PYNQ-Z2: a :class:`pynq.Device` whose registers are models.

With the ``REGISTER_RW`` capability the real :class:`pynq.MMIO` sends every
register access to :meth:`EmulatedDevice.read_registers` /
:meth:`~EmulatedDevice.write_registers`, so the real
:class:`pynq.lib.dma.DMA` driver and a real :class:`pynq.Overlay` run
unchanged. ``download`` parses the ``.hwh`` as pynq does on the board and puts
an :class:`~.axi_dma.AxiDmaModel` at each AXI DMA's address, wired to an IP model,
and an :class:`~.axi_gpio.AxiGpioModel` at the IP reset GPIO's, wired as the block
design wires it: its bit, ANDed with the system reset, is the IP's active-low reset.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pynq
from pynq.pl_server.device import Device

from pynq_mnist.design import PYNQ_Z2

from .axi_dma import AxiDmaModel, IPModel
from .axi_gpio import AxiGpioModel
from .clocks import install_emulated_clocks
from .memory import CMA_BYTES, EmulatedMemory
from .stream_timer import StreamTimerModel

BOARD_NAME = "Pynq-Z2 (emulated)"
DMA_TYPE = PYNQ_Z2.dma.vlnv.type_prefix


class EmulatedDevice(Device):
    """A PYNQ-Z2 without the board: CMA memory, AXI DMA registers, an IP model.

    Parameters
    ----------
    ip_factory : callable
        Makes the IP model behind each DMA (``IPLibrary.for_bundle`` or a test double).
    cma_bytes : int
        Size of the emulated CMA pool.

    Attributes
    ----------
    dmas : dict
        ``{ip_dict name: AxiDmaModel}`` after a download; tests inject faults there.
    ip_reset : AxiGpioModel or None
        The IP reset GPIO, when the design has one.
    memory : EmulatedMemory
        The allocator; ``memory.stats`` counts buffers, bytes, flushes, invalidates.
    """

    def __init__(self, ip_factory: Callable[[], IPModel], cma_bytes: int = CMA_BYTES):
        super().__init__("emulated_pynq_z2")
        self.name = BOARD_NAME
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.memory = EmulatedMemory(self, cma_bytes)
        self.dmas: dict[str, AxiDmaModel] = {}
        self.ip_reset: AxiGpioModel | None = None
        self._windows: list[tuple[int, int, AxiDmaModel]] = []
        self._ip_factory = ip_factory
        self.timestamp = ""
        self.bitfile_name = ""
        install_emulated_clocks()

    def activate(self) -> EmulatedDevice:
        """Make this the device ``pynq.allocate`` and ``pynq.Overlay`` use by default."""
        Device.active_device = self
        return self

    # ------------------------------------------------------------------ pynq Device API

    @property
    def default_memory(self) -> EmulatedMemory:
        return self.memory

    def get_bitfile_metadata(self, bitfile_name: str, partial: bool = False):
        """The ``.hwh`` beside ``bitfile_name``, parsed by pynq's own metadata parser."""
        from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
        from pynqmetadata.frontends import Metadata

        hwh = Path(bitfile_name).with_suffix(".hwh")
        if not hwh.is_file():
            raise RuntimeError(f"Unable to find metadata for bitstream: no {hwh}")
        return RuntimeMetadataParser(Metadata(input=hwh))

    def download(self, bitstream, parser=None) -> None:
        """'Configure the PL': put a DMA model at every AXI DMA of the design."""
        self.dmas.clear()
        self._windows.clear()
        for name, ip in parser.ip_dict.items():
            if str(ip.get("type", "")).startswith(DMA_TYPE):
                p = ip["parameters"]
                model = AxiDmaModel(
                    self.memory,
                    self._ip_factory(),
                    int(p["c_sg_length_width"]),
                    int(p["c_m_axis_mm2s_tdata_width"]) // 8,
                    int(p["c_s_axis_s2mm_tdata_width"]) // 8,
                    PYNQ_Z2.fclk0_mhz,
                )
                self.dmas[name] = model
                self.map(ip["phys_addr"], ip["addr_range"], model)
        self.ip_reset = None
        gpio = parser.ip_dict.get(PYNQ_Z2.ip_reset.path)
        if gpio is not None and gpio.get("type") == str(PYNQ_Z2.ip_reset.vlnv):
            p = gpio["parameters"]
            self.ip_reset = AxiGpioModel(
                int(p["C_GPIO_WIDTH"]), int(p["C_DOUT_DEFAULT"], 16), self._drive_ip_reset
            )
            self.map(gpio["phys_addr"], gpio["addr_range"], self.ip_reset)
        timer = parser.ip_dict.get(PYNQ_Z2.timer.path)
        if timer is not None and timer.get("type") == str(PYNQ_Z2.timer.vlnv):
            self.add_timer(timer["phys_addr"], timer["addr_range"])
        self.post_download(bitstream, parser, self.name)

    def add_timer(self, base: int, size: int) -> StreamTimerModel:
        """A latency counter on the IP's streams of every DMA, its registers at ``base``."""
        model = StreamTimerModel()
        for dma in self.dmas.values():
            dma.timer = model
        self.map(base, size, model)
        return model

    def _drive_ip_reset(self, bits: int) -> None:
        """The GPIO's bit 0 is the IP's active-low reset (ANDed with the system reset)."""
        for model in self.dmas.values():
            model.set_ip_reset(not bits & 1)

    def map(self, base: int, size: int, model) -> None:
        """Put a register model (``read(offset)``, ``write(offset, value)``) at ``base``."""
        self._windows.append((base, size, model))

    def gen_cache(self, bitstream, parser=None) -> None:
        """Nothing to cache: the emulated board parses the ``.hwh`` each load."""

    def _window(self, address: int):
        for base, size, model in self._windows:
            if base <= address < base + size:
                return model, address - base
        raise RuntimeError(f"emulated bus error: nothing is mapped at 0x{address:08x}")

    def read_registers(self, address: int, length: int) -> bytes:
        model, offset = self._window(address)
        return b"".join(
            struct.pack("<I", model.read(offset + k) & 0xFFFFFFFF) for k in range(0, length, 4)
        )

    def write_registers(self, address: int, data: bytes) -> None:
        model, offset = self._window(address)
        for k in range(0, len(data), 4):
            model.write(offset + k, struct.unpack_from("<I", data, k)[0])

    def flush(self, bo, offset, ptr, size) -> None:
        self.memory.flush(bo, offset, size)

    def invalidate(self, bo, offset, ptr, size) -> None:
        self.memory.invalidate(bo, offset, size)

    def close(self) -> None:
        """Nothing to release."""


def real_board_present() -> bool:
    """True where pynq finds an FPGA device (on a PYNQ board), without warnings."""
    import warnings

    if os.environ.get("PYNQ_MNIST_FORCE_EMULATOR"):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return len(pynq.Device.devices) > 0
        except Exception:
            return False
