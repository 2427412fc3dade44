"""A finished design-search folder, written as ``pynq-mnist tune`` leaves it, without training."""

from __future__ import annotations

from pathlib import Path

from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.config import resolve
from pynq_mnist.host_training.training.search import layout
from pynq_mnist.host_training.training.search.settings import settings

#: (epochs, validation accuracy, nonzero weights) of its trials; max_epochs is 4.
TRIALS = [(4, 0.97, 900), (4, 0.98, 1500), (2, 0.99, 100)]


def finished_search(out: Path) -> None:
    """keras-tuner's trial files (cnn, smoke base), ``front.json`` and a plot in ``out``:
    two full-length trials and one short one, whose accuracy must never count."""
    chosen = settings("cnn", {"budget": {"max_epochs": 4}})
    config = resolve({"arch": "cnn"}, preset="smoke")
    layout.write_settings(out, config, chosen, "pynq-mnist tune", {"train": 60000})
    for n, (epochs, accuracy, nonzero) in enumerate(TRIALS):
        results = {"val_accuracy": accuracy, "seconds": 1.0, "nonzero_weights": nonzero,
                   "max_weight_bits": 4, "bops": nonzero * 10, "cycles_per_frame": 784,
                   "bytes_per_frame": 792, "stored_weight_bits": nonzero * 40}  # fmt: skip
        metrics = {k: {"observations": [{"value": [v]}]} for k, v in results.items()}
        rd.write_json(out / layout.TUNER / f"trial_{n:04d}" / "trial.json", {
            "trial_id": f"{n:04d}", "status": "COMPLETED", "metrics": {"metrics": metrics},
            "hyperparameters": {"values": {"tuner/epochs": epochs, "filters.0": 4 + n}}})  # fmt: skip
    rd.write_json(out / layout.FRONT, layout.front_document(out, chosen, {}))
    (out / layout.PLOT).parent.mkdir()
    (out / layout.PLOT).write_bytes(b"png")
