"""``pynq-mnist convert RUN --backend rtl``: the student -> Verilog IP -> a verified bundle.

The named stages of :func:`convert_rtl`:

1. **Keras**: the QKeras student's predictions on the test frames;
2. **reference**: the student as integers (:mod:`.network` for the MLP,
   :mod:`.cnn` for the CNN), written as the numpy reference network
   (``network.npz``), whose exact logits are the truth;
3. **da4ml**: the network traced and pipelined into Verilog (:mod:`.trace`; the
   CNN's units, :mod:`.cnn_rtl`); its LUT estimate is held against the budget
   before anything slower runs;
4. **wrap + Yosys**: the AXI-Stream wrapper rendered around it (:mod:`.sources`;
   the CNN's streaming top, :mod:`.cnn_rtl`), the whole IP counted by Yosys
   (:mod:`.yosys`) and held against the budget;
5. **Verilator**: the IP built into a cycle-accurate simulation; every test
   frame streams through it back to back, and its output words must equal the
   reference's in the same word layout, bit for bit. Cycles per frame and
   latency are read from the clocks of the beats;
6. **bundle**: golden vectors, metadata (``ip.backend = "rtl"``), a report.

As for the hls4ml backend, the bundle is built in a staging folder and moved
into place only when everything succeeded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.board.cpu_reference import CpuReference
from pynq_mnist.board.emulator.rtl_sim import (
    LIBRARY_NAME,
    RTLSimulation,
    build_simulation,
    stream_timing,
)
from pynq_mnist.bundle import (
    METADATA_FILE,
    Bundle,
    BundleMetadata,
    Golden,
    InputFormat,
    OutputFormat,
    sha256_file,
    sha256_tree,
    staged_dir,
    wire_bits_for,
    write_metadata,
)
from pynq_mnist.design import PYNQ_Z2, Vlnv
from pynq_mnist.host_training.conversion import wrapper
from pynq_mnist.host_training.conversion.convert import (
    GOLDEN_FRAMES,
    _disagreements,
    _keras_logits,
    _print,
    _student_inputs,
    check_name,
    metadata_head,
)
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl import cnn_rtl, sources, trace, yosys
from pynq_mnist.host_training.conversion.rtl.bound import check_before_da4ml
from pynq_mnist.host_training.conversion.rtl.bounded import run_bounded
from pynq_mnist.host_training.conversion.rtl.cnn import cnn_from_student, write_cnn_network_file
from pynq_mnist.host_training.conversion.rtl.network import mlp_from_student, write_network_file

BACKEND = "rtl"
#: da4ml took up to 13 minutes for the nets in bench/results/rtl.json (2 CPUs).
DA4ML_TIMEOUT_S = 3600
#: Module-reference cells get this VLNV in Vivado's hardware handoff (``.hwh``).
MODULE_REF_VLNV = Vlnv(PYNQ_Z2.timer.vlnv.vendor, "module_ref", wrapper.TOP, "1.0")
FILES = {
    "golden": "golden.npz",
    "rtl": "rtl",
    "emulator": f"emulator/{LIBRARY_NAME}",
    "network": "network.npz",
}


def _stream(sim: RTLSimulation, beats: np.ndarray) -> tuple[np.ndarray, dict]:
    """One back-to-back transfer (TLAST on the last beat): words and measured timing."""
    last = np.zeros(beats.size, dtype=bool)
    last[-1] = True
    sim.stamp_inputs(True)
    sim.push(beats, last)
    sim.run()
    data, flags, cycles = sim.pop_timed()
    in_cycles = sim.pop_input_cycles()
    sim.stamp_inputs(False)
    frames = beats.size // sim.beats_in_per_frame
    if data.size != frames or not flags[-1] or flags[:-1].any():
        raise ConversionError(
            f"the RTL gave {data.size} beats for {frames} frames with TLAST at "
            f"{np.flatnonzero(flags).tolist()[:5]} (expected only at {frames - 1})"
        )
    return data.reshape(frames, 1), stream_timing(in_cycles, cycles, sim.beats_in_per_frame)


def da4ml_memory() -> int:
    """Bytes of address space da4ml may take: three quarters of this machine's memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4


def _da4ml(write, args: tuple):
    """``write(*args)``: da4ml's tracing, in a child bounded in time and memory."""
    return run_bounded(write, args, "da4ml", DA4ML_TIMEOUT_S, da4ml_memory())


