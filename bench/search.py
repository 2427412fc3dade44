"""The committed design search: a front per arch, and the picks that are to become the presets.

For each preset it runs ``pynq-mnist tune`` (resumable) on all of MNIST within
that preset's limits, then ``pynq-mnist train --from-search`` at them, and records in
``bench/results/search.json`` the command, the wall times, the front, and each pick's
validation and test accuracy; each pick then goes through the bit-exact conversion on
all 10,000 test frames, and its target counts as met only when the IP is bit-exact and
its accuracy reaches the target. Each search is exported (``layout.export``: its
settings, every trial, the front and its plot) to ``bench/results/searches/<preset>/``,
from which ``pynq-mnist train --from-search`` picks in a fresh clone. The presets
measured in ``bench/results/train.json`` are drawn on each front's plot for reference.
Run directories go to ``bench/runs/search/`` (not committed).

Usage::

    python bench/search.py [--searches mlp cnn ...] [--workers 2] [--data DIR]
    python bench/search.py --picks-only --searches cnn-1k   # retrain + convert a finished search's pick
    python bench/search.py --quick     # smoke budget and data: checks the path, not the nets
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from record import HERE, ROOT, header, repo_relative  # noqa: E402  (bench/ is sys.path[0])

#: The rtl backend's student (as ``bench/rtl.py`` trains it): one hidden layer, 3-bit weights,
#: 5-bit activations, the top 2 bits of each pixel, the logits half pruned. da4ml put
#: 7,966 such weights within the conversion's 42,560-LUT budget, and 6,945 weights that
#: read 3 bits of each pixel over it (``rtl.json``), so its search caps the nonzero weights,
#: which every trial has, rather than da4ml's estimate, which takes minutes a trial.
RTL_NONZERO = 8000
#: Per preset whose student is not its arch's preset: the base configuration its search varies.
BASES = {
    "mlp-rtl": {
        "student": {
            "units": [256],
            "input_bits": 2,
            "weight_bits": 3,
            "activation_bits": 5,
            "epochs": 60,
            "pruning": {"logits_sparsity": 0.5},
        },
    },
}
#: preset -> (arch, the limits its pick is chosen within, its accuracy target: issue 12's,
#: and for ``mlp-rtl`` issue 15's).
PICKS = {
    "cnn": ("cnn", {"max_nonzero": 10000, "max_bits": 6}, 0.992),
    "cnn-tiny": ("cnn", {"max_nonzero": 2000, "max_bits": 5}, 0.987),
    "cnn-1k": ("cnn", {"max_nonzero": 1000}, 0.982),
    "mlp": ("mlp", {"max_nonzero": 25000, "max_bits": 4}, 0.983),
    # the hand mlp preset the MLP searches replaced: 98.24% at 22,010 nonzero 4-bit
    # weights (``git show 062dd8b^:bench/results/train.json``); issue 12 asks for a point
    # at least as accurate at no more cost
    "mlp-22k": ("mlp", {"max_nonzero": 22010, "max_bits": 4}, 0.9824),
    "mlp-rtl": ("mlp", {"max_nonzero": RTL_NONZERO}, 0.980),
}
WALL_LIMIT_S = 90 * 60  # per search, on 2 cores
#: The picks converted here, by hls4ml. ``mlp-rtl``'s target is issue 15's, for the rtl
#: backend: ``bench/rtl.py`` converts that student.
CONVERTED = ("cnn", "cnn-tiny", "cnn-1k", "mlp", "mlp-22k")
#: Per preset, the ``search`` mapping of its search: its pick's limits (so that
#: Hyperband promotes only candidates within them) and a space whose draws mostly
#: fall within them. A first MLP search over the default space at these limits
#: drew 256-wide nets at sparsities that exceed 25k nonzero weights in most
#: trials; its pick (128 units) tested 95.94% (``git log -p`` of the results).
SEARCHES = {
    # A second MLP search drew the sparsity (0.85-0.97) over 128-512 units; its pick
    # tested 98.00%. A third pruned each trial to a share of the budget instead, with
    # Hyperband to 20 epochs (factor 3, 2 iterations: 532 epochs); its pick tested
    # 98.29%. This one trains the same space to 40 epochs, as the cnn search does.
    "mlp": {
        "limits": {"nonzero_weights": 25000, "max_weight_bits": 4},
        "space": {
            "units": {"choice": [256, 384, 512]},
            "weight_bits": {"choice": [3, 4]},
            "sparsity": None,
            "nonzero_fill": {"min": 0.8, "max": 1.0},
        },
        "budget": {"max_epochs": 40, "factor": 4},
    },
    # The mlp space at the hand preset's cost. The 25k search's 8 full-length trials held
    # one point within it, 97.86% on test (``front_points.json``); this one is factor 3:
    # 921 epochs, 12 full-length trials.
    "mlp-22k": {
        "limits": {"nonzero_weights": 22010, "max_weight_bits": 4},
        "space": {
            "units": {"choice": [256, 384, 512]},
            "weight_bits": {"choice": [3, 4]},
            "sparsity": None,
            "nonzero_fill": {"min": 0.8, "max": 1.0},
        },
        "budget": {"max_epochs": 40, "factor": 3},
    },
    # The 10k preset's shape: 2 or 3 blocks of 12-32 filters and no dense layer (one
    # after 2 blocks would alone exceed the budget), 5 or 6 bits, each trial pruned to
    # 80-100% of the budget, shifts and rotations on or off. At Hyperband's 20 epochs
    # (factor 3) the 8 full-length trials of a first search all reached 98.25-98.70%
    # validation accuracy from 4,564 to 8,251 weights: more weights bought nothing in
    # 20 epochs, and its pick tested 99.08% (``git log -p`` of the results). A second
    # trained to 40 epochs at factor 4 (526 planned epochs, 8 of them full-length): its
    # pick tested 99.19%. This one is factor 3: 921 epochs, 12 full-length trials.
    "cnn": {
        "limits": {"nonzero_weights": 10000, "max_weight_bits": 6},
        "space": {
            "conv_blocks": {"choice": [2, 3]},
            "dense": None,
            "filters": {"choice": [12, 16, 24, 32]},
            "weight_bits": {"choice": [5, 6]},
            "activation_bits": {"choice": [5, 6]},
            "sparsity": None,
            "nonzero_fill": {"min": 0.8, "max": 1.0},
        },
        "budget": {"max_epochs": 40, "factor": 3},
    },
    # A first cnn-tiny search (2 or 3 blocks, an optional dense layer, sparsity drawn)
    # promoted only 3-block nets: the 2-block nets it drew exceeded 2,000 weights at
    # the sparsities drawn. Its pick tested 95.35% (``git log -p`` of the results).
    # This one searches the 2-block shape with no dense layer, each trial pruned to
    # a share of the budget (``nonzero_fill``), at the hand preset's 30 epochs.
    "cnn-tiny": {
        "limits": {"nonzero_weights": 2000, "max_weight_bits": 5},
        "space": {
            "conv_blocks": None,
            "dense": None,
            "filters": {"choice": [6, 8, 10, 12, 16]},
            "weight_bits": {"choice": [4, 5]},
            "sparsity": None,
            "nonzero_fill": {"min": 0.7, "max": 1.0},
        },
        "budget": {"max_epochs": 30, "factor": 4},
    },
    # The cnn-tiny space at half the budget. At 30 epochs (factor 4) its pick tested
    # 98.00%, and at 40 epochs (factor 4: 8 full-length trials) 98.17%, 3 frames
    # under the target (``git log -p`` of the results). This one is factor 3, as the
    # cnn search that met its target: more full-length trials. (3 conv blocks are
    # not in it: the cnn search's 3-block nets tested 1-1.5 points below its 2-block
    # ones at full length.)
    "cnn-1k": {
        "limits": {"nonzero_weights": 1000},
        "space": {
            "conv_blocks": None,
            "dense": None,
            "filters": {"choice": [4, 6, 8, 10, 12, 16]},
            "sparsity": None,
            "nonzero_fill": {"min": 0.7, "max": 1.0},
        },
        "budget": {"max_epochs": 40, "factor": 3},
    },
    # The rtl student's width and training, each trial pruned to 90-100% of the cap.
    "mlp-rtl": {
        "limits": {"nonzero_weights": RTL_NONZERO},
        "space": {
            "layers": None,
            "units": {"choice": [256, 384, 512]},
            "weight_bits": None,
            "activation_bits": None,
            "sparsity": None,
            "nonzero_fill": {"min": 0.9, "max": 1.0},
        },
        "budget": {"max_epochs": 60, "factor": 3},
    },
}


def _run(cmd: list[str]) -> float:
    """Run ``cmd`` in the repository root (where the relative paths in it start)."""
    print(f"[bench] {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - t0


def _search(cli, data, config: Path, search_dir: Path, args, argv, preset: str) -> dict:
    """``pynq-mnist tune`` for ``preset`` (resumed where ``search_dir`` holds one), recorded
    and exported beside ``args.out``."""
    from pynq_mnist.host_training.training.search import layout

    tune = [*cli, "tune", "--arch", PICKS[preset][0], "--workers", str(args.workers),
            "--config", repo_relative(config), "--out", repo_relative(search_dir), *data]  # fmt: skip
    if args.quick:
        tune += ["--preset", "smoke", "--budget", "smoke"]
    reference = HERE / "results" / "train.json"
    if reference.is_file():
        tune += ["--reference", repo_relative(reference)]
    wall = _run(tune)
    doc = layout.read_front(search_dir)
    exported = args.out.parent / "searches" / preset
    layout.export(search_dir, exported, repo_relative(search_dir))
    return {
        "bench": header("search.py", argv),
        "quick": args.quick,
        "command": shlex.join(tune[2:]),
        "search": SEARCHES[preset],
        **({"base": BASES[preset]} if preset in BASES else {}),
        "wall_seconds_this_call": wall,
        "within_wall_limit": wall <= WALL_LIMIT_S,
        "front": doc["front"],
        "cost": doc["cost"],
        "progress": doc["progress"],
        "search_dir": repo_relative(search_dir),
        "exported_to": repo_relative(exported),  # its trials are there, in front.json
    }


def _pick(
    cli: list[str], data: list[str], search_dir: Path, args, preset: str, earlier: dict
) -> dict:
    """``train --from-search`` at the preset's limits, and what its pick measured.

    A finished pick run is not retrained (``train`` resumes it); its ``wall_seconds`` stay
    those of the call that trained it, from ``earlier`` (the recorded entry), if any.
    """
    from pynq_mnist.host_training.training import run_dir as rd

    _, limits, target = PICKS[preset]
    run = args.runs / f"pick-{preset}"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in limits.items()]
    train = [*cli, "train", "--from-search", repo_relative(search_dir), *flags,
             "--out", repo_relative(run), *data]  # fmt: skip
    retrained = not (run / rd.METRICS).is_file()
    try:
        wall = _run(train)
    except subprocess.CalledProcessError as e:
        return {"limits": limits, "error": f"exit {e.returncode}"}
    student = rd.load_metrics(run)["student"]
    pick = rd.read_json(run / rd.SEARCH_PICK)["trial"]
    if not retrained:
        wall = earlier.get("wall_seconds") if earlier.get("trial") == pick["trial_id"] else None
    result = {
        "command": shlex.join(train[2:]),
        "limits": limits,
        "trial": pick["trial_id"],
        "val_accuracy": pick["val_accuracy"],
        **{k: student[k] for k in ("test_accuracy", "nonzero_weights", "max_weight_bits")},
        "student": student["config"],
        "target_test_accuracy": target,
        "wall_seconds": wall,
        "retrained_by_this_call": retrained,
    }
    if preset not in CONVERTED:
        return result | {"target_met": None if args.quick else student["test_accuracy"] >= target}
    conversion = convert_pick(
        run, args.runs / "bundles" / f"pick_{preset.replace('-', '_')}", args.data
    )
    met = conversion["csim_bit_exact"] and conversion["emulated_accuracy"] >= target
    return result | {"conversion": conversion, "target_met": None if args.quick else met}


def convert_pick(run: Path, bundle: Path, data: str | None) -> dict:
    """The run's student through ``convert`` (hls4ml, the bit-exact IP on every test
    frame), and what it measured: issue 12's targets count only students that pass it."""
    from pynq_mnist.host_training.conversion.convert import convert

    print(f"[bench] converting {repo_relative(run)} -> {repo_relative(bundle)}", flush=True)
    t0 = time.perf_counter()
    report = convert(run, bundle, data)
    keys = ("frames", "keras_accuracy", "emulated_accuracy", "csim_bit_exact", "disagreements",
            "target_ii_cycles")  # fmt: skip
    return {"bundle": repo_relative(bundle), **{k: report[k] for k in keys},
            "wall_seconds": time.perf_counter() - t0}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", nargs="+", default=list(PICKS), choices=list(PICKS))
    parser.add_argument("--workers", type=int, default=2, help="local workers per search")
    parser.add_argument("--data", help="MNIST dir (default $PYNQ_MNIST_DATA or the cache)")
    parser.add_argument("--runs", type=Path, default=HERE / "runs" / "search")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "search.json")
    parser.add_argument("--quick", action="store_true", help="smoke preset and budget")
    parser.add_argument("--picks-only", action="store_true",
                        help="skip the searches: retrain and convert the picks of the finished "
                             "searches in --runs, keeping their recorded entries")  # fmt: skip
    args = parser.parse_args(argv)

    from pynq_mnist.host_training.tf_stack import versions
    from pynq_mnist.host_training.training import run_dir as rd
    from pynq_mnist.host_training.training.search import layout

    cli = [sys.executable, "-m", "pynq_mnist"]
    data = ["--data", args.data] if args.data else []
    # one file for all searches: a call for some keeps the others' results
    results: dict = rd.read_json(args.out) if args.out.is_file() else {}
    results |= {"versions": versions(), "wall_limit_seconds_per_search": WALL_LIMIT_S}
    for key in ("searches", "picks"):
        results.setdefault(key, {})
    for preset in args.searches:
        search_dir = args.runs / preset
        config = args.runs / f"{preset}-search.json"
        if args.picks_only:
            if preset not in results["searches"] or not (search_dir / layout.FRONT).is_file():
                parser.error(f"--picks-only: no finished {preset} search in {search_dir} "
                             f"recorded in {args.out}; run it first without --picks-only")  # fmt: skip
        else:
            rd.write_json(config, {**BASES.get(preset, {}), "search": SEARCHES[preset]})
            results["searches"][preset] = _search(cli, data, config, search_dir, args, argv, preset)
        pick = _pick(cli, data, search_dir, args, preset, results["picks"].get(preset, {}))
        results["picks"][preset] = {"bench": header("search.py", argv), **pick}
        rd.write_json(args.out, results)  # partial results survive an interruption
    print(f"[bench] wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
