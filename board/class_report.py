"""Per-class accuracy and the confusion matrix of a bench, named by the bundle's classes.

numpy and matplotlib only (the board side). ``bench.json`` carries the report
as ``per_class``; :func:`write_class_report` adds ``per_class.csv``,
``confusion.csv`` and ``confusion.png``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from pynq_mnist.atomic import atomic_path, write_text_atomic

#: Misclassified frames listed by index in the report (the first ones).
MISCLASSIFIED_LISTED = 100


def class_report(predicted: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Per-class frames, hits and accuracy, and ``confusion[true][predicted]`` counts."""
    n = len(classes)
    predicted, labels = np.asarray(predicted, np.int64), np.asarray(labels, np.int64)
    if predicted.shape != labels.shape:
        raise ValueError(f"{predicted.shape} predictions for {labels.shape} labels")
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    frames = confusion.sum(axis=1)
    correct = np.diag(confusion)
    wrong = np.flatnonzero(predicted != labels)[:MISCLASSIFIED_LISTED]
    return {
        "classes": list(classes),
        "per_class": [
            {
                "class": name,
                "frames": int(frames[k]),
                "correct": int(correct[k]),
                "accuracy": float(correct[k] / frames[k]) if frames[k] else None,
            }
            for k, name in enumerate(classes)
        ],
        "confusion": confusion.tolist(),
        "confusion_axes": "rows: true class, columns: predicted class, in the order of classes",
        "misclassified": [
            {"frame": int(i), "true": classes[labels[i]], "predicted": classes[predicted[i]]}
            for i in wrong
        ],
    }


def write_class_report(report: dict, out_dir: str | os.PathLike, title: str) -> list[Path]:
    """``per_class.csv``, ``confusion.csv`` and ``confusion.png`` in ``out_dir``; their paths."""
    out = Path(out_dir)
    classes = report["classes"]
    per_class = io.StringIO()
    w = csv.DictWriter(per_class, fieldnames=["class", "frames", "correct", "accuracy"])
    w.writeheader()
    w.writerows(report["per_class"])
    write_text_atomic(out / "per_class.csv", per_class.getvalue())
    confusion = io.StringIO()
    w = csv.writer(confusion)
    w.writerow(["true \\ predicted", *classes])
    w.writerows([name, *row] for name, row in zip(classes, report["confusion"], strict=True))
    write_text_atomic(out / "confusion.csv", confusion.getvalue())
    _plot(report, title, out / "confusion.png")
    return [out / "per_class.csv", out / "confusion.csv", out / "confusion.png"]


def _plot(report: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = report["classes"]
    confusion = np.array(report["confusion"])
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 1.0 + 0.5 * n))
    shown = np.where(confusion > 0, confusion, np.nan)  # empty cells stay blank
    ax.imshow(np.log1p(shown), cmap="Blues")
    dark = np.log1p(confusion) > np.log1p(confusion.max()) / 2
    for t in range(n):
        for p in range(n):
            if confusion[t, p]:
                color = "white" if dark[t, p] else "black"
                ax.text(
                    p, t, str(confusion[t, p]), ha="center", va="center", fontsize=7, color=color
                )
    accuracy = [r["accuracy"] for r in report["per_class"]]
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(
        range(n),
        [
            f"{c} ({a:.1%})" if a is not None else f"{c} (-)"
            for c, a in zip(classes, accuracy, strict=True)
        ],
        fontsize=8,
    )
    ax.set(xlabel="predicted class", ylabel="true class (per-class accuracy)", title=title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
