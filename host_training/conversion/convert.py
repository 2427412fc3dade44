"""A trained student -> hls4ml IP with our AXI-Stream wrapper -> a verified overlay bundle.

The named stages of :func:`convert`:

1. **configure**: the hls4ml config follows from the QKeras quantizers
   (:mod:`.hls4ml_config`);
2. **convert + C-simulate**: hls4ml writes and compiles the network; its
   ``predict`` on the test frames gives the exact fixed-point logits;
3. **wrap**: the wrapper and build script go into ``BUNDLE/hls``
   (:mod:`.wrapper`), and g++ builds them into the emulation library;
4. **verify**: every test frame streams through the library, whose output words
   must equal the C simulation's logits in the same word layout, bit for bit.
   The check runs twice: on the sources of hls4ml's Vivado backend (what Vivado
   HLS synthesises) and on those of its Vitis backend (what Vitis HLS
   synthesises; they differ in some ``nnet_utils`` headers);
5. **bundle**: golden vectors, the bundle metadata, and a printed report.

The bundle is built in a staging folder and moved into place only when all of
that succeeded: a failed or interrupted conversion leaves no bundle behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.board.emulator.iplib import IPLibrary
from pynq_mnist.board.emulator.library_build import LIBRARY_NAME, SOURCE_PATHS, compile_library
from pynq_mnist.bundle import (
    METADATA_FILE,
    SCHEMA,
    SCHEMA_VERSION,
    Bundle,
    BundleMetadata,
    DatasetInfo,
    Golden,
    InputFormat,
    OutputFormat,
    sha256_file,
    sha256_tree,
    staged_dir,
    write_metadata,
)
from pynq_mnist.design import PYNQ_Z2
from pynq_mnist.host_training.conversion import hls4ml_config, parallel_transfer, wrapper
from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError

PROJECT_NAME = "mnist_net"
#: HLS files hashed beside the library's sources.
HLS_EXTRA_SOURCES = ("build_hls.tcl", "hls4ml_config.json", wrapper.VITIS_OVERLAY)
#: hls4ml backends whose sources the bit-exact check covers (both are synthesised).
BACKENDS = ("Vivado", "Vitis")
GOLDEN_FRAMES = 64
FILES = {
    "golden": "golden.npz",
    "hls": "hls",
    "emulator": f"emulator/{LIBRARY_NAME}",
    "network": "network.npz",
}


#: A bundle name names the bitstream and the Vivado project (vivado_bd/params.py).
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
#: Frames per call of the compiled IP while verifying, so the stream shows progress.
STREAM_CHUNK = 2000


def _print(message: str) -> None:
    print(message, flush=True)


def check_name(name: str) -> str:
    """``name`` if it can name a bundle (letters, digits, ``_``; a letter first), else an error."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConversionError(
            f"bundle name {name!r} cannot name a bitstream: use letters, digits and _, "
            "starting with a letter"
        )
    return name


def _hls4ml_model(model, arch: str, config: dict, output_dir: Path, backend: str):
    import hls4ml

    return hls4ml.converters.convert_from_keras_model(
        model,
        hls_config=config,
        output_dir=str(output_dir),
        project_name=PROJECT_NAME,
        backend=backend,
        io_type=hls4ml_config.IO_TYPES[arch],
        part=PYNQ_Z2.part,
        clock_period=1000.0 / PYNQ_Z2.fclk0_mhz,
    )


def convert_model(model, arch: str, output_dir: Path, mults_per_cycle: int):
    """hls4ml's model of the student, written to ``output_dir`` and compiled (Vivado backend).

    The same configuration goes through hls4ml's Vitis backend into
    ``output_dir.vitis`` (written, not compiled): its sources are the ones Vitis
    HLS synthesises.
    """
    config = hls4ml_config.hls_config(model, arch, mults_per_cycle)
    hls_model = _hls4ml_model(model, arch, config, output_dir, "Vivado")
    hls_model.compile()
    vitis = _hls4ml_model(model, arch, config, vitis_dir(output_dir), "Vitis")
    vitis.write()
    return config, hls_model


def vitis_dir(output_dir: Path) -> Path:
    return output_dir.with_name(output_dir.name + ".vitis")


