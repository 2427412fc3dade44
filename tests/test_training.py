"""fit_resumable: a killed fit resumes with its weights, its epoch, Adam's state and its data order."""

import numpy as np
import pytest
import tensorflow as tf

from pynq_mnist.host_training.training.distill import batches
from pynq_mnist.host_training.training.fit import STOP_ENV, SimulatedKill, fit_resumable

EPOCHS, BATCH, SAMPLES = 3, 16, 64
STEPS_PER_EPOCH = SAMPLES // BATCH


def _model() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(3)])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(SAMPLES, 8)).astype("float32"), rng.integers(0, 3, SAMPLES)


class _AtStart(tf.keras.callbacks.Callback):
    """Records the optimizer's step count and variables as the fit begins."""

    def on_train_begin(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations.numpy())
        self.values = [v.numpy().copy() for v in self.model.optimizer.variables]


def _fit(model, checkpoint, callbacks=(), data=None):
    return fit_resumable(
        model, model, _data() if data is None else data, epochs=EPOCHS, batch_size=BATCH, lr=0.01,
        checkpoint=checkpoint, stage="unit", callbacks=list(callbacks), verbose=0,
    )  # fmt: skip


def _seeded_batches():
    """The student's kind of data: a seeded ``tf.data`` shuffle, new orders each epoch."""
    return batches(*_data(), None, BATCH, seed=0)


def _killed_after_first_epoch(tmp_path, monkeypatch, data=None):
    """A fit killed after epoch 1; the optimizer variables it had then."""
    model = _model()
    monkeypatch.setenv(STOP_ENV, "unit@1")
    with pytest.raises(SimulatedKill):
        _fit(model, tmp_path / "ckpt", data=data)
    monkeypatch.delenv(STOP_ENV)
    return [v.numpy().copy() for v in model.optimizer.variables]


def test_a_resumed_fit_continues_adam_where_it_stopped(tmp_path, monkeypatch, capsys):
    at_kill = _killed_after_first_epoch(tmp_path, monkeypatch)
    start = _AtStart()
    history = _fit(_model(), tmp_path / "ckpt", [start])
    assert "resuming after epoch 1/3 (optimizer state restored)" in capsys.readouterr().out
    assert start.iterations == STEPS_PER_EPOCH  # Adam's bias correction goes on, not restarts
    assert len(start.values) == len(at_kill) > 1  # step count and both moments of each variable
    for got, want in zip(start.values, at_kill, strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(history["loss"]) == EPOCHS


def test_a_stale_optimizer_state_is_not_used(tmp_path, monkeypatch, capsys):
    _killed_after_first_epoch(tmp_path, monkeypatch)
    state = tmp_path / "ckpt.optimizer.npz"
    with np.load(state) as saved:
        values = {k: saved[k] for k in saved.files}
    np.savez(state, **{**values, "epoch": 0})  # as if killed between the two writes
    start = _AtStart()
    _fit(_model(), tmp_path / "ckpt", [start])
    out = capsys.readouterr().out
    assert "(the optimizer state is from epoch 0: Adam restarts)" in out
    assert start.iterations == 0


def test_a_resumed_fit_ends_with_the_weights_of_an_unbroken_one(tmp_path, monkeypatch):
    unbroken = _model()
    _fit(unbroken, None, data=_seeded_batches())
    _killed_after_first_epoch(tmp_path, monkeypatch, data=_seeded_batches())
    resumed = _model()
    _fit(resumed, tmp_path / "ckpt", data=_seeded_batches())
    for got, want in zip(resumed.get_weights(), unbroken.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
