"""The emulated board's model of a bundle's IP, chosen by the bundle's backend.

``hls``: the IP's HLS C++ compiled with g++ (:class:`.iplib.IPLibrary`);
``rtl``: the IP's Verilog simulated clock by clock with Verilator
(:class:`.rtl_sim.RTLSimulation`). Both have the DMA model's ``IPModel`` API.
"""

from __future__ import annotations

from pynq_mnist.bundle import Bundle, BundleError

from .axi_dma import IPModel


def ip_model_for_bundle(bundle: Bundle) -> IPModel:
    """A fresh IP model of ``bundle`` for the emulated DMA."""
    backend = bundle.metadata.backend
    if backend == "rtl" and bundle.metadata.model["arch"] != "mlp":
        # Driven through the DMA model, the RTL CNN's simulation was seen not to return
        # (its convert-time check, which drives it directly, passes): refused, not hung.
        raise BundleError(
            f"{bundle.path}: the emulated board does not run an RTL {bundle.metadata.model['arch']} "
            "IP yet (its bit-exactness is checked at conversion); emulate an hls bundle of it"
        )
    if backend == "rtl":
        from .rtl_sim import RTLSimulation

        return RTLSimulation.for_bundle(bundle)
    if backend == "hls":
        from .iplib import IPLibrary

        return IPLibrary.for_bundle(bundle)
    raise BundleError(f"{bundle.path}: unknown IP backend {backend!r} (expected hls or rtl)")