def _disagreements(keras_logits: np.ndarray, exact_logits: np.ndarray) -> dict:
    """Frames where Keras's argmax differs from the IP's, and why.

    Keras computes in float32 (and rounds its ReLU quantizers from float32
    sums); the IP computes exactly. A frame can only flip where Keras's top-two
    margin is below its logit error against the exact network.
    """
    keras_class = np.argmax(keras_logits, axis=1)
    ip_class = np.argmax(exact_logits, axis=1)
    frames = np.flatnonzero(keras_class != ip_class)
    error = np.abs(keras_logits - exact_logits).max(axis=1)
    top2 = np.sort(keras_logits, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    return {
        "count": int(frames.size),
        "frames": frames[:50].tolist(),
        "margin_below_error": int(np.sum(margin[frames] <= error[frames])),
        "max_logit_error": float(error.max()) if error.size else 0.0,
        "frames_with_logit_error": int(np.sum(error > 0)),
        "why": (
            "Keras sums in float32 and re-rounds activations from those sums; the IP's "
            "fixed-point arithmetic is exact. A frame flips only where Keras's top-2 margin "
            "is within that logit error (margin_below_error counts them)."
        ),
    }


def _keras_logits(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=1000, verbose=0), dtype=np.float64)


def _student_inputs(model, images: np.ndarray) -> np.ndarray:
    x = encoding.to_network_input(images)
    return x.reshape((len(images), *model.input_shape[1:]))


