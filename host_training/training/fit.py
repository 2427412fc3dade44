"""Fitting that survives a kill: per-epoch checkpoints, an epoch-keyed schedule and order.

The learning rate (cosine decay) is a function of the epoch, and a resumed fit
draws and drops the shuffle orders of the epochs it already ran, so it sees what
one that never stopped would have seen. Each epoch checkpoints the weights, the
optimizer's variables (Adam's step count and moments) and, last, the epoch count
that makes them current. A student (no random layers, data from a seeded
``tf.data`` shuffle) therefore resumes to the very same weights; a teacher's
dropout masks and Keras's own shuffling of arrays still differ after a resume.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from pynq_mnist.atomic import atomic_path
from pynq_mnist.host_training.training.run_dir import read_json, write_json

keras = tf.keras

#: ``PYNQ_MNIST_STOP_AFTER=<stage>[@<epoch>]`` simulates a kill after that stage
#: (or that epoch of it) has been checkpointed: tests use it to check resuming.
STOP_ENV = "PYNQ_MNIST_STOP_AFTER"


class SimulatedKill(RuntimeError):
    """Raised where ``$PYNQ_MNIST_STOP_AFTER`` asks the run to stop."""


def stop_point(stage: str, epoch: int | None = None) -> None:
    """Raise :class:`SimulatedKill` if the environment asks to stop here."""
    want = os.environ.get(STOP_ENV, "")
    here = stage if epoch is None else f"{stage}@{epoch}"
    if want and want == here:
        raise SimulatedKill(f"stopped after {here} ({STOP_ENV}); run again to resume")


def cosine_lr(base: float, epochs: int, floor: float = 0.02) -> keras.callbacks.Callback:
    """Cosine decay from ``base`` to ``floor * base`` over ``epochs``, one value per epoch."""

    def rate(epoch: int, _lr: float) -> float:
        return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))

    return keras.callbacks.LearningRateScheduler(rate)


def _paths(stem: Path) -> tuple[Path, Path, Path]:
    """The checkpoint's weights, optimizer state and epoch/history files."""
    return tuple(
        stem.with_name(stem.name + ext) for ext in (".weights.h5", ".optimizer.npz", ".json")
    )


def save_optimizer(optimizer: keras.optimizers.Optimizer, path: Path, epoch: int) -> None:
    """The optimizer's variables, in its own order, tagged with the epoch they follow."""
    values = {f"v{i}": v.numpy() for i, v in enumerate(optimizer.variables)}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, epoch=epoch, **values)


def restore_optimizer(
    optimizer: keras.optimizers.Optimizer, variables: list, path: Path, epoch: int
) -> str | None:
    """Build ``optimizer`` on ``variables`` and load its state; the reason if it could not."""
    if not path.is_file():
        return "no optimizer state was saved"
    with np.load(path) as saved:
        if int(saved["epoch"]) != epoch:
            return f"the optimizer state is from epoch {int(saved['epoch'])}"
        values = [saved[f"v{i}"] for i in range(len(saved.files) - 1)]
    optimizer.build(variables)
    shapes = [tuple(v.shape) for v in optimizer.variables]
    if shapes != [v.shape for v in values]:
        return "the optimizer state does not fit this model"
    optimizer.set_weights(values)
    return None


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch: save ``target``'s weights, the optimizer, then the epoch count and history."""

    def __init__(self, target: keras.Model, stem: Path, stage: str, history: dict):
        super().__init__()
        self.target, self.stage, self.history = target, stage, history
        self.weights, self.optimizer_state, self.state = _paths(stem)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        with atomic_path(self.weights) as tmp:
            self.target.save_weights(tmp)
        save_optimizer(self.model.optimizer, self.optimizer_state, epoch + 1)
        write_json(self.state, {"epoch": epoch + 1, "history": self.history})
        stop_point(self.stage, epoch + 1)


def fit_resumable(
    model: keras.Model,
    target: keras.Model,
    data,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    checkpoint: Path | None,
    stage: str,
    validation: tuple | None = None,
    callbacks: list | None = None,
    verbose: int = 2,
) -> dict:
    """``model.fit`` for ``epochs``, resuming from ``checkpoint`` when one exists.

    ``data`` is ``(x, y)`` arrays or a batched ``tf.data.Dataset`` that reshuffles
    each iteration from a fixed seed (:func:`distill.batches`). ``target``
    is the model whose weights are checkpointed and trained (the student inside
    a distiller). Returns the history of all epochs, including those of earlier
    interrupted attempts.
    """
    history: dict = {}
    start = 0
    callbacks = [cosine_lr(lr, epochs), *(callbacks or [])]
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        weights, optimizer_state, saved = _paths(checkpoint)
        if saved.is_file():
            state = read_json(saved)
            start, history = state["epoch"], state["history"]
            target.load_weights(weights)
            why = restore_optimizer(
                model.optimizer, target.trainable_variables, optimizer_state, start
            )
            how = "optimizer state restored" if why is None else f"{why}: Adam restarts"
            print(f"[{stage}] resuming after epoch {start}/{epochs} ({how})", flush=True)
        callbacks.append(EpochCheckpoint(target, checkpoint, stage, history))
    if start < epochs:
        # arrays are batched and shuffled here; a tf.data.Dataset comes batched
        arrays = isinstance(data, tuple)
        if not arrays:
            # A seeded dataset that reshuffles draws its next order for each new
            # iterator: draw those of the epochs already run.
            for _ in range(start):
                iter(data)
        result = model.fit(
            *(data if arrays else (data,)),
            epochs=epochs,
            initial_epoch=start,
            batch_size=batch_size if arrays else None,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=arrays,
            verbose=verbose,
        )
        if checkpoint is None:
            history = {k: [float(v) for v in vs] for k, vs in result.history.items()}
    return history