@dataclass(frozen=True)
class _Design:
    """What one architecture's generator made in ``rtl/``, for the shared stages."""

    student: Any  # QuantizedMLP or QuantizedCNN
    logit_frac: int  # fraction bits of the logits the RTL computes
    estimate: dict  # da4ml's cost figures (the network alone)
    rtl: dict  # the bundle's ip.rtl facts of the network
    values: Callable[[OutputFormat, int], dict]  # the templates' values, given the word
    write_sources: Callable[[dict, Path], list[Path]]


def _mlp_design(mlp, rtl_dir: Path, input_format: InputFormat) -> _Design:
    net = _da4ml(trace.write_network, (mlp, rtl_dir / "net", input_format.wire_bits))
    return _Design(
        mlp,
        net.logit_frac,
        net.estimate,
        {"pipeline_stages": net.pipeline_stages, "network_latency_cycles": net.latency_cycles},
        lambda fmt, frac: sources.template_values(net, fmt, frac, input_format),
        sources.write_rtl_sources,
    )


def _cnn_design(cnn, rtl_dir: Path, input_format: InputFormat) -> _Design:
    units = _da4ml(cnn_rtl.write_units, (cnn, rtl_dir, input_format.wire_bits))
    every = (*units.convs, units.head)
    estimate = {**units.head.estimate, "lut": units.estimate_lut}
    estimate["ff"] = sum(u.estimate["ff"] for u in every)
    estimate["units"] = {u.module: {k: u.estimate[k] for k in ("lut", "ff")} for u in every}
    return _Design(
        cnn,
        units.head.logit_frac,
        estimate,
        {
            "pipeline_stages": sum(u.pipeline_stages for u in every),
            "network_latency_cycles": sum(u.latency_cycles for u in every),
            "units": [u.module for u in every],
        },
        lambda fmt, frac: cnn_rtl.template_values(cnn, units, fmt, frac, input_format),
        cnn_rtl.write_cnn_sources,
    )


#: Per architecture: the integer student, its reference network file, its RTL.
_ARCHS = {
    "mlp": (mlp_from_student, write_network_file, _mlp_design),
    "cnn": (cnn_from_student, write_cnn_network_file, _cnn_design),
}