def convert(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    mults_per_cycle: int = hls4ml_config.MULTS_PER_CYCLE,
    frames: int | None = None,
    progress: Callable[[str], None] = _print,
    workers: int | None = None,
    name: str | None = None,
) -> dict:
    """Convert the student of ``run_dir`` into the bundle ``out``; return the report.

    Parameters
    ----------
    run_dir : path
        A finished training run (``student.h5``, ``metrics.json``).
    out : path
        The bundle folder to write (replaced only on success).
    data_dir : path, optional
        The dataset folder (see :mod:`pynq_mnist.mnist`); default the one the run
        recorded. Data that is not the run's dataset is refused, before
        TensorFlow or the model is loaded.
    mults_per_cycle : int
        Multipliers per clock per layer (sets the reuse factors).
    frames : int, optional
        Verify on the first ``frames`` test frames only (tests); default all.
    progress : callable
        Receives one line per stage, and the final report.
    workers : int, optional
        Processes that stream the frames through the compiled IP (default one
        per CPU; see :meth:`IPLibrary.transfer`).
    name : str, optional
        The bundle's name (default ``DATASET_ARCH``, e.g. ``mnist_cnn``).
    """
    from pynq_mnist.host_training.training.run_dir import STUDENT, load_metrics, load_student
    from pynq_mnist.mnist import load_recorded, slug

    run_dir, out = Path(run_dir), Path(out)
    metrics = load_metrics(run_dir)
    arch = metrics.get("arch")
    if arch not in hls4ml_config.IO_TYPES:
        raise ConversionError(f"{run_dir}/metrics.json: arch {arch!r} is not one of mlp, cnn")
    data = load_recorded(metrics.get("data"), data_dir, f"the run {run_dir}", splits=("test",))
    name = check_name(name or f"{slug(data.name)}_{arch}")
    progress(f"dataset {data.name}: {len(data.test_labels)} test frames from {data.source}")
    model = load_student(run_dir)
    images, labels = data.test_images[:frames], data.test_labels[:frames]
    x = _student_inputs(model, images)

    t0 = time.perf_counter()
    progress(f"[1/5] Keras predictions on {len(images)} test frames")
    keras_logits = _keras_logits(model, x)

    with tempfile.TemporaryDirectory(prefix="pynq-mnist-hls4ml-") as work:
        progress(
            f"[2/5] hls4ml conversion ({arch}, {hls4ml_config.IO_TYPES[arch]}) and C simulation"
        )
        config, hls_model = convert_model(model, arch, Path(work) / "hls4ml", mults_per_cycle)
        exact_logits = _csim(hls_model, x, progress)
        logit_type = hls4ml_config.logit_type(model)
        frac_bits = wrapper.logit_frac_bits(exact_logits, logit_type.frac)
        csim_words = wrapper.words_from_logits(exact_logits, frac_bits)
        io_type = hls4ml_config.IO_TYPES[arch]

        with staged_dir(out, METADATA_FILE) as stage:
            progress("[3/5] wrapper sources and g++ emulation library")
            hls_dir = stage / FILES["hls"]
            hls_dir.mkdir()
            input_format = InputFormat(
                wrapper.STREAM_WIDTH_BITS, tuple(images.shape[1:]), encoding.describe()
            )
            vitis_differences = wrapper.write_hls_sources(
                Path(work) / "hls4ml",
                PROJECT_NAME,
                io_type,
                input_format=input_format,
                n_classes=len(data.class_names),
                frac_bits=frac_bits,
                dest=hls_dir,
                part=PYNQ_Z2.part,
                clock_mhz=PYNQ_Z2.fclk0_mhz,
                vitis_dir=vitis_dir(Path(work) / "hls4ml"),
            )
            (hls_dir / "hls4ml_config.json").write_text(json.dumps(config, indent=2) + "\n")
            compile_library(hls_dir, stage / FILES["emulator"])

            workers = parallel_transfer.default_workers(len(images)) if workers is None else workers
            progress(
                f"[4/5] streaming {len(images)} frames through the compiled IP, with the "
                f"sources of hls4ml's {' and '.join(BACKENDS)} backends "
                f"({workers} process{'es' if workers > 1 else ''})"
            )
            t_emu = time.perf_counter()
            words = _check_bit_exact(
                stage / FILES["emulator"], hls_dir, "Vivado", input_format, images, csim_words,
                workers, progress,
            )  # fmt: skip
            emulate_s = time.perf_counter() - t_emu
            vitis_sources = wrapper.sources_for_backend(
                hls_dir, "Vitis", Path(work) / "vitis_sources"
            )
            vitis_lib = compile_library(vitis_sources, Path(work) / "vitis_lib" / LIBRARY_NAME)
            _check_bit_exact(
                vitis_lib, vitis_sources, "Vitis", input_format, images, csim_words, workers,
                progress,
            )  # fmt: skip

            progress("[5/5] golden vectors, network export, metadata")
            n_golden = min(GOLDEN_FRAMES, len(images))
            output_format = wrapper.output_format(len(data.class_names), frac_bits)
            Golden.of(input_format, output_format, images[:n_golden], words[:n_golden]).write(
                stage / FILES["golden"]
            )
            files = {key: FILES[key] for key in ("golden", "hls", "emulator")}
            if _export_network(hls_model, stage / FILES["network"], progress):
                files["network"] = FILES["network"]

            ip_class = output_format.unpack(words)["class"]
            keras_class = np.argmax(keras_logits, axis=1)
            accuracy = {
                "frames": int(len(images)),
                "keras": float(np.mean(keras_class == labels)),
                "emulated": float(np.mean(ip_class == labels)),
                "agreement": float(np.mean(ip_class == keras_class)),
                "csim_bit_exact": True,
                "bit_exact_backends": list(BACKENDS),
                "vitis_differences": vitis_differences,  # under hls/firmware and hls/vitis/firmware
                "run_metrics_test_accuracy": metrics.get("student", {}).get("test_accuracy"),
                "disagreements": _disagreements(keras_logits, exact_logits),
            }
            stages = hls4ml_config.target_ii(model, arch, hls_model)
            precisions = _precisions(hls_model)
            meta = BundleMetadata.from_dict(
                {
                    **metadata_head(name, data, input_format, output_format),
                    "ip": {
                        "top": wrapper.TOP,
                        "vlnv": str(PYNQ_Z2.ip.vlnv),
                        "part": PYNQ_Z2.part,
                        "clock_mhz": PYNQ_Z2.fclk0_mhz,
                        "target_ii_cycles": hls4ml_config.frame_interval(stages, arch),
                        "target_ii_stages": stages,
                        "target_ii_basis": (
                            "cycle model of the design (not a synthesis result): "
                            + (
                                "sum of the sequential stages"
                                if arch == "mlp"
                                else "slowest DATAFLOW stage"
                            )
                        ),
                        "ports": asdict(PYNQ_Z2.ip_ports),
                        "hls4ml": {
                            "version": _hls4ml_version(),
                            "project_name": PROJECT_NAME,
                            "io_type": io_type,
                            "strategy": config["Model"]["Strategy"],
                            "reuse_factors": hls4ml_config.reuse_factors(model, hls_model),
                            "mults_per_cycle": mults_per_cycle,
                            "precisions": precisions,
                        },
                    },
                    "dma": {"length_width_bits": PYNQ_Z2.dma_length_width_bits},
                    "model": {
                        "arch": arch,
                        "run_dir": str(run_dir.resolve()),
                        "student_sha256": sha256_file(run_dir / STUDENT),
                        "hls4ml_config_sha256": sha256_file(hls_dir / "hls4ml_config.json"),
                        "logit_type": str(logit_type),
                    },
                    "accuracy": accuracy,
                    "files": files,
                    "sha256": _hashes(stage, files),
                },
                source="conversion",
            )
            write_metadata(stage, meta)

    report = _report(meta, emulate_s, workers, time.perf_counter() - t0)
    progress(format_report(report))
    Bundle(out)  # read back: the bundle on disk validates
    return report


