"""The main job: train -> compress -> convert -> run on the (emulated) board -> summary.

``pynq-mnist pipeline`` does, per architecture::

    OUT/ARCH/run/      pynq-mnist train     (teacher, compressed student, metrics, plots)
    OUT/ARCH/bundle/   pynq-mnist convert   (hls4ml IP, wrapper, bit-exact checks)
    OUT/ARCH/bench/    pynq-mnist bench     (accuracy per class, latency, throughput)
    OUT/summary.json   and a summary on stdout
    OUT/pipeline.log   every tool's own output (TensorFlow, Keras, keras-tuner, hls4ml, g++)

OUT defaults to ``runs/pipeline``, with ``-DATASET`` (other than MNIST),
``-PRESET`` and ``-CONFIG`` appended for ``--data``, ``--preset`` and ``--config``,
so neither a quick try nor another dataset lands on the main run. Each stage resumes: training from its checkpoints,
conversion is skipped when the bundle was made from the same student, and the
bench is rerun. Without a board the target is the emulated board, and its
timings are host timings; the summary adds the cycle model's figures at the
bundle's clock, labelled as a model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.mnist import DATA_HELP, MNIST_NAME, layout, resolve_data_dir, slug
from pynq_mnist.outputs import OutputKind

ARCHS = ("cnn", "mlp")
#: What ``pipeline --out`` may name: its log opens first; each arch's folder holds a run,
#: a bundle and a bench, which ``train``, ``convert`` and ``bench`` each guard themselves.
PIPELINE_OUTPUT = OutputKind("pipeline folder", ("pipeline.log", "summary.json", *ARCHS))
#: Teacher -> student loss (accuracy points) above which the summary points to the design search.
LOSS_POINTS_FOR_TUNE = 1.0
#: Our own progress lines that reach the user from inside the training stage.
TRAIN_PROGRESS = r"\[train\]|Epoch \d+/\d+|\d+/\d+ - "
LOG_NAME = "pipeline.log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        help="output folder (default runs/pipeline, with -DATASET, -PRESET, -CONFIG appended "
        "for --data (not MNIST), --preset and --config)",
    )
    parser.add_argument(
        "--arch", choices=(*ARCHS, "all"), default="cnn", help="model family (%(default)s)"
    )
    parser.add_argument(
        "--preset", help="training preset (default: the arch's own; 'smoke' for a quick try)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON or YAML laid over the preset, the keys of `pynq-mnist train --config`",
    )
    parser.add_argument(
        "--data", metavar="DIR", help=DATA_HELP.format(default="$PYNQ_MNIST_DATA, else MNIST")
    )
    from pynq_mnist.board.bench_options import add_measurement_arguments

    # The emulated CNN costs milliseconds of host time per frame: a lighter sweep
    # than `pynq-mnist bench` makes on a board.
    add_measurement_arguments(parser, batches=(1, 10, 100, 1000), frames_per_point=1000)


def default_out(preset: str | None, config: str | None, dataset: str = MNIST_NAME) -> Path:
    """``runs/pipeline``, with ``-DATASET`` (not MNIST), ``-PRESET``, ``-CONFIG`` appended."""
    parts = ["pipeline", *([slug(dataset)] if dataset != MNIST_NAME else [])]
    parts += [*([preset] if preset else []), *([Path(config).stem] if config else [])]
    return Path("runs") / "-".join(parts)


def arch_configs(args: argparse.Namespace) -> dict[str, dict]:
    """The resolved training configuration of each architecture, checked before any work."""
    from pynq_mnist.host_training.training.config import load_file, resolve

    given = load_file(args.config) if args.config else {}
    archs = ARCHS if args.arch == "all" else (args.arch,)
    if "arch" in given and given["arch"] not in archs:
        raise ConfigError(
            f"{args.config} is for arch {given['arch']!r}: use --arch {given['arch']}"
        )
    archs = (given["arch"],) if "arch" in given else archs
    return {
        arch: resolve({**given, "arch": arch}, preset=args.preset or given.get("preset"))
        for arch in archs
    }


def bundle_is_current(bundle_dir: Path, run_dir: Path) -> bool:
    """True when ``bundle_dir`` holds a bundle converted from this run's student."""
    from pynq_mnist.bundle import Bundle, BundleError, sha256_file

    try:
        bundle = Bundle(bundle_dir)
    except BundleError:
        return False
    return bundle.metadata.model.get("student_sha256") == sha256_file(run_dir / "student.h5")


