"""Knowledge distillation from the teacher's logits, in a Keras ``train_step``.

The loss (Hinton et al. 2015) is::

    (1 - alpha) * CE(y, s) + alpha * T**2 * KL(softmax(t / T) || softmax(s / T))

with ``s`` and ``t`` the student's and teacher's *logits*. The ``T**2`` keeps the
soft term's gradients on the scale of the hard term's as ``T`` grows. Only the
student's variables receive gradients; the teacher runs in inference mode.
Batches are ``(x, y)``, the teacher's logits then computed in the step, or
``(x, y, teacher_logits)`` computed once beforehand (:func:`batches`;
the same numbers, since the teacher is fixed and runs in inference mode, for a
fraction of the time). Without teacher logits (or with ``alpha = 0``) the same
loop trains on the labels alone, which makes the KD ablation like-for-like.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

keras = tf.keras


def distillation_loss(
    labels: tf.Tensor,
    student_logits: tf.Tensor,
    teacher_logits: tf.Tensor | None,
    temperature: float,
    alpha: float,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(total, hard, soft)`` batch means; ``soft`` already includes ``T**2``."""
    hard = tf.reduce_mean(
        keras.losses.sparse_categorical_crossentropy(labels, student_logits, from_logits=True)
    )
    if teacher_logits is None or alpha == 0:
        return hard, hard, tf.zeros_like(hard)
    t = float(temperature)
    p_teacher = tf.nn.softmax(teacher_logits / t)
    kl = tf.reduce_sum(
        p_teacher * (tf.nn.log_softmax(teacher_logits / t) - tf.nn.log_softmax(student_logits / t)),
        axis=-1,
    )
    soft = tf.reduce_mean(kl) * t**2
    return (1.0 - alpha) * hard + alpha * soft, hard, soft


def batches(
    x: np.ndarray, y: np.ndarray, teacher_logits: np.ndarray | None, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Seeded, reshuffled batches of ``(x, y)``, or ``(x, y, teacher_logits)`` when given."""
    items = (x, y) if teacher_logits is None else (x, y, teacher_logits)
    ds = tf.data.Dataset.from_tensor_slices(items)
    return ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(batch_size)


class Distiller(keras.Model):
    """Trains ``student`` from labels and teacher logits (see the module docstring).

    ``augment`` (a Keras model, e.g. :func:`models.augmentation`) transforms
    each training batch before the student sees it. ``evaluate`` and
    ``predict`` use the student alone. Metrics: ``loss``,
    ``hard_loss``, ``soft_loss``, ``accuracy``.
    """

    def __init__(
        self,
        student: keras.Model,
        teacher: keras.Model | None = None,
        temperature: float = 4.0,
        alpha: float = 0.5,
        augment: keras.Model | None = None,
    ):
        super().__init__(name="distiller")
        self.student = student
        self.teacher = teacher
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.augment = augment
        if teacher is not None:
            teacher.trainable = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.hard_tracker = keras.metrics.Mean(name="hard_loss")
        self.soft_tracker = keras.metrics.Mean(name="soft_loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.hard_tracker, self.soft_tracker, self.accuracy]

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.student(x, training=training)

    def compute_gradients(self, data: tuple) -> tuple[list, dict]:
        """Gradients of the distillation loss w.r.t. the student's variables only."""
        x, y = data[:2]
        if self.alpha == 0:
            teacher_logits = None
        elif len(data) == 3:
            teacher_logits = data[2]
        elif self.teacher is not None:
            teacher_logits = self.teacher(x, training=False)
        else:
            teacher_logits = None
        if self.augment is not None:
            # Precomputed teacher logits are those of the unshifted image: the
            # shifts are small enough for the label and the teacher's view to hold.
            x = self.augment(x, training=True)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            total, hard, soft = distillation_loss(
                y, student_logits, teacher_logits, self.temperature, self.alpha
            )
            if self.student.losses:
                total += tf.add_n(self.student.losses)
        variables = self.student.trainable_variables
        grads = tape.gradient(total, variables)
        return list(zip(grads, variables, strict=True)), {
            "loss": total,
            "hard": hard,
            "soft": soft,
            "logits": student_logits,
        }

    def train_step(self, data: tuple) -> dict:
        grads_and_vars, out = self.compute_gradients(data)
        self.optimizer.apply_gradients(grads_and_vars)
        self.loss_tracker.update_state(out["loss"])
        self.hard_tracker.update_state(out["hard"])
        self.soft_tracker.update_state(out["soft"])
        self.accuracy.update_state(data[1], out["logits"])
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: tuple) -> dict:
        x, y = data
        logits = self.student(x, training=False)
        hard = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        )
        self.loss_tracker.update_state(hard)
        self.hard_tracker.update_state(hard)
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}
