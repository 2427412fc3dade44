"""RTL backend benchmark: MLP students -> da4ml Verilog -> Yosys + Verilator, on all 10k test frames.

For each ``--units`` width it trains an MLP student (``pynq-mnist train``'s
code, the MLP arch's base student with the given width, sparsity, epochs and training
subset) into ``bench/runs/rtl/mlp<W>``, converts it with ``--backend rtl``
into ``bench/runs/rtl/bundles/mnist_mlp<W>_rtl`` and records, per net: its
accuracy (Keras and the RTL simulation), nonzero weights, da4ml's estimate,
the Yosys counts, the cycles per frame and latency measured in Verilator, and
the wall seconds of each step. Results, with the command that made them, go
to ``bench/results/rtl.json``.

Usage::

    python bench/rtl.py [--units 64 ...] [--sparsity 0.9] [--logits-sparsity S] [--epochs 5] [--weight-bits B]
                        [--activation-bits B] [--input-bits B] [--augment] [--teacher-epochs N] [--train-subset N] [--data DIR]
    python bench/rtl.py --run RUN_DIR [--data DIR]

``--weight-bits``/``--activation-bits`` default to the MLP arch's base student's
(``presets.MLP``, also its learning rate, distillation and no augmentation);
``--input-bits`` (the top bits of each pixel the student reads) to all 8;
``--augment`` trains the student on small shifts and rotations. ``--run RUN_DIR``
converts a run trained before instead (e.g. ``pynq-mnist train --from-search``'s
pick of a search for this backend); its entry names the run and the pick. The
results file is rewritten after each net, so a stopped run keeps the nets done. A net
the conversion refuses (over the LUT budget) is recorded with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from record import HERE, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])


def train_one(units: int, args: argparse.Namespace) -> tuple[Path, dict]:
    """Train the MLP student the options describe (resumed if begun), and its entry so far."""
    from pynq_mnist.host_training.training.config.presets import MLP
    from pynq_mnist.host_training.training.run_dir import METRICS
    from pynq_mnist.host_training.training.train import train

    pruning = {"sparsity": args.sparsity, "logits_sparsity": args.logits_sparsity}
    # The training and bits of the MLP arch's base student, which the nets of
    # ``rtl.json`` were trained with; the ``mlp`` preset is now a search's pick.
    kept = ("weight_bits", "activation_bits", "lr", "kd", "augment")
    trained_as = {k: MLP["student"][k] for k in kept}
    student = {**trained_as, "units": [units], "epochs": args.epochs, "pruning": pruning}
    if args.augment:
        student["augment"] = True
    bits = {
        "weight_bits": args.weight_bits,
        "activation_bits": args.activation_bits,
        "input_bits": args.input_bits,
    }
    student |= {k: v for k, v in bits.items() if v is not None}
    config = {
        "arch": "mlp",
        "data": {"train_subset": args.train_subset},
        "student": student,
        "teacher": {"epochs": args.teacher_epochs or args.epochs},
    }
    # one run directory per configuration, so that another one never resumes it
    tag = (
        f"mlp{units}_s{args.sparsity:g}_l{args.logits_sparsity}_e{args.epochs}"
        f"_w{args.weight_bits}_a{args.activation_bits}_t{args.train_subset}"
    )
    tag += f"_i{args.input_bits}" if args.input_bits is not None else ""
    tag += "_aug" if args.augment else ""
    tag += f"_te{args.teacher_epochs}" if args.teacher_epochs else ""
    run_dir = HERE / "runs" / "rtl" / tag
    trained_before = (run_dir / METRICS).is_file()  # then train() only finds it finished
    t0 = time.perf_counter()
    train(config, run_dir, args.data)
    train_s = None if trained_before else round(time.perf_counter() - t0, 1)
    return run_dir, {"tag": tag, "units": units, "config": config, "train_s": train_s}


def trained_elsewhere(run_dir: Path) -> dict:
    """The entry of a run trained before this call (e.g. ``train --from-search``'s pick)."""
    from pynq_mnist.host_training.training import run_dir as rd

    config = rd.read_json(run_dir / rd.CONFIG)
    if config["arch"] != "mlp":
        raise SystemExit(f"{run_dir} holds a {config['arch']} run; the rtl backend converts MLPs")
    entry = {
        "tag": run_dir.name,
        "run": repo_relative(run_dir),
        "units": config["student"]["units"][0],
        "config": {"arch": "mlp", "data": config["data"], "student": config["student"]},
        "train_s": None,
    }
    pick = run_dir / rd.SEARCH_PICK
    if pick.is_file():  # the search and trial it came from
        entry["search_pick"] = rd.read_json(pick)
    return entry


def convert_one(run_dir: Path, entry: dict, data: str | None) -> dict:
    """``entry`` with what the rtl conversion of ``run_dir`` measured, or why it refused."""
    from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
    from pynq_mnist.host_training.conversion.rtl.convert_rtl import convert_rtl
    from pynq_mnist.host_training.training.run_dir import load_metrics

    bundle = HERE / "runs" / "rtl" / "bundles" / f"mnist_{entry['tag'].replace('.', 'p')}_rtl"
    try:
        return entry | convert_rtl(run_dir, bundle, data)
    except ConversionError as e:  # e.g. over the LUT budget: a net tried, and why it stopped
        student = load_metrics(run_dir)["student"]
        return entry | {
            "refused": str(e),
            "keras_accuracy": student["test_accuracy"],
            "nonzero_weights": student["nonzero_weights"],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training = parser.add_argument_group("training (not with --run, whose net is trained)")
    training.add_argument("--units", type=int, nargs="+", default=[64])
    training.add_argument("--sparsity", type=float, default=0.9)
    training.add_argument("--epochs", type=int, default=5)
    training.add_argument(
        "--logits-sparsity", type=float, default=None, help="(default: --sparsity)"
    )
    training.add_argument("--weight-bits", type=int, default=None)
    training.add_argument("--activation-bits", type=int, default=None)
    training.add_argument("--input-bits", type=int, default=None, help="(default: all 8)")
    training.add_argument("--augment", action="store_true", help="small shifts and rotations")
    training.add_argument("--teacher-epochs", type=int, default=None, help="(default: --epochs)")
    training.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument(
        "--run", type=Path, default=None, help="convert this trained MLP run instead of training"
    )
    args = parser.parse_args(argv)
    if args.run:
        given = [a.option_strings[0] for a in training._group_actions
                 if getattr(args, a.dest) != a.default]  # fmt: skip
        if given:
            parser.error(
                f"--run converts a net trained before; {', '.join(given)} would not apply to it"
            )
    if args.teacher_epochs is not None and args.teacher_epochs < 1:
        parser.error(f"--teacher-epochs must be >= 1, got {args.teacher_epochs}")
    from pynq_mnist.atomic import write_text_atomic

    out = HERE / "results" / "rtl.json"
    # one file for every call: each net carries the command that made it, and a net
    # benched again replaces its earlier entry
    results = json.loads(out.read_text()) if out.is_file() else {"nets": []}
    bench = header("rtl.py", sys.argv[1:] if argv is None else argv)
    if args.run:
        trained = [(args.run, trained_elsewhere(args.run))]
    else:
        trained = (train_one(units, args) for units in args.units)
    for run_dir, entry in trained:
        net = {"bench": bench, **convert_one(run_dir, entry, args.data)}
        results["nets"] = [n for n in results["nets"] if n.get("tag") != net["tag"]] + [net]
        write_text_atomic(out, json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