def _check_bit_exact(
    library: Path,
    hls_dir: Path,
    backend: str,
    input_format: InputFormat,
    images: np.ndarray,
    csim_words: np.ndarray,
    workers: int,
    progress: Callable[[str], None],
) -> np.ndarray:
    """The library's words for ``images``; a :class:`ConversionError` unless they are ``csim_words``."""
    progress(f"      {backend}-backend sources:")
    with IPLibrary(library, hls_dir / "firmware" / "weights") as ip:
        words = _stream(ip, input_format, images, workers, progress)
    mismatched = np.flatnonzero((words != csim_words).any(axis=1))
    if mismatched.size:
        raise ConversionError(
            f"the compiled IP (hls4ml {backend}-backend sources) differs from hls4ml's C "
            f"simulation on {mismatched.size} frames (first {mismatched[:10].tolist()}): "
            "the wrapper is not bit-exact"
        )
    return words


def _csim(hls_model, x: np.ndarray, progress: Callable[[str], None]) -> np.ndarray:
    """hls4ml's C simulation of every frame, in chunks of :data:`STREAM_CHUNK` with a line each."""
    t0, logits = time.perf_counter(), []
    for start in range(0, len(x), STREAM_CHUNK):
        chunk = x[start : start + STREAM_CHUNK].astype(np.float64)
        logits.append(
            np.asarray(hls_model.predict(chunk), dtype=np.float64).reshape(len(chunk), -1)
        )
        done = start + len(chunk)
        if done < len(x):
            progress(
                f"      C simulation {done}/{len(x)} frames ({time.perf_counter() - t0:.0f} s)"
            )
    return np.concatenate(logits)


def _stream(
    ip, input_format: InputFormat, images: np.ndarray, workers: int, progress: Callable[[str], None]
) -> np.ndarray:
    """Every frame through the compiled IP, in chunks of :data:`STREAM_CHUNK` with a line each."""
    t0, words = time.perf_counter(), []
    for start in range(0, len(images), STREAM_CHUNK):
        chunk = images[start : start + STREAM_CHUNK]
        words.append(
            parallel_transfer.transfer(ip, input_format.pack(chunk), min(workers, len(chunk)))
        )
        done = start + len(chunk)
        if done < len(images):
            progress(
                f"      streamed {done}/{len(images)} frames ({time.perf_counter() - t0:.0f} s)"
            )
    return np.concatenate(words)


def _hashes(stage: Path, files: dict[str, str]) -> dict[str, str]:
    """sha256 of every bundle file; of ``hls/`` only the sources (its build adds outputs)."""
    paths = [rel for key, rel in files.items() if key != "hls"]
    paths += [f"{files['hls']}/{rel}" for rel in (*SOURCE_PATHS, *HLS_EXTRA_SOURCES)]
    return {rel: sha256_tree(stage / rel) for rel in paths}


def _export_network(hls_model, path: Path, progress: Callable[[str], None]) -> bool:
    """The numpy reference network for the board CPU baseline, when its exporter is there."""
    try:
        from pynq_mnist.host_training.conversion.network_export import export_network
    except ImportError:
        progress("      (network export not available: no network.npz in this bundle)")
        return False
    export_network(hls_model, path)
    return True


