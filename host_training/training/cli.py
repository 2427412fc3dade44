"""``pynq-mnist train``: teacher -> tuner -> compressed, distilled student into RUN_DIR.

``--from-search SEARCH_DIR --max-...`` trains the design search's pick within
those limits instead of a preset, reusing the search's teacher.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pynq_mnist.host_training.training.config import ARCHS, PRESETS
    from pynq_mnist.host_training.training.search.choose import LIMIT_OPTIONS
    from pynq_mnist.mnist import DATA_HELP

    parser.add_argument("--arch", choices=ARCHS, help="network family (not with --from-search)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="named configuration (default: the arch's own, 'cnn' or 'mlp')",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="JSON or YAML laid over the preset (partial is fine)"
    )
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="output folder")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help=DATA_HELP.format(default="$PYNQ_MNIST_DATA, else MNIST downloaded once"),
    )
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument(
        "--from-search",
        metavar="SEARCH_DIR",
        help="train the most accurate full-length trial of `pynq-mnist tune` within the --max-s",
    )
    for option, cost in LIMIT_OPTIONS.items():
        parser.add_argument(
            f"--{option.replace('_', '-')}", type=int, metavar="N", help=f"limit on {cost}"
        )


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.outputs import RUN, OutputError, claim_output

    try:
        with claim_output(args.out, RUN) as out:
            args.out = out
            return _train(args)
    except OutputError as e:
        print(f"pynq-mnist train: error: {e}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from pynq_mnist.host_training.training.config import ConfigError, for_command, load_file
    from pynq_mnist.mnist import DataError

    try:
        if args.from_search:
            return _from_search(args)
        if args.arch is None:
            raise ConfigError("--arch is required (or --from-search SEARCH_DIR)")
        given = load_file(args.config) if args.config else {}
        config = for_command(given, args.arch, args.config, args.seed, args.preset)
        from pynq_mnist.host_training.training.train import train

        metrics = train(config, args.out, args.data)
    except (ConfigError, DataError) as e:
        print(f"pynq-mnist train: error: {e}", file=sys.stderr)
        return 2
    _report(metrics, args.out)
    return 0


def _from_search(args: argparse.Namespace) -> int:
    """Train the search's pick; ConfigError (caught by :func:`run`) when none fits."""
    import shutil
    from pathlib import Path

    from pynq_mnist.host_training.training import run_dir as rd
    from pynq_mnist.host_training.training.config import ConfigError
    from pynq_mnist.host_training.training.search.choose import LIMIT_OPTIONS, pick_config

    for flag in ("arch", "preset", "config", "seed"):
        if getattr(args, flag) is not None:
            raise ConfigError(f"--{flag} does not go with --from-search: the search fixes it")
    limits = {cost: getattr(args, option) for option, cost in LIMIT_OPTIONS.items()}
    if all(v is None for v in limits.values()):
        raise ConfigError(
            "--from-search needs at least one limit: "
            + ", ".join(f"--{o.replace('_', '-')}" for o in LIMIT_OPTIONS)
        )
    config, point = pick_config(args.from_search, limits)
    from pynq_mnist.host_training.training.search.layout import check_dataset
    from pynq_mnist.mnist import load_mnist

    check_dataset(args.from_search, load_mnist(args.data))  # the pick is only valid on its data
    print(
        f"pick: trial {point['trial_id']} (validation accuracy {point['val_accuracy']:.4f}, "
        f"{point['nonzero_weights']} nonzero weights, {point['max_weight_bits']}-bit)",
        flush=True,
    )
    from pynq_mnist.host_training.training.train import train

    out = Path(args.out)
    teacher = Path(args.from_search) / rd.TEACHER
    if teacher.is_file() and not (out / rd.TEACHER).is_file():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(teacher, out / rd.TEACHER)
    rd.write_json(
        out / rd.SEARCH_PICK,
        {"search_dir": str(args.from_search), "limits": limits, "trial": point},
    )
    _report(train(config, out, args.data), args.out)
    return 0


def _report(metrics: dict, out: str) -> None:
    s = metrics["student"]
    print(
        f"teacher {metrics['teacher']['test_accuracy']:.4f} | student {s['test_accuracy']:.4f}, "
        f"{s['nonzero_weights']} nonzero weights, {s['max_weight_bits']}-bit, {s['bops']} BOPs "
        f"-> {out}"
    )
