"""``pynq-mnist data check DIR``: what a dataset folder holds, and what is wrong with it.

Reads the folder as every command does (:mod:`pynq_mnist.mnist`) but reports
each split on its own, so one bad file does not hide the rest: file counts,
frames per class (an unbalanced split is flagged), the checksums checked, the
identity a run would record, and a PNG grid of sample images per class.
numpy and matplotlib only: it runs on the board too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pynq_mnist.mnist import DATA_HELP, SPLITS, DataError, Layout, layout, slug

#: A class with fewer frames than this share of the split's mean is flagged unbalanced.
BALANCE_FLOOR = 0.5
SAMPLES_PER_CLASS = 8


def split_report(lay: Layout, split: str) -> dict:
    """Counts and balance of one split, or the error that stops it being read."""
    try:
        images, labels, hashes = lay.read(split)
    except DataError as e:
        return {"split": split, "error": str(e)}
    counts = np.bincount(labels, minlength=len(lay.class_names))
    mean = counts.mean() if len(labels) else 0.0
    low = [
        f"{lay.class_names[k]!r} has {int(c)} frames (mean {mean:.0f})"
        for k, c in enumerate(counts)
        if c < BALANCE_FLOOR * mean or c == 0
    ]
    return {
        "split": split,
        "frames": int(len(labels)),
        "per_class": {name: int(c) for name, c in zip(lay.class_names, counts, strict=True)},
        "unbalanced": low,
        "sha256": hashes,
        "_images": images,
        "_labels": labels,
    }


def sample_grid(
    images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], path: Path, title: str
) -> None:
    """A PNG with one row per class of its first :data:`SAMPLES_PER_CLASS` images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, k = len(classes), SAMPLES_PER_CLASS
    fig, axes = plt.subplots(n, k, figsize=(k * 0.9 + 1.2, n * 0.9 + 0.6), squeeze=False)
    for c, row in enumerate(axes):
        picks = np.flatnonzero(labels == c)[:k]
        for j, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(picks):
                ax.imshow(images[picks[j]], cmap="gray_r", vmin=0, vmax=255)
            else:
                ax.axis("off")
        row[0].set_ylabel(classes[c], rotation=0, ha="right", va="center", fontsize=8)
        row[0].axis("on")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def check(data_dir: str, png: str | None) -> tuple[list[str], int]:
    """The report lines for ``data_dir`` and the exit status (2 when a split is unreadable)."""
    lay = layout(data_dir)  # a folder that declares nothing readable: DataError, one line
    checks = (
        f"md5 of each file against {lay.md5_from}"
        if lay.md5 is not None
        else "none (add MD5SUMS, or md5 in dataset.json, to have the files checked)"
    )
    lines = [
        f"dataset {lay.name!r} in {lay.folder} (declared by {lay.declared_by})",
        f"  classes    {', '.join(lay.class_names)}",
        f"  checksums  {checks}",
    ]
    reports = [split_report(lay, split) for split in SPLITS]
    errors = warnings = 0
    for r in reports:
        if "error" in r:
            errors += 1
            lines.append(f"  {r['split']:<10} ERROR {r['error']}")
            continue
        counts = r["per_class"].values()
        lines.append(
            f"  {r['split']:<10} {r['frames']} frames; per class {min(counts)}..{max(counts)}: "
            + ", ".join(f"{k} {v}" for k, v in r["per_class"].items())
        )
        for problem in r["unbalanced"]:
            warnings += 1
            lines.append(f"  {'':<10} WARNING unbalanced: {problem}")
    readable = [r for r in reports if "error" not in r]
    if readable:
        r = readable[-1]  # the test split when it reads
        path = Path(png or f"{slug(lay.name)}_samples.png")
        sample_grid(
            r["_images"], r["_labels"], lay.class_names, path, f"{lay.name}: {r['split']} samples"
        )
        lines.append(f"  samples    {path} ({SAMPLES_PER_CLASS} per class, {r['split']} split)")
    verdict = (
        f"{errors} split(s) unreadable: fix the file named above"
        if errors
        else "OK: every command can read this folder"
        + (f" ({warnings} warning(s))" if warnings else "")
    )
    lines.append(verdict)
    return lines, 2 if errors else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("check", help="validate a dataset folder and print what it holds")
    p.add_argument("dir", metavar="DIR", help=DATA_HELP.format(default="(required)"))
    p.add_argument("--png", help="sample grid to write (default NAME_samples.png here)")


def run(args: argparse.Namespace) -> int:
    lines, status = check(args.dir, args.png)
    print("\n".join(lines))
    return status
