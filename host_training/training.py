"""Fitting that survives a kill: per-epoch checkpoints, an epoch-keyed schedule.

The learning rate is a function of the epoch (cosine decay), not of the
optimizer's step counter, so a run resumed from a weights checkpoint follows the
same schedule as one that never stopped. Optimizer moments are not
checkpointed: a resumed epoch starts Adam afresh.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

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


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch: save ``target``'s weights, then the epoch count and history."""

    def __init__(self, target: keras.Model, stem: Path, stage: str, history: dict):
        super().__init__()
        self.target, self.stage, self.history = target, stage, history
        self.weights = stem.with_name(stem.name + ".weights.h5")
        self.state = stem.with_name(stem.name + ".json")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        tmp = self.weights.with_name(".partial." + self.weights.name)
        self.target.save_weights(tmp)
        os.replace(tmp, self.weights)
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

    ``data`` is ``(x, y)`` arrays or a batched ``tf.data.Dataset``. ``target``
    is the model whose weights are checkpointed (the student inside a
    distiller). Returns the history of all epochs, including those of earlier
    interrupted attempts.
    """
    history: dict = {}
    start = 0
    callbacks = [cosine_lr(lr, epochs), *(callbacks or [])]
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        saved = checkpoint.with_name(checkpoint.name + ".json")
        if saved.is_file():
            state = read_json(saved)
            start, history = state["epoch"], state["history"]
            target.load_weights(checkpoint.with_name(checkpoint.name + ".weights.h5"))
            print(f"[{stage}] resuming after epoch {start}/{epochs}", flush=True)
        callbacks.append(EpochCheckpoint(target, checkpoint, stage, history))
    if start < epochs:
        # arrays are batched and shuffled here; a tf.data.Dataset comes batched
        arrays = isinstance(data, tuple)
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
