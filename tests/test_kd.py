"""Distillation: the loss matches a hand computation; only the student learns."""

import math

import numpy as np
import pytest
import tensorflow as tf

from pynq_mnist.host_training.training.distill import Distiller, distillation_loss


def _log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    return z - z.max() - math.log(np.exp(z - z.max()).sum())


def test_kd_loss_equals_hand_computed_value():
    s = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]], np.float32)
    t = np.array([[3.0, 1.0, -2.0], [-1.0, 2.0, 1.0]], np.float32)
    y = np.array([0, 2])
    T, alpha = 2.0, 0.25
    hard = np.mean([-_log_softmax(s[i])[y[i]] for i in range(2)])
    kl = []
    for i in range(2):
        pt = np.exp(_log_softmax(t[i] / T))
        kl.append(np.sum(pt * (_log_softmax(t[i] / T) - _log_softmax(s[i] / T))))
    soft = np.mean(kl) * T**2
    total, got_hard, got_soft = distillation_loss(y, s, t, T, alpha)
    assert float(got_hard) == pytest.approx(hard, rel=1e-5)
    assert float(got_soft) == pytest.approx(soft, rel=1e-5)
    assert float(total) == pytest.approx((1 - alpha) * hard + alpha * soft, rel=1e-5)
    # soft targets from logits, not from probabilities: a sharper teacher changes the loss
    assert float(distillation_loss(y, s, 3 * t, T, alpha)[2]) != pytest.approx(float(got_soft))


def test_kd_loss_is_zero_soft_term_when_student_copies_teacher():
    t = np.array([[1.0, -2.0, 0.5]], np.float32)
    _, _, soft = distillation_loss(np.array([0]), t, t, 4.0, 0.5)
    assert float(soft) == pytest.approx(0.0, abs=1e-6)


def _mlp(name, seed):
    tf.keras.utils.set_random_seed(seed)
    return tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(3),
        ],
        name=name,
    )


def test_only_the_student_receives_gradients():
    student, teacher = _mlp("student", 0), _mlp("teacher", 1)
    distiller = Distiller(student, teacher, temperature=3.0, alpha=0.5)
    distiller.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = np.arange(16) % 3
    grads_and_vars, _ = distiller.compute_gradients((x, y))
    student_ids = {id(v) for v in student.trainable_variables}
    assert {id(v) for _, v in grads_and_vars} == student_ids
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g, _ in grads_and_vars)

    before_t = [w.copy() for w in teacher.get_weights()]
    before_s = [w.copy() for w in student.get_weights()]
    logs = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert logs["soft_loss"][0] > 0
    for a, b in zip(before_t, teacher.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b) for a, b in zip(before_s, student.get_weights(), strict=True)
    )


def test_without_teacher_the_loss_is_the_hard_loss():
    student = _mlp("student", 0)
    distiller = Distiller(student, None, temperature=3.0, alpha=0.9)
    distiller.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    logs = distiller.fit(x, np.arange(8) % 3, batch_size=8, epochs=1, verbose=0).history
    assert logs["soft_loss"][0] == 0
    assert logs["loss"][0] == pytest.approx(logs["hard_loss"][0])


def test_precomputed_teacher_logits_give_the_same_step():
    student, teacher = _mlp("student", 0), _mlp("teacher", 1)
    x = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    y = np.arange(8) % 3
    in_step = Distiller(student, teacher, temperature=2.0, alpha=0.6)
    given = Distiller(student, None, temperature=2.0, alpha=0.6)
    logits = teacher.predict(x, verbose=0)
    g1, out1 = in_step.compute_gradients((x, y))
    g2, out2 = given.compute_gradients((x, y, logits))
    assert float(out1["soft"]) > 0
    assert float(out1["loss"]) == pytest.approx(float(out2["loss"]), rel=1e-6)
    for (a, _), (b, _) in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
