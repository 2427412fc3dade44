"""``pynq-mnist tune``: a design search into SEARCH_DIR, on local workers or joined by others."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pynq_mnist.host_training.training.config import ARCHS, PRESETS
    from pynq_mnist.host_training.training.search.settings import ALGORITHMS, BUDGETS

    parser.add_argument("--arch", choices=ARCHS, help="network family (not with --worker)")
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), help="base configuration the search varies"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON or YAML laid over the preset; its 'search' mapping holds space, budget, "
        "limits and cost",
    )
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        help="hyperband (the default) or bayesian: Bayesian optimization, full-length "
        "trials for the same epochs in all (overrides the config's search.algorithm)",
    )
    parser.add_argument(
        "--budget", choices=sorted(BUDGETS), default="default", help="named search budget"
    )
    parser.add_argument("--out", required=True, metavar="SEARCH_DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument(
        "--bind", default="127.0.0.1", help="address the chief listens on (default loopback)"
    )
    parser.add_argument("--port", type=int, default=0, help="the chief's port (0: a free one)")
    parser.add_argument("--data", metavar="DIR", help="IDX dataset dir (default $PYNQ_MNIST_DATA)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument(
        "--reference",
        metavar="TRAIN_JSON",
        help="bench/results/train.json: plot its presets beside the front (test accuracy)",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="join a running search as a worker (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP "
        "and KERASTUNER_ORACLE_PORT name it and the chief)",
    )


def references(path: str | None, arch: str) -> list[dict]:
    """The measured presets of a ``bench/train.py`` result, as reference points."""
    if path is None:
        return []
    from pynq_mnist.host_training.training import run_dir as rd

    doc = rd.read_json(path)
    return [
        {
            "name": name,
            "accuracy": row["student_accuracy"],
            "split": "test",
            "nonzero_weights": row["student_nonzero_weights"],
            "max_weight_bits": row["student_max_weight_bits"],
            "bops": row["student_bops"],
        }
        for name, row in doc.items()
        if isinstance(row, dict) and row.get("arch") == arch and "student_accuracy" in row
    ]


def prepare(args: argparse.Namespace) -> tuple[dict, object, Path]:
    """The resolved base configuration and settings; everything checked, nothing trained."""
    from pynq_mnist.host_training.training.config import ConfigError, for_command, load_file
    from pynq_mnist.host_training.training.search import space
    from pynq_mnist.host_training.training.search.settings import settings

    if args.arch is None:
        raise ConfigError("--arch is required (except with --worker)")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if not 0 <= args.port < 65536:
        raise ConfigError(f"--port must be 0 (a free one) or a TCP port, got {args.port}")
    given = load_file(args.config) if args.config else {}
    search = given.pop("search", None)
    if args.algorithm is not None:
        search = {**(search or {}), "algorithm": args.algorithm}
    config = for_command(given, args.arch, args.config, args.seed, args.preset)
    config["tuner"]["enabled"] = False  # the search replaces the in-run tuner
    chosen = settings(args.arch, search, args.budget)
    space.check_corners(chosen, config["student"])
    return config, chosen, Path(args.out)


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.host_training.training.config import ConfigError
    from pynq_mnist.host_training.training.search import layout
    from pynq_mnist.outputs import claim_output

    if args.worker:
        from pynq_mnist.host_training.training.search import engine

        if os.environ.get(engine.TUNER_ID) == engine.CHIEF:
            raise ConfigError("a --worker must not be called 'chief' (KERASTUNER_TUNER_ID)")
        return engine.main([args.out, *(["--data", args.data] if args.data else [])])
    config, chosen, _ = prepare(args)
    refs = references(args.reference, args.arch)
    # the supervisor holds the folder; the workers it starts (and --worker joins) write in it
    with claim_output(args.out, layout.SEARCH_OUTPUT) as out:
        doc = tune(config, chosen, out, args, refs)
    print(f"{len(doc['front'])} front points of {len(doc['trials'])} trials -> {args.out}")
    return 0


def tune(config: dict, chosen, out: Path, args: argparse.Namespace, refs: list[dict]) -> dict:
    """Teacher, then the distributed search, into ``out``."""
    from pynq_mnist.host_training.training import train as tr
    from pynq_mnist.host_training.training.search import layout
    from pynq_mnist.host_training.training.search.run import supervise
    from pynq_mnist.mnist import load_mnist

    data = load_mnist(args.data)  # a missing or corrupt dataset fails before training
    out.mkdir(parents=True, exist_ok=True)
    layout.write_settings(
        out, config, chosen, getattr(args, "command_line", ""), layout.dataset_identity(data)
    )
    import tensorflow as tf

    from pynq_mnist.host_training.tf_stack import device

    tf.config.experimental.enable_op_determinism()
    print(f"[tune] training on {device()}", flush=True)
    splits = tr.Splits(data, config)
    tr._teacher_stage(config, splits, out, tr.Stages(out), config["verbose"])
    return supervise(
        out, chosen, args.workers, args.bind, args.port, args.data and str(args.data), refs
    )
