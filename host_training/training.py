"""Fitting that survives a kill: per-epoch checkpoints, an epoch-keyed schedule and order.

The learning rate (cosine decay) and the order of the training examples are
functions of the epoch, not of state that lives only in the process, so a fit
resumed from a checkpoint sees what one that never stopped would have seen.
Each epoch checkpoints the weights, the optimizer's variables (Adam's step count
and moments) and, last, the epoch count that makes them current. A model without
random layers (the students) therefore resumes to the very same weights; a
teacher's dropout masks still differ after a resume.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from pynq_mnist.host_training.run_dir import read_json, write_json

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


def epoch_batches(
    items: tuple[np.ndarray, ...], batch_size: int, seed: int, first_epoch: int, epochs: int
) -> tuple[tf.data.Dataset, int]:
    """Batches of ``items`` for epochs ``first_epoch`` to ``epochs - 1``, and the steps per epoch.

    Each epoch's order is a permutation drawn from ``(seed, epoch)`` alone, so a fit
    resumed at epoch k gets the batches an unbroken fit would have got from epoch k on.
    """
    n = len(items[0])
    steps = -(-n // batch_size)

    def generate():
        for epoch in range(first_epoch, epochs):
            order = np.random.default_rng([seed, epoch]).permutation(n)
            for step in range(steps):
                picked = order[step * batch_size : (step + 1) * batch_size]
                yield tuple(a[picked] for a in items)

    signature = tuple(tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)) for a in items)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.prefetch(2), steps


def _paths(stem: Path) -> tuple[Path, Path, Path]:
    """The checkpoint's weights, optimizer state and epoch/history files."""
    return tuple(
        stem.with_name(stem.name + ext) for ext in (".weights.h5", ".optimizer.npz", ".json")
    )


def save_optimizer(optimizer: keras.optimizers.Optimizer, path: Path, epoch: int) -> None:
    """The optimizer's variables, in its own order, tagged with the epoch they follow."""
    values = {f"v{i}": v.numpy() for i, v in enumerate(optimizer.variables)}
    tmp = path.with_name(".partial." + path.name)
    with open(tmp, "wb") as f:
        np.savez(f, epoch=epoch, **values)
    os.replace(tmp, path)


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
        tmp = self.weights.with_name(".partial." + self.weights.name)
        self.target.save_weights(tmp)
        os.replace(tmp, self.weights)
        save_optimizer(self.model.optimizer, self.optimizer_state, epoch + 1)
        write_json(self.state, {"epoch": epoch + 1, "history": self.history})
        stop_point(self.stage, epoch + 1)


def fit_resumable(
    model: keras.Model,
    target: keras.Model,
    items: tuple[np.ndarray, ...],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    checkpoint: Path | None,
    stage: str,
    validation: tuple | None = None,
    callbacks: list | None = None,
    verbose: int = 2,
) -> dict:
    """``model.fit`` for ``epochs``, resuming from ``checkpoint`` when one exists.

    ``items`` are the training arrays, ``(x, y)`` or ``(x, y, teacher_logits)``,
    batched here in an order keyed by ``seed`` and the epoch. ``target`` is the
    model whose weights are checkpointed and trained (the student inside a
    distiller). Returns the history of all epochs, including those of earlier
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
        batches, steps = epoch_batches(items, batch_size, seed, start, epochs)
        result = model.fit(
            batches,
            epochs=epochs,
            initial_epoch=start,
            steps_per_epoch=steps,
            validation_data=validation,
            callbacks=callbacks,
            verbose=verbose,
        )
        if checkpoint is None:
            history = {k: [float(v) for v in vs] for k, vs in result.history.items()}
    return history