def run_arch(arch: str, config: dict, args: argparse.Namespace, out: Path) -> dict:
    """Every stage for one architecture; returns its summary row."""
    from pynq_mnist.tool_log import ToolLog

    run_dir, bundle_dir, bench_dir = out / arch / "run", out / arch / "bundle", out / arch / "bench"
    log = out / LOG_NAME
    with ToolLog(log):  # pynq's import warns about distutils
        from pynq_mnist.board.bench import run_benchmark
        from pynq_mnist.board.bench_data import bench_data
        from pynq_mnist.board.bench_files import BenchFiles
        from pynq_mnist.board.bench_options import BenchOptions
        from pynq_mnist.board.overlay import load_overlay, resolve_target
        from pynq_mnist.host_training.conversion.convert import convert
        from pynq_mnist.host_training.training.train import train
    wall = {}
    frames = config["data"]["test_subset"]  # a smoke preset's subset holds for every stage

    t0 = time.perf_counter()
    with ToolLog(log, TRAIN_PROGRESS) as tools:
        tools.say(f"[{arch} 1/3] train, preset {config['preset']} -> {run_dir}")
        metrics = train(config, run_dir, args.data)
    wall["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with ToolLog(log) as tools:
        tools.say(f"[{arch} 2/3] convert -> {bundle_dir}")
        if bundle_is_current(bundle_dir, run_dir):
            tools.say(f"      {bundle_dir} is already converted from this student: kept")
        else:
            convert(run_dir, bundle_dir, args.data, frames=frames, progress=tools.say)
    wall["convert_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bundle, data = bench_data(bundle_dir, args.data)
    images, labels = data.test_images[:frames], data.test_labels[:frames]
    options, files = BenchOptions.from_args(args), BenchFiles(bench_dir)
    print(
        f"[{arch} 3/3] bench on the {resolve_target(args.target)} -> {bench_dir}: accuracy on "
        f"{len(labels)} frames, {options.latency_calls} single-frame calls, "
        f"batches {','.join(map(str, options.batches))}",
        flush=True,
    )
    with load_overlay(bundle, args.target) as overlay:
        result = run_benchmark(
            overlay,
            images,
            labels,
            options,
            files,
        )
    wall["bench_s"] = time.perf_counter() - t0
    outputs = {
        "run": str(run_dir),
        "plots": sorted(str(p) for p in (run_dir / "plots").glob("*.png")),
        "bundle": str(bundle_dir),
        "bench": [str(p) for p in files.paths],
    }
    return summary_row(arch, metrics, data.identity(), bundle_dir, result, wall, outputs)


def board_model(meta) -> dict:
    """The cycle model's frame interval at the bundle's clock: a model, not a measurement."""
    ii, mhz = int(meta.ip["target_ii_cycles"]), float(meta.ip["clock_mhz"])
    return {
        "ii_cycles": ii,
        "clock_mhz": mhz,
        "us_per_frame": ii / mhz,
        "frames_per_s": mhz * 1e6 / ii,
        "basis": meta.ip.get("target_ii_basis", "cycle model of the design"),
    }


def summary_row(
    arch: str,
    metrics: dict,
    dataset: dict,
    bundle_dir: Path,
    bench: dict,
    wall: dict,
    outputs: dict,
) -> dict:
    """The figures of one architecture, each from the stage that measured it."""
    from pynq_mnist.bundle import Bundle

    meta = Bundle(bundle_dir).metadata
    top = bench["throughput_plateau"]
    student, teacher = metrics["student"], metrics["teacher"]
    cpu = bench["cpu_baseline"]
    return {
        "arch": arch,
        "preset": metrics.get("preset"),
        "bundle_name": meta.name,
        "dataset": {
            "name": dataset["name"],
            "source": dataset["source"],
            "classes": dataset["classes"],
            "test_frames": bench["accuracy"]["frames"],
        },
        "teacher_accuracy": teacher["test_accuracy"],
        "student_accuracy_keras": student["test_accuracy"],
        "teacher_to_student_loss_points": 100
        * (teacher["test_accuracy"] - student["test_accuracy"]),
        "student_nonzero_weights": student["nonzero_weights"],
        "student_bops": student["bops"],
        "student_layer_bits": student["layer_bits"],
        "bit_exact_accuracy": meta.accuracy["emulated"],
        "keras_ip_agreement": meta.accuracy["agreement"],
        "device_accuracy": bench["accuracy"]["accuracy"],
        "device": bench["target"],
        "device_equals_bit_exact": bench["accuracy"]["equals_bundle"],
        "lowest_class": min(
            (r for r in bench["per_class"]["per_class"] if r["accuracy"] is not None),
            key=lambda r: r["accuracy"],
        ),
        "bytes_in_per_frame": meta.input.bytes_per_frame,
        "bytes_out_per_frame": meta.output.bytes_per_frame,
        "board_model": board_model(meta),
        "synthesis": meta.build,
        "timings": bench["timings"],
        "latency_p50_us": bench["latency"]["p50_us"],
        "latency_p99_us": bench["latency"]["p99_us"],
        "plateau_frames_per_s": top["frames_per_s"],
        "plateau_batch": top["batch"],
        "cpu_baseline": {k: v for k, v in cpu.items() if not isinstance(v, (dict, list))},
        "wall_seconds": wall,
        "bundle": str(bundle_dir),
        "outputs": outputs,
    }


def _synthesis_line(build: dict | None) -> str:
    if not build:
        return "none yet (`pynq-mnist build-overlay BUNDLE` runs HLS + Vivado and records it)"
    clock = build.get("fclk0_mhz_actual", build.get("clock_mhz"))
    timing = build.get("timing", {})
    use = build.get("utilization", {})
    hls = build.get("hls") or {}  # from HLS's csynth.xml (vivado_bd.reports.parse_csynth)
    ii, latency = hls.get("ii_cycles") or {}, hls.get("latency_cycles") or {}
    hls_text = (
        f"HLS interval {ii.get('min')}-{ii.get('max')} cycles, latency "
        f"{latency.get('best')}-{latency.get('worst')} cycles; "
        if hls
        else ""
    )
    return f"built at FCLK {clock} MHz, WNS {timing.get('wns_ns')} ns; {hls_text}" + ", ".join(
        f"{k} {v}" for k, v in use.items()
    )


def _cpu_line(cpu: dict) -> str:
    if not cpu.get("available"):
        return f"not measured ({cpu.get('why')})"
    return (
        f"{cpu['frames_per_s']:.0f} frames/s, single frame p50 {cpu['single_frame_p50_us']:.0f} us "
        f"on {cpu['frames']} frames ({cpu['timings']})"
    )


def _folder_listing(paths: list[str]) -> str:
    """``DIR/: a, b, c`` for files of one folder (each path as given when they differ)."""
    folders = {str(Path(p).parent) for p in paths}
    if len(folders) != 1:
        return ", ".join(paths) or "none"
    return f"{folders.pop()}/: " + ", ".join(Path(p).name for p in paths)


def format_summary(rows: list[dict]) -> str:
    lines = [""]
    for r in rows:
        pct = "{:.2%}".format
        d, m = r["dataset"], r["board_model"]
        loss = r["teacher_to_student_loss_points"]
        lines += [
            f"pynq-mnist pipeline summary: {r['bundle_name']} ({r['arch']}, preset {r['preset']})",
            f"  data       {d['name']} test set, {d['test_frames']} frames, read from {d['source']}",
            f"  accuracy   teacher {pct(r['teacher_accuracy'])} -> student (QKeras) "
            f"{pct(r['student_accuracy_keras'])} -> bit-exact IP {pct(r['bit_exact_accuracy'])} "
            f"-> {r['device']} {pct(r['device_accuracy'])}"
            + {True: "  (= bit-exact)", False: "  (DIFFERS from bit-exact!)", None: ""}[
                r["device_equals_bit_exact"]
            ],
            f"  loss       the student is {abs(loss):.2f} accuracy points "
            + ("below" if loss >= 0 else "above")
            + " the teacher"
            + (
                f"; over {LOSS_POINTS_FOR_TUNE:g} point: search a design for this data "
                "with `pynq-mnist tune`"
                if loss > LOSS_POINTS_FOR_TUNE
                else ""
            ),
            f"  per class  lowest {r['lowest_class']['class']!r} "
            f"{pct(r['lowest_class']['accuracy'])} (confusion.png in the bench folder)",
            f"  cost       {r['student_nonzero_weights']} nonzero weights, "
            f"{r['student_bops']:.3g} BOPs, weight bits "
            + ",".join(str(b["weight"]) for b in r["student_layer_bits"].values()),
            f"  stream     {r['bytes_in_per_frame']} bytes in, {r['bytes_out_per_frame']} out "
            "per frame",
            f"  board      cycle model (not a measurement): a frame every {m['ii_cycles']} cycles"
            f" = {m['us_per_frame']:.2f} us at {m['clock_mhz']:g} MHz, "
            f"{m['frames_per_s']:,.0f} frames/s",
            f"  synthesis  {_synthesis_line(r['synthesis'])}",
            f"  {r['device']:<10} latency p50 {r['latency_p50_us']:.1f} us, p99 "
            f"{r['latency_p99_us']:.1f} us; {r['plateau_frames_per_s']:.0f} frames/s from "
            f"batch {r['plateau_batch']} on [{r['timings']}]",
            f"  CPU numpy  {_cpu_line(r['cpu_baseline'])}",
            "  wall       "
            + ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in r["wall_seconds"].items()),
            f"  run        {r['outputs']['run']}, plots {_folder_listing(r['outputs']['plots'])}",
            f"  bundle     {r['outputs']['bundle']}",
            f"  bench      {_folder_listing(r['outputs']['bench'])}",
            "",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.board.bench_options import BenchOptionError, BenchOptions
    from pynq_mnist.board.result_files import writable_dir
    from pynq_mnist.outputs import OutputError, claim_output

    configs = arch_configs(args)  # a bad --config or --preset stops here, before any work
    dataset = layout(resolve_data_dir(args.data)).name  # reads no IDX file yet
    out = args.out if args.out is not None else default_out(args.preset, args.config, dataset)
    try:  # refused before hours of training, not after
        BenchOptions.from_args(args)
        with claim_output(out, PIPELINE_OUTPUT) as out:
            return _pipeline(configs, args, writable_dir(out))
    except (BenchOptionError, OutputError) as e:
        print(f"pynq-mnist pipeline: error: {e}", file=sys.stderr)
        return 2


def _pipeline(configs: dict, args: argparse.Namespace, out: Path) -> int:
    """Every arch's train, convert and bench, in a claimed output folder."""
    print(f"[pipeline] {', '.join(configs)} -> {out}; tool output goes to {out / LOG_NAME}")
    try:
        rows = [run_arch(arch, config, args, out) for arch, config in configs.items()]
    except BaseException:
        print(f"[pipeline] stopped; the tools' own output is in {out / LOG_NAME}", flush=True)
        raise
    write_text_atomic(out / "summary.json", json.dumps(rows, indent=2) + "\n")
    print(format_summary(rows))
    print(f"wrote {out / 'summary.json'}")
    return 1 if any(r["device_equals_bit_exact"] is False for r in rows) else 0