def convert_rtl(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    frames: int | None = None,
    progress: Callable[[str], None] = _print,
    lut_budget: int = yosys.LUT_BUDGET,
    name: str | None = None,
    wire_bits: int | None = None,
) -> dict:
    """Convert the MLP or CNN student of ``run_dir`` into the RTL bundle ``out``; return the report.

    Parameters
    ----------
    run_dir, out, data_dir, frames, progress
        As for :func:`pynq_mnist.host_training.conversion.convert.convert`.
    lut_budget : int
        LUTs the IP may take, by da4ml's estimate and by Yosys (default 80% of
        the xc7z020's); over it the conversion stops with the numbers.
    name : str, optional
        The bundle's name (default ``DATASET_ARCH_rtl``, e.g. ``mnist_mlp_rtl``).
    wire_bits : int, optional
        Bits per pixel on the wire (8, 4, 2 or 1; ``bundle.json`` ``input.wire_bits``).
        Default: the narrowest that carries the bits the student reads
        (``student.input_bits``), so the DMA moves no bit the network drops.
    """
    from pynq_mnist.host_training.training.run_dir import STUDENT, load_metrics, load_student
    from pynq_mnist.mnist import load_recorded, slug

    run_dir, out = Path(run_dir), Path(out)
    metrics = load_metrics(run_dir)
    arch = metrics.get("arch")
    if arch not in _ARCHS:
        raise ConversionError(
            f"{run_dir}: the rtl backend converts MLP and CNN students; this run's arch is "
            f"{arch!r} (use --backend hls4ml)"
        )
    from_student, write_reference, design_of = _ARCHS[arch]
    model = load_student(run_dir)
    student = from_student(model)
    check_before_da4ml(student, lut_budget)  # in seconds, not after da4ml's hours
    data = load_recorded(metrics.get("data"), data_dir, f"the run {run_dir}", splits=("test",))
    name = check_name(name or f"{slug(data.name)}_{arch}_{BACKEND}")
    progress(f"dataset {data.name}: {len(data.test_labels)} test frames from {data.source}")
    images, labels = data.test_images[:frames], data.test_labels[:frames]
    input_format = InputFormat(
        wrapper.STREAM_WIDTH_BITS,
        tuple(images.shape[1:]),
        encoding.describe(),
        wire_bits_for(student.input_bits) if wire_bits is None else wire_bits,
    )
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(f"[1/6] Keras predictions on {len(images)} test frames")
    keras_logits = _keras_logits(model, _student_inputs(model, images))

    with staged_dir(out, METADATA_FILE) as stage:
        progress("[2/6] the student as integers: the numpy reference network")
        write_reference(student, stage / FILES["network"])
        reference = CpuReference.from_file(
            stage / FILES["network"], input_format.pixel_frac_bits, wire=input_format
        )
        exact_logits = reference.logits(images)

        progress(f"[3/6] da4ml: {student.nonzero_weights} nonzero weights into pipelined Verilog")
        rtl_dir = stage / FILES["rtl"]
        t_da4ml = time.perf_counter()
        design = design_of(student, rtl_dir, input_format)
        seconds["da4ml_s"] = round(time.perf_counter() - t_da4ml, 1)
        yosys.check_budget(
            design.estimate["lut"], "da4ml's estimate (the network alone)", lut_budget
        )

        progress("[4/6] AXI-Stream wrapper; Yosys synth_xilinx resource counts")
        frac_bits = wrapper.logit_frac_bits(exact_logits, design.logit_frac)
        fmt = wrapper.output_format(len(data.class_names), frac_bits)
        values = design.values(fmt, frac_bits)
        verilog = design.write_sources(values, rtl_dir)
        counts = yosys.synthesize(wrapper.TOP, verilog)
        seconds["yosys_s"] = counts["yosys_s"]
        yosys.check_budget(
            counts["slice_luts"], "Yosys (the whole IP: logic incl. INV, SRL, LUT RAM)", lut_budget
        )

        progress(f"[5/6] Verilator: {len(images)} frames through the RTL, clock by clock")
        t_sim = time.perf_counter()
        build_simulation(rtl_dir, stage / FILES["emulator"])
        seconds["verilator_build_s"] = round(time.perf_counter() - t_sim, 1)
        want = wrapper.words_from_logits(exact_logits, frac_bits)
        beats = input_format.pack(images).view("<u8").astype(np.uint64)
        with RTLSimulation(stage / FILES["emulator"]) as sim:
            t_run = time.perf_counter()
            words, timing = _stream(sim, beats)
            seconds["simulate_s"] = round(time.perf_counter() - t_run, 2)
            # Two frames into the idle IP: its latency when nothing is queued, and
            # the interval however few frames were verified.
            first = beats[: input_format.beats_per_frame]
            _, probe = _stream(sim, np.concatenate([first, first]))
        mismatched = np.flatnonzero((words != want).any(axis=1))
        if mismatched.size:
            raise ConversionError(
                f"the RTL differs from the numpy reference on {mismatched.size} frames "
                f"(first {mismatched[:10].tolist()}): the RTL is not bit-exact"
            )

        progress("[6/6] golden vectors, metadata")
        n_golden = min(GOLDEN_FRAMES, len(images))
        Golden.of(input_format, fmt, images[:n_golden], words[:n_golden]).write(
            stage / FILES["golden"]
        )
        ip_class = fmt.unpack(words)["class"]
        keras_class = np.argmax(keras_logits, axis=1)
        timing["latency_cycles_idle"] = probe["latency_cycles"]
        timing["cycles_per_frame"] = timing["cycles_per_frame"] or probe["cycles_per_frame"]
        meta = BundleMetadata.from_dict(
            {
                **metadata_head(name, data, input_format, fmt),
                "ip": {
                    "backend": BACKEND,
                    "top": wrapper.TOP,
                    "vlnv": str(MODULE_REF_VLNV),
                    "part": PYNQ_Z2.part,
                    "clock_mhz": PYNQ_Z2.fclk0_mhz,
                    "target_ii_cycles": timing["cycles_per_frame"],
                    "target_ii_basis": (
                        "measured: Verilator simulation of this RTL, median clocks between "
                        f"the output beats of {max(2, len(images))} back-to-back frames"
                    ),
                    "latency_cycles": timing["latency_cycles"],
                    "timing": timing,
                    "ports": asdict(PYNQ_Z2.ip_ports),
                    "rtl": {
                        **design.rtl,
                        "fifo_depth": values["fifo_depth"],
                        "sources": sorted(str(p.relative_to(stage)) for p in verilog),
                    },
                    "resources": {
                        "yosys": {k: v for k, v in counts.items() if k != "cells"},
                        "yosys_cells": counts["cells"],
                        "da4ml_estimate": design.estimate,
                        "lut_budget": lut_budget,
                    },
                    "tool_seconds": seconds,
                },
                "dma": {"length_width_bits": PYNQ_Z2.dma_length_width_bits},
                "model": {
                    "arch": arch,
                    "run_dir": str(run_dir.resolve()),
                    "student_sha256": sha256_file(run_dir / STUDENT),
                    "nonzero_weights": student.nonzero_weights,
                    "logit_frac_bits_on_chip": design.logit_frac,
                },
                "accuracy": {
                    "frames": int(len(images)),
                    "keras": float(np.mean(keras_class == labels)),
                    "emulated": float(np.mean(ip_class == labels)),
                    "agreement": float(np.mean(ip_class == keras_class)),
                    "reference_bit_exact": True,
                    "run_metrics_test_accuracy": metrics.get("student", {}).get("test_accuracy"),
                    "disagreements": _disagreements(keras_logits, exact_logits),
                },
                "files": dict(FILES),
                "sha256": {rel: sha256_tree(stage / rel) for rel in FILES.values()},
            },
            source="conversion",
        )
        write_metadata(stage, meta)
    seconds["convert_s"] = round(time.perf_counter() - t0, 1)
    report = _report(meta, seconds)
    progress(format_report(report))
    Bundle(out)  # read back: the bundle on disk validates
    return report