def _hls4ml_version() -> str:
    import hls4ml

    return hls4ml.__version__


def _precisions(hls_model) -> dict[str, dict[str, str]]:
    """Each hls4ml layer's C++ types, as generated (``{layer: {type name: ap type}}``)."""
    out = {}
    for layer in hls_model.get_layers():
        out[layer.name] = {
            name: t.precision.definition_cpp()
            for name, t in layer.types.items()
            if hasattr(t, "precision")
        }
    return out


def metadata_head(name: str, data, input_format: InputFormat, output_format: OutputFormat) -> dict:
    """What every backend's ``bundle.json`` starts with: schema, name, dataset, stream formats."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "classes": list(data.class_names),
        "dataset": DatasetInfo(**data.identity()).to_dict(),
        "input": {
            "stream_width_bits": input_format.stream_width_bits,
            "frame_shape": list(input_format.frame_shape),
            "pixel": asdict(input_format.pixel),
        },
        "output": _output_dict(output_format),
    }


def _output_dict(fmt: OutputFormat) -> dict:
    return {
        "stream_width_bits": fmt.stream_width_bits,
        "beats_per_frame": fmt.beats_per_frame,
        "fields": [asdict(f) for f in fmt.fields],
    }


def _report(meta: BundleMetadata, emulate_s: float, workers: int, total_s: float) -> dict:
    acc = meta.accuracy
    return {
        "name": meta.name,
        "arch": meta.model["arch"],
        "frames": acc["frames"],
        "keras_accuracy": acc["keras"],
        "emulated_accuracy": acc["emulated"],
        "agreement": acc["agreement"],
        "disagreements": acc["disagreements"]["count"],
        "csim_bit_exact": acc["csim_bit_exact"],
        "bytes_in_per_frame": meta.input.bytes_per_frame,
        "beats_in_per_frame": meta.input.beats_per_frame,
        "bytes_out_per_frame": meta.output.bytes_per_frame,
        "beats_out_per_frame": meta.output.beats_per_frame,
        "logit_bits": meta.output.field("logits").width,
        "logit_frac_bits": meta.output.field("logits").frac_bits,
        "logit_type": meta.model["logit_type"],
        "reuse_factors": meta.ip["hls4ml"]["reuse_factors"],
        "io_type": meta.ip["hls4ml"]["io_type"],
        "target_ii_cycles": meta.ip["target_ii_cycles"],
        "clock_mhz": meta.ip["clock_mhz"],
        "precisions": meta.ip["hls4ml"]["precisions"],
        "emulate_s": round(emulate_s, 3),
        "emulate_workers": workers,
        "convert_s": round(total_s, 1),
    }


def format_report(r: dict) -> str:
    """The report printed at the end of ``pynq-mnist convert``."""
    lines = [
        f"converted {r['name']} ({r['arch']}, {r['io_type']}) on {r['frames']} test frames",
        f"  Keras (QKeras) accuracy   {100 * r['keras_accuracy']:.2f} %",
        f"  emulated (IP) accuracy    {100 * r['emulated_accuracy']:.2f} %   "
        f"(bit-exact with hls4ml C simulation: {r['csim_bit_exact']})",
        f"  argmax agreement          {100 * r['agreement']:.2f} %   ({r['disagreements']} frames differ)",
        f"  per frame in              {r['bytes_in_per_frame']} bytes in {r['beats_in_per_frame']} beats",
        f"  per frame out             {r['bytes_out_per_frame']} bytes in {r['beats_out_per_frame']} beat",
        f"  logits                    {r['logit_type']} on chip, {r['logit_bits']}-bit out with {r['logit_frac_bits']} fraction bits",
        f"  reuse factors             {r['reuse_factors']}",
        f"  target II (cycle model)   {r['target_ii_cycles']} cycles/frame at {r['clock_mhz']:g} MHz",
        f"  emulation (host timing)   {r['emulate_s']:.2f} s for {r['frames']} frames "
        f"on {r['emulate_workers']} process{'es' if r['emulate_workers'] > 1 else ''}",
        "  precisions:",
    ]
    for layer, types in r["precisions"].items():
        lines.append(f"    {layer:<16} " + ", ".join(f"{k}={v}" for k, v in types.items()))
    return "\n".join(lines)
