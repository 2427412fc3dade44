"""Host-side driver overhead per frame: pynq-mnist's driver vs hls4ml's generated one.

Both drivers run on the same emulated board (the register-level AXI DMA model
under pynq's real ``DMA`` driver) and classify the same MNIST test frames:

- ours: ``MnistOverlay.classify(uint8 frames)``: packed uint8 stream, 64-bit beats;
- theirs: hls4ml 1.3.0's ``NeuralNetworkOverlay`` from the VivadoAccelerator
  template ``pynq-z2/python_drivers/axi_stream_driver.py``, loaded from hls4ml's
  installed files unchanged. Its design streams one float32 per 32-bit beat, so
  its emulated ``.hwh`` has 32-bit streams and its IP model takes 784 float
  beats and gives 10 float beats per frame (TLAST at the end, as hls4ml's
  wrapper does).

The device's answers are the bundle's IP's: its compiled library runs every
frame once, and both IP models then replay those answers (ours as the output
words, theirs decoded to float logits, the IP's argmax breaking ties of equal
6-bit logits by half a step, as full-precision float logits would), so both
drivers give the same classes and the emulated compute stays small enough to
subtract precisely and to repeat each run (the median is reported).

Overhead = wall time - device time, where device time is everything the
emulated PL does (``AxiDmaModel.busy_s``: reading the source buffer, the IP's
computation, writing the destination). What is left is what the host does:
input conversion, copies, cache flush/invalidate, register accesses, waiting
logic, output decoding. Their path starts from the same uint8 frames and ends
at class indices, so it includes the float32 encoding and argmax that their
driver leaves to the caller; their ``predict`` alone is reported as well.
Times are host timings on the emulated board, never board timings.

The single-frame mode also counts one call's host work (``board/call_cost.py``):
``register_accesses`` (the same on the board) and ``python_calls`` (those that
would also run on the board: the emulated device and pynq's register transport
left out), for our ``classify``, for pynq's plain ``transfer()`` + ``wait()`` of
the same buffers (``pynq_transfer_wait``), and for hls4ml's ``predict``.

Usage::

    python bench/driver.py BUNDLE [--data DIR] [--frames 10000] [--single-frames 1000]
                                  [--out bench/results/driver.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from record import emulated_timings, header  # noqa: E402  (bench/ is sys.path[0])

HLS4ML_DRIVER = "templates/vivado_accelerator/pynq-z2/python_drivers/axi_stream_driver.py"
FLOAT_BITS = 32


def hls4ml_design():
    """hls4ml's PYNQ-Z2 block design: our design's PS and DMA, laid out as hls4ml does.

    hls4ml's ``pynq-z2/tcl_scripts/axi_stream_design.tcl`` groups ``axi_dma_0`` and
    ``myproject_axi_0`` (ports ``in_r``/``out_r``) in ``hier_0``, with 256-beat bursts;
    its driver reaches the DMA as ``hier_0.axi_dma_0``.
    """
    from dataclasses import replace

    from pynq_mnist.design import PYNQ_Z2, Cell, IpPorts, Vlnv

    return replace(
        PYNQ_Z2,
        dma=replace(PYNQ_Z2.dma, path=f"hier_0/{PYNQ_Z2.dma.instance}"),
        ip=Cell("hier_0/myproject_axi_0", Vlnv("xilinx.com", "hls", "myproject_axi", "1.0")),
        ip_ports=IpPorts(input="in_r", output="out_r"),
        dma_burst_size=256,
    )


def hls4ml_overlay_class() -> type:
    """``NeuralNetworkOverlay`` from hls4ml's installed template (hls4ml itself is not imported)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("hls4ml is not installed: pip install hls4ml==1.3.0")
    path = Path(list(spec.submodule_search_locations)[0]) / HLS4ML_DRIVER
    module_spec = importlib.util.spec_from_file_location("hls4ml_axi_stream_driver", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.NeuralNetworkOverlay


def run_frames(ip, words: np.ndarray) -> np.ndarray:
    """Whole frames ``(N, beats in)`` through an IP model in one transfer: output words."""
    last = np.zeros(words.size, dtype=bool)
    last[-1] = True
    ip.push(np.ascontiguousarray(words, dtype=np.uint64).reshape(-1), last)
    ip.run()
    data, _ = ip.pop(ip.pending_output())
    return data.reshape(len(words), -1)


def record_answers(meta, frames: np.ndarray, ip_factory) -> dict[bytes, np.ndarray]:
    """The IP's output words for each frame (by its packed bytes), from one run of the IP."""
    packed = meta.input.pack(frames).view("<u8").reshape(len(frames), -1)
    words = run_frames(ip_factory(), packed)
    return {row.tobytes(): w for row, w in zip(packed, words, strict=True)}


def replay_ip(meta, answers: dict[bytes, np.ndarray]):
    """Our stream format: packed pixel beats in, the recorded output words out."""
    from pynq_mnist.board.emulator.stream_ip import FunctionIP

    if meta.output.stream_width_bits != 64:
        raise SystemExit("the replay IP models 64-bit output beats only")

    def network(beats: np.ndarray) -> np.ndarray:
        return np.stack([answers[row.tobytes()] for row in beats])

    return FunctionIP(meta.input.beats_per_frame, meta.output.beats_per_frame, network)


def float_stream_ip(meta, answers: dict[bytes, np.ndarray]):
    """hls4ml's stream format on the recorded answers: float32 pixels in, float32 logits out."""
    from pynq_mnist.board.emulator.stream_ip import FunctionIP

    logits, klass = meta.output.field("logits"), meta.output.field("class")
    n_pix = meta.input.pixels_per_frame
    half_step = 2.0 ** -(logits.frac_bits + 1)

    def network(beats: np.ndarray) -> np.ndarray:
        pixels = beats.astype(np.uint32).view(np.float32).reshape(len(beats), n_pix)
        raw = meta.input.pixel.from_network_input(pixels).view("<u8").reshape(len(beats), -1)
        words = np.stack([answers[row.tobytes()] for row in raw])
        out = logits.value(logits.extract(words)).astype(np.float32)
        out[np.arange(len(out)), klass.extract(words)[:, 0]] += half_step
        return out.view(np.uint32).astype(np.uint64)

    return FunctionIP(n_pix, logits.count, network)


def device_seconds(device) -> float:
    return sum(dma.busy_s for dma in device.dmas.values())


def _timed(device, fn) -> tuple[float, float, object]:
    busy0, t0 = device_seconds(device), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, device_seconds(device) - busy0, out


def _row(wall: float, device: float, frames: int) -> dict:
    return {
        "wall_s": wall,
        "device_s": device,
        "host_overhead_s": wall - device,
        "host_overhead_us_per_frame": (wall - device) / frames * 1e6,
    }


def _in_calls(classify, frames: np.ndarray, batch: int) -> np.ndarray:
    """Classes of ``frames`` from calls of ``batch`` frames each."""
    return np.concatenate([classify(frames[i : i + batch]) for i in range(0, len(frames), batch)])


def _median(runs: list[dict]) -> dict:
    """The run with the median host overhead, with every run's overhead beside it."""
    best = sorted(runs, key=lambda r: r["host_overhead_s"])[len(runs) // 2]
    return {**best, "repeats_us_per_frame": [r["host_overhead_us_per_frame"] for r in runs]}


def run_ours(bundle, images, batch: int, answers, repeats: int) -> tuple[dict, np.ndarray]:
    """``MnistOverlay.classify`` on uint8 frames, ``batch`` frames a call."""
    from pynq_mnist.board.call_cost import single_frame_costs
    from pynq_mnist.board.overlay import load_overlay

    meta = bundle.metadata
    ours = load_overlay(
        bundle, "emulator", ip_factory=lambda: replay_ip(meta, answers), max_batch=batch
    )
    ours.classify(images[:batch])  # warm-up (first touch of the buffers), not timed
    cost = single_frame_costs(ours, images[:1]) if batch == 1 else None
    runs = []
    for _ in range(repeats):
        ours.timer.clear()
        wall, dev, classes = _timed(ours.device, lambda: _in_calls(ours.classify, images, batch))
        row = _row(wall, dev, len(images))
        row["stages_us_per_frame"] = {k: v * 1e6 for k, v in ours.timer.per_frame().items()}
        runs.append(row)
    ours.close()
    if cost is None:
        return _median(runs), classes
    counts = {k: cost["classify"][k] for k in ("register_accesses", "python_calls")}
    return {**_median(runs), **counts, "pynq_transfer_wait": cost["pynq_transfer_wait"]}, classes


def run_hls4ml(
    bundle, bit: Path, images, batch: int, answers, repeats: int
) -> tuple[dict, np.ndarray]:
    """hls4ml's ``NeuralNetworkOverlay.predict`` on float32 frames, ``batch`` frames a call.

    Timed from uint8 frames to classes (the float encoding and argmax its caller
    must do, included) and, within the same run, ``predict`` alone.
    """
    from pynq_mnist.board.call_cost import call_cost
    from pynq_mnist.board.emulator.device import EmulatedDevice

    meta = bundle.metadata
    flat = images.reshape(len(images), -1)
    device = EmulatedDevice(lambda: float_stream_ip(meta, answers)).activate()
    theirs = hls4ml_overlay_class()(str(bit), (batch, flat.shape[1]), (batch, len(meta.classes)))
    if theirs.device is not device:
        raise RuntimeError("hls4ml's driver must run on the emulated board")
    predict_only = [0.0, 0.0]  # wall, device

    def classify(x: np.ndarray) -> np.ndarray:
        encoded = meta.input.pixel.to_network_input(x)
        wall, dev, out = _timed(device, lambda: theirs.predict(encoded))
        predict_only[0] += wall
        predict_only[1] += dev
        return np.argmax(out, axis=1)

    classify(flat[:batch])  # warm-up, not timed
    counts = {}
    if batch == 1:
        encoded = meta.input.pixel.to_network_input(flat[:1])
        cost = call_cost(lambda: theirs.predict(encoded), theirs.sendchannel._mmio)
        counts = {k: cost[k] for k in ("register_accesses", "python_calls")}
    runs = []
    for _ in range(repeats):
        predict_only[:] = [0.0, 0.0]
        wall, dev, classes = _timed(device, lambda: _in_calls(classify, flat, batch))
        row = _row(wall, dev, len(images))
        row["predict_only"] = _row(*predict_only, len(images))
        runs.append(row)
    theirs.input_buffer.freebuffer()
    theirs.output_buffer.freebuffer()
    return {**_median(runs), **counts}, classes


def run_comparison(
    bundle,
    images: np.ndarray,
    ip_factory=None,
    single_frames: int | None = None,
    repeats: int = 5,
) -> dict:
    """Both drivers on ``images`` (uint8 ``(N, 28, 28)``): all in one call, then one call a frame.

    ``single_frames`` limits the one-call-a-frame mode to the first frames (the
    emulated IP's compute is slow; the overhead per frame does not depend on N).
    """
    from pynq_mnist.board.emulator.hwh import design_hwh

    meta = bundle.metadata
    if ip_factory is None:
        from pynq_mnist.board.emulator.iplib import IPLibrary

        def ip_factory():
            return IPLibrary.for_bundle(bundle)

    work = Path(tempfile.mkdtemp(prefix="hls4ml-float-overlay-"))
    bit = work / "hls4ml_float.bit"
    bit.write_text("EMULATED placeholder bitstream\n")
    hwh = design_hwh(
        hls4ml_design(),
        "hls4ml_float",
        FLOAT_BITS,
        FLOAT_BITS,
        int(meta.dma["length_width_bits"]),
        float(meta.ip["clock_mhz"]),
    )
    (work / "hls4ml_float.hwh").write_text(hwh)
    results = {}
    golden, _ = bundle.golden()  # the self-test at load replays these too
    answers = record_answers(
        meta, np.concatenate([images.reshape(len(images), -1), golden]), ip_factory
    )
    single = images[:single_frames]
    for mode, batch, x in (("batch", len(images), images), ("single_frame", 1, single)):
        ours, classes = run_ours(bundle, x, batch, answers, repeats)
        theirs, their_classes = run_hls4ml(bundle, bit, x, batch, answers, repeats)
        results[mode] = {
            "frames": len(x),
            "calls": -(-len(x) // batch),
            "repeats": repeats,
            "frames_per_call": batch,
            "ours": ours,
            "hls4ml": theirs,
            "same_classes": bool(np.array_equal(classes, their_classes)),
            "ratio_ours_to_hls4ml": ours["host_overhead_s"] / theirs["host_overhead_s"],
            "ratio_ours_to_hls4ml_predict_only": ours["host_overhead_s"]
            / theirs["predict_only"]["host_overhead_s"],
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="overlay bundle name or folder")
    parser.add_argument("--data", help="MNIST folder (default $PYNQ_MNIST_DATA, else download)")
    parser.add_argument("--frames", type=int, default=10_000, help="frames of the batch run")
    parser.add_argument(
        "--single-frames", type=int, default=1000, help="frames of the one-call-a-frame run"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "driver.json"))
    args = parser.parse_args(argv)

    from pynq_mnist.atomic import write_text_atomic
    from pynq_mnist.mnist import load_mnist
    from pynq_mnist.overlays import locate

    bundle = locate(args.bundle)
    images = load_mnist(args.data).test_images[: args.frames]
    results = run_comparison(bundle, images, single_frames=args.single_frames, repeats=args.repeats)
    argv = sys.argv[1:] if argv is None else argv
    report = {
        **header("driver.py", argv),
        "what": "host-side driver overhead per frame (wall time minus emulated device time)",
        "timings": emulated_timings(),
        "bundle": bundle.metadata.name,
        "target": "ours <= 1/4 of hls4ml's (ratio_ours_to_hls4ml <= 0.25, batch mode)",
        "met": results["batch"]["ratio_ours_to_hls4ml"] <= 0.25,
        "method": (__doc__ or "").split("Usage::")[0].strip(),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    one = results["single_frame"]
    print(
        "single-frame call: ours {register_accesses} register accesses, {python_calls} Python "
        "calls".format(**one["ours"])
        + "; pynq transfer()+wait() {register_accesses}, {python_calls}".format(
            **one["ours"]["pynq_transfer_wait"]
        )
        + "; hls4ml predict {register_accesses}, {python_calls}".format(**one["hls4ml"])
    )
    for mode, r in results.items():
        print(
            f"{mode:>12}: ours {r['ours']['host_overhead_us_per_frame']:.2f} µs/frame, hls4ml "
            f"{r['hls4ml']['host_overhead_us_per_frame']:.2f} µs/frame "
            f"(predict only {r['hls4ml']['predict_only']['host_overhead_us_per_frame']:.2f}); "
            f"ratio {r['ratio_ours_to_hls4ml']:.3f}; same classes: {r['same_classes']}"
        )
    print(f"wrote {out} ({report['timings']})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYNQ_MNIST_FORCE_EMULATOR", "1")
    sys.exit(main())
