"""``pynq-mnist train``: teacher -> tuner -> compressed, distilled student into RUN_DIR."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pynq_mnist.host_training.training.config import ARCHS, PRESETS
    from pynq_mnist.mnist import DATA_HELP

    parser.add_argument("--arch", required=True, choices=ARCHS, help="network family")
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


def run(args: argparse.Namespace) -> int:
    from pynq_mnist.host_training.training.config import ConfigError, load_file, resolve
    from pynq_mnist.mnist import DataError

    try:
        config = load_file(args.config) if args.config else {}
        if config.get("arch", args.arch) != args.arch:
            raise ConfigError(f"{args.config} is for arch {config['arch']!r}, not {args.arch!r}")
        config["arch"] = args.arch
        if args.seed is not None:
            config["seed"] = args.seed
        config = resolve(config, preset=args.preset)
        from pynq_mnist.host_training.training.train import train

        metrics = train(config, args.out, args.data)
    except (ConfigError, DataError) as e:
        print(f"pynq-mnist train: error: {e}", file=sys.stderr)
        return 2
    s = metrics["student"]
    print(
        f"teacher {metrics['teacher']['test_accuracy']:.4f} | student {s['test_accuracy']:.4f}, "
        f"{s['nonzero_weights']} nonzero weights, {s['max_weight_bits']}-bit, {s['bops']} BOPs "
        f"-> {args.out}"
    )
    return 0