def _report(meta: BundleMetadata, seconds: dict) -> dict:
    acc, ip = meta.accuracy, meta.ip
    return {
        "name": meta.name,
        "arch": meta.model["arch"],
        "backend": BACKEND,
        "frames": acc["frames"],
        "keras_accuracy": acc["keras"],
        "emulated_accuracy": acc["emulated"],
        "agreement": acc["agreement"],
        "disagreements": acc["disagreements"]["count"],
        "reference_bit_exact": acc["reference_bit_exact"],
        "nonzero_weights": meta.model["nonzero_weights"],
        "wire_bits": meta.input.wire_bits,
        "bytes_per_frame": meta.input.bytes_per_frame,
        "cycles_per_frame": ip["target_ii_cycles"],
        "latency_cycles": ip["latency_cycles"],
        "latency_cycles_idle": ip["timing"]["latency_cycles_idle"],
        "pipeline_stages": ip["rtl"]["pipeline_stages"],
        "yosys": ip["resources"]["yosys"],
        "da4ml_estimate": ip["resources"]["da4ml_estimate"],
        "logit_frac_bits": meta.output.field("logits").frac_bits,
        "seconds": seconds,
    }


def format_report(r: dict) -> str:
    """The report printed at the end of ``pynq-mnist convert --backend rtl``."""
    y, e = r["yosys"], r["da4ml_estimate"]
    return "\n".join(
        [
            f"converted {r['name']} ({r['arch']}, RTL: da4ml + our AXI-Stream wrapper) "
            f"on {r['frames']} test frames",
            f"  Keras (QKeras) accuracy   {100 * r['keras_accuracy']:.2f} %",
            f"  RTL simulation accuracy   {100 * r['emulated_accuracy']:.2f} %   "
            f"(bit-exact with the numpy reference: {r['reference_bit_exact']})",
            f"  argmax agreement          {100 * r['agreement']:.2f} %   "
            f"({r['disagreements']} frames differ)",
            f"  nonzero weights           {r['nonzero_weights']}",
            f"  wire                      {r['wire_bits']} bits a pixel, "
            f"{r['bytes_per_frame']} bytes a frame",
            f"  cycles per frame          {r['cycles_per_frame']} (measured in Verilator)",
            f"  latency                   {r['latency_cycles']} cycles from the last input beat "
            f"({r['latency_cycles_idle']} idle; {r['pipeline_stages']} network stages)",
            f"  Yosys (xc7, no P&R)       LUT {y['lut']} (incl. INV {y['inv']}; "
            f"{y['slice_luts']} with SRL and LUT RAM), FF {y['ff']}, CARRY4 {y['carry4']}, "
            f"DSP {y['dsp']}, BRAM {y['bram']:g}",
            f"  da4ml estimate (net)      LUT {e['lut']}, FF {e['ff']}",
            "  tool seconds              "
            + ", ".join(f"{k[:-2]} {v}" for k, v in r["seconds"].items()),
        ]
    )
