"""The run's pictures: training curves and the tuner's accuracy-vs-cost trade-off."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_curves(histories: dict[str, dict], path: Path) -> None:
    """Loss and accuracy per epoch (train and validation) of each named model."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for name, history in histories.items():
        for key, style in (("", "-"), ("val_", "--")):
            label = f"{name} {'val' if key else 'train'}"
            if f"{key}loss" in history:
                epochs = range(1, len(history[f"{key}loss"]) + 1)
                ax_loss.plot(epochs, history[f"{key}loss"], style, label=label)
            if f"{key}accuracy" in history:
                epochs = range(1, len(history[f"{key}accuracy"]) + 1)
                ax_acc.plot(epochs, history[f"{key}accuracy"], style, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss (hard + soft for distilled training)")
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


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
