"""The pictures: training curves, the tuner's trade-off, and the design search's front."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_curves(histories: dict[str, dict], path: Path) -> None:
    """Label cross-entropy and accuracy per epoch (train and validation) of each model.

    A distilled student's train loss is its hard (label) term, comparable with
    the validation loss; the soft term is in ``metrics.json``.
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for name, history in histories.items():
        train_loss = "hard_loss" if "hard_loss" in history else "loss"
        for split, loss, acc, style in (
            ("train", train_loss, "accuracy", "o-"),
            ("val", "val_loss", "val_accuracy", "s--"),
        ):
            for ax, key in ((ax_loss, loss), (ax_acc, acc)):
                if key in history:
                    epochs = range(1, len(history[key]) + 1)
                    ax.plot(epochs, history[key], style, ms=3, label=f"{name} {split}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy on labels")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def tuner_tradeoff(trials: list[dict], limits: dict, best_trial: str, path: Path) -> None:
    """Validation accuracy against each cost (nonzero weights, BOPs) for every trial."""
    costs = ("nonzero_weights", "bops")
    fig, axes = plt.subplots(1, len(costs), figsize=(10, 4))
    for ax, cost in zip(axes, costs, strict=True):
        for trial in trials:
            best = trial["trial_id"] == best_trial
            ax.scatter(
                trial[cost],
                trial["val_accuracy"],
                marker="*" if best else "o",
                s=150 if best else 30,
                c="tab:red" if best else "tab:blue",
            )
        if limits.get(cost) is not None:
            ax.axvline(limits[cost], color="gray", ls="--", label="limit")
            ax.legend(fontsize=8)
        ax.set(xlabel=cost.replace("_", " "), ylabel="validation accuracy")
        ax.set_title(f"{len(trials)} tuner trials (star: chosen)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def search_front(
    trials: list[dict],
    front: list[dict],
    cost: str,
    max_epochs: int,
    references: list[dict],
    path: Path,
    limit: int | None = None,
) -> None:
    """Validation accuracy against ``cost``: every trial, the full-length front, references,
    and the search's ``limit`` on that cost.

    Shorter Hyperband trials are drawn faintly: they rank candidates, and are
    not front points. References (hand presets) carry their own split's accuracy.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    short = [t for t in trials if t["epochs"] != max_epochs]
    full = [t for t in trials if t["epochs"] == max_epochs]
    if short:
        ax.scatter([t[cost] for t in short], [t["val_accuracy"] for t in short],
                   s=15, c="lightgray", label="shorter trials (Hyperband rungs)")  # fmt: skip
    if full:
        ax.scatter([t[cost] for t in full], [t["val_accuracy"] for t in full],
                   s=25, c="tab:blue", label=f"full-length trials ({max_epochs} epochs)")  # fmt: skip
    if front:
        ax.step([t[cost] for t in front], [t["val_accuracy"] for t in front], "-o",
                where="post", c="tab:red", ms=5, label="Pareto front")  # fmt: skip
    for ref in references:
        if ref.get(cost) is not None:
            ax.scatter(ref[cost], ref["accuracy"], marker="*", s=150, c="tab:green")
            ax.annotate(f"{ref['name']} ({ref['split']})", (ref[cost], ref["accuracy"]),
                        fontsize=8, xytext=(4, 4), textcoords="offset points")  # fmt: skip
    if limit is not None:
        ax.axvline(limit, color="gray", ls="--", lw=1, label=f"limit ({limit:,})")
    ax.set(xlabel=cost.replace("_", " "), ylabel="validation accuracy")
    if trials and min(t[cost] for t in trials) > 0:
        ax.set_xscale("log")
    ax.set_title(f"design search: {len(trials)} trials, {len(front)} on the front", fontsize=9)
    ax.grid(alpha=0.3)
    if trials:
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
