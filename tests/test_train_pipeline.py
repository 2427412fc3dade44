"""End to end: a tiny run writes the whole RUN_DIR contract, and a killed run resumes."""

import json

import numpy as np
import pytest

from pynq_mnist import encoding
from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.config import ConfigError

pytestmark = pytest.mark.slow


def test_tiny_run_writes_every_output(tiny_run_dir):
    for name in (rd.CONFIG, rd.TEACHER, rd.STUDENT, rd.METRICS):
        assert (tiny_run_dir / name).is_file(), name
    assert {p.name for p in (tiny_run_dir / rd.PLOTS).glob("*.png")} == {
        "training.png",
        "tuner_tradeoff.png",
    }
    m = rd.load_metrics(tiny_run_dir)
    assert (m["arch"], m["preset"], m["seed"]) == ("cnn", "smoke", 0)
    assert m["encoding"] == encoding.describe()
    assert m["config"] == rd.load_config(tiny_run_dir)
    assert m["data"]["used"]["test"] == m["config"]["data"]["test_subset"]
    for who in ("teacher", "student"):
        assert 0.0 <= m[who]["test_accuracy"] <= 1.0
    s = m["student"]
    assert 0 < s["nonzero_weights"] <= s["total_weights"]
    assert s["bops"] > 0 and 0.0 <= s["sparsity"] < 1.0
    assert s["within_limits"] is True
    assert set(s["layer_bits"]) == {"conv1", "conv2", "logits"}
    assert len(m["tuner"]["trials"]) == 2
    assert {"teacher", "tuner", "student"} <= set(m["stage_seconds"])
    assert m["versions"]["qkeras"] == "0.9.0"
    json.dumps(m)  # plain JSON all the way down


def test_saved_student_is_the_converter_contract(tiny_run_dir):
    student = rd.load_student(tiny_run_dir)
    kinds = [type(layer).__name__ for layer in student.layers]
    assert set(kinds) <= {"QConv2D", "QActivation", "MaxPooling2D", "Flatten", "QDense"}
    assert student.layers[-1].name == "logits"
    assert student.layers[-1].get_config()["activation"] == "linear"
    assert not any("prune" in layer.name for layer in student.layers)
    m = rd.load_metrics(tiny_run_dir)
    from pynq_mnist.host_training.training.compression import cost

    assert cost(student)["nonzero_weights"] == m["student"]["nonzero_weights"]
    # the saved student reproduces the recorded test accuracy on the recorded frames
    from pynq_mnist.mnist import load_mnist

    data = load_mnist()
    n = m["data"]["used"]["test"]
    x = encoding.to_network_input(data.test_images[:n])[..., None]
    acc = np.mean(np.argmax(student.predict(x, verbose=0), 1) == data.test_labels[:n])
    assert acc == pytest.approx(m["student"]["test_accuracy"])


TINY = {
    "arch": "mlp",
    "preset": "smoke",
    "data": {"train_subset": 400, "test_subset": 200},
    "student": {"units": [16, 16], "epochs": 2},
    "tuner": {
        "enabled": True,
        "trials": 2,
        "train_subset": 200,
        "space": {"units.0": {"choice": [8, 16]}},
    },
}


def test_killed_run_resumes_instead_of_restarting(tmp_path, monkeypatch, capsys):
    from pynq_mnist.host_training.training.fit import STOP_ENV, SimulatedKill
    from pynq_mnist.host_training.training.train import train

    out = tmp_path / "run"
    monkeypatch.setenv(STOP_ENV, "tuner@1")  # killed after the 1st of 2 tuner trials
    with pytest.raises(SimulatedKill):
        train(TINY, out)
    assert (out / rd.TEACHER).is_file() and not (out / rd.TUNER_RESULT).exists()
    teacher_mtime = (out / rd.TEACHER).stat().st_mtime_ns
    assert capsys.readouterr().out.count("tuner: trial") == 1

    monkeypatch.setenv(STOP_ENV, "student@1")  # killed after the 1st of 2 student epochs
    with pytest.raises(SimulatedKill):
        train(TINY, out)
    log = capsys.readouterr().out
    assert "teacher: found" in log and log.count("tuner: trial") == 1  # only the 2nd trial ran
    assert len(rd.read_json(out / rd.TUNER_RESULT)["trials"]) == 2
    assert not (out / rd.STUDENT).exists() and not (out / rd.METRICS).exists()
    tuner_mtime = (out / rd.TUNER_RESULT).stat().st_mtime_ns

    monkeypatch.delenv(STOP_ENV)
    metrics = train(TINY, out)
    log = capsys.readouterr().out
    assert "teacher: found" in log and "tuner: found finished search" in log
    assert "[student] resuming after epoch 1/2 (optimizer state restored)" in log
    assert (out / rd.TEACHER).stat().st_mtime_ns == teacher_mtime
    assert (out / rd.TUNER_RESULT).stat().st_mtime_ns == tuner_mtime
    assert len(metrics["student"]["history"]["accuracy"]) == 2  # both epochs, across the kill
    assert set(metrics["stage_seconds"]) == {"teacher", "tuner", "student"}

    unbroken = tmp_path / "unbroken"  # the same run, never killed: the very same student
    assert train(TINY, unbroken)["student"]["test_accuracy"] == metrics["student"]["test_accuracy"]
    for got, want in zip(
        rd.load_student(out).get_weights(), rd.load_student(unbroken).get_weights(), strict=True
    ):
        np.testing.assert_array_equal(got, want)

    with pytest.raises(ConfigError, match="holds a run with a different configuration"):
        train({**TINY, "seed": 1}, out)
