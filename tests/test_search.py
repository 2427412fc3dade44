"""The design search: fronts, picks, refusals, and a real distributed search on localhost.

The distributed tests run ``pynq-mnist tune`` as a process (a chief and workers
talking keras-tuner's gRPC on loopback) on a tiny data subset and a tiny space,
and kill processes with SIGKILL the way a user's crash or Ctrl-C would.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_folders import finished_search

from pynq_mnist import cli
from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.host_training.training.search import engine, front, layout
from pynq_mnist.host_training.training.search.settings import settings

# --------------------------------------------------------------------------- fronts


def _point(trial_id, accuracy, nonzero, bits=4, **costs):
    return {
        "trial_id": trial_id,
        "val_accuracy": accuracy,
        "nonzero_weights": nonzero,
        "max_weight_bits": bits,
        "bops": costs.get("bops", nonzero * 10),
        "cycles_per_frame": costs.get("cycles", 784),
        "bytes_per_frame": 792,
        "stored_weight_bits": costs.get("stored_bits", nonzero * 40),
        "rtl_lut_estimate": costs.get("rtl_lut_estimate"),
    }


FRONT_CASES = [
    # (points as (id, accuracy, nonzero), ids on the front cheapest first)
    ([("a", 0.90, 100), ("b", 0.95, 200), ("c", 0.97, 400)], ["a", "b", "c"]),
    ([("a", 0.90, 100), ("b", 0.89, 200), ("c", 0.97, 400)], ["a", "c"]),  # b dominated
    ([("a", 0.95, 100), ("b", 0.95, 200)], ["a"]),  # same accuracy, dearer: not on it
    ([("b", 0.93, 100), ("a", 0.93, 100)], ["a"]),  # exact tie: the first id
    ([("a", 0.90, 500), ("b", 0.96, 100), ("c", 0.99, 900)], ["b", "c"]),
    ([("a", 0.5, 10)], ["a"]),
    ([], []),
]


@pytest.mark.parametrize("points,expected", FRONT_CASES)
def test_front_of_hand_made_sets(points, expected):
    trials = [_point(*p) for p in points]
    assert [p["trial_id"] for p in front.pareto_front(trials, "nonzero_weights")] == expected


def test_front_against_another_cost():
    trials = [_point("a", 0.9, 100, bops=900), _point("b", 0.95, 200, bops=300)]
    assert [p["trial_id"] for p in front.pareto_front(trials, "bops")] == ["b"]
    with pytest.raises(ConfigError, match="unknown cost 'area'"):
        front.pareto_front(trials, "area")


def test_pick_within_limits():
    trials = [
        _point("0", 0.990, 9000, bits=6),
        _point("1", 0.985, 1900, bits=5),
        _point("2", 0.987, 1950, bits=6),
        _point("3", 0.980, 800, bits=4),
    ]
    assert front.pick(trials, {"nonzero_weights": 2000, "max_weight_bits": 5})["trial_id"] == "1"
    assert front.pick(trials, {"nonzero_weights": 2000})["trial_id"] == "2"
    assert front.pick(trials, {"nonzero_weights": 10000, "bops": None})["trial_id"] == "0"
    with pytest.raises(front.NoPointFits, match=r"nonzero_weights <= 500.*nonzero_weights >= 800"):
        front.pick(trials, {"nonzero_weights": 500})
    with pytest.raises(ConfigError, match="unknown limit 'luts'"):
        front.pick(trials, {"luts": 100})
    with pytest.raises(ConfigError, match="limit nonzero_weights must be a positive integer"):
        front.pick(trials, {"nonzero_weights": 0})


# --------------------------------------------------------------------------- refusals

BAD_SEARCHES = [
    ({"space": {"filters": {"choice": [8, 0]}}}, r"space\.filters takes ints in \[1, 512\], got 0"),
    ({"space": {"units": {"choice": [8]}}}, r"space\.units is not a search dimension of the cnn"),
    (
        {"space": {"lr": {"min": 0.1, "max": 0.01}}},
        r"search\.space\.lr: min \(0\.1\) must be below",
    ),
    ({"space": {"conv_blocks": {"choice": [4]}}}, r"space\.conv_blocks takes ints in \[1, 3\]"),
    ({"space": {"sparsity": {"choice": []}}}, r"'choice' is empty"),
    ({"space": {"dense": {"min": 1, "max": 8}}}, r"space\.dense takes a 'choice' list"),
    ({"budget": {"max_epochs": 0}}, r"max_epochs must be at least 1, got 0"),
    ({"budget": {"factor": 1}}, r"factor must be at least 2"),
    ({"budget": {"trials": 8}}, r"search\.budget\.trials: Extra inputs are not permitted"),
    ({"limits": {"nonzero": 2000}}, r"search\.limits\.nonzero: Extra inputs are not permitted"),
    ({"limits": {"nonzero_weights": -5}}, r"nonzero_weights must be a positive integer or null"),
    ({"limits": {"max_weight_bits": "5"}}, r"search\.limits\.max_weight_bits"),
    ({"cost": "luts"}, r"search\.cost"),
    ({"spaces": {}}, r"unknown search key\(s\) spaces"),
    (
        {"space": {"nonzero_fill": {"min": 0.5, "max": 1.0}}, "limits": {"nonzero_weights": 2000}},
        r"space\.nonzero_fill sets each trial's sparsity: drop space\.sparsity",
    ),
    (
        {"space": {"nonzero_fill": {"min": 0.5, "max": 1.0}, "sparsity": None}},
        r"space\.nonzero_fill needs limits\.nonzero_weights",
    ),
    (
        {"space": {"nonzero_fill": {"min": 0.5, "max": 1.5}, "sparsity": None}},
        r"space\.nonzero_fill takes floats in \[0\.01, 1\.0\]",
    ),
]


@pytest.mark.parametrize("search,message", BAD_SEARCHES)
def test_bad_space_budget_limit_keys_are_refused(search, message):
    with pytest.raises(ConfigError, match=message):
        settings("cnn", search)


def test_refused_before_any_training(tmp_path, capsys):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"search": {"budget": {"max_epochs": 0}}}))
    out = tmp_path / "search"
    rc = cli.main(["tune", "--arch", "cnn", "--config", str(config), "--out", str(out)])
    assert rc == 2
    assert "max_epochs must be at least 1" in capsys.readouterr().err
    assert not out.exists()  # nothing written, nothing trained
    rc = cli.main(["tune", "--arch", "cnn", "--workers", "0", "--out", str(out)])
    assert rc == 2 and "--workers must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["tune", "--arch", "cnn", "--budget", "huge", "--out", str(out)])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    assert not out.exists()


def test_a_space_whose_student_cannot_train_is_refused(tmp_path):
    # per-layer base bits cannot follow a search that changes the layer count
    from pynq_mnist.host_training.training.search.cli import prepare

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"student": {"bias_bits": [8, 6, 8]}}))
    args = _args(tmp_path, config=str(config))
    with pytest.raises(ConfigError, match=r"search\.space\.conv_blocks = 1: student\.bias_bits"):
        prepare(args)


def test_a_per_layer_base_follows_the_layers_where_its_layers_agree():
    """A base written per layer (as a pick is) still seeds a search that changes the
    depth: agreeing layers give their one value, and drawn values never need the base's."""
    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.search import space

    base = resolve({"arch": "cnn", "student": {"filters": [16, 12], "bias_bits": [8, 8, 8],
                                               "weight_bits": [5, 6, 6]}})["student"]  # fmt: skip
    drawn = {"conv_blocks": 3, "weight_bits.conv1": 4, "weight_bits.conv2": 5,
             "weight_bits.conv3": 6, "weight_bits.logits": 3}  # fmt: skip
    student = space.student(base, "cnn", drawn, 2)
    assert student["bias_bits"] == [8, 8, 8, 8] and student["weight_bits"] == [4, 5, 6, 3]
    with pytest.raises(ConfigError, match="student.weight_bits is given per layer"):
        space.student(base, "cnn", {"conv_blocks": 3}, 2)


def test_a_worker_needs_the_chief_and_the_same_dataset(tmp_path, monkeypatch, capsys):
    from pynq_mnist.host_training.training.search import engine

    for name in (engine.TUNER_ID, engine.ORACLE_IP, engine.ORACLE_PORT):
        monkeypatch.delenv(name, raising=False)
    rc = cli.main(["tune", "--worker", "--out", str(tmp_path)])
    assert rc == 2 and "KERASTUNER_TUNER_ID is not set" in capsys.readouterr().err
    monkeypatch.setenv(engine.TUNER_ID, "chief")
    rc = cli.main(["tune", "--worker", "--out", str(tmp_path)])
    assert rc == 2 and "must not be called 'chief'" in capsys.readouterr().err

    class Data:
        def __init__(self, train):
            self.train = train

        def describe(self):
            return {"class_names": list("0123456789"), "train": self.train, "test": 10000,
                    "source": "/somewhere"}  # fmt: skip

    (tmp_path / layout.SETTINGS).write_text(
        json.dumps({"dataset": layout.dataset_identity(Data(60000))})
    )
    layout.check_dataset(tmp_path, Data(60000))
    with pytest.raises(ConfigError, match="is not the one the search .* runs on"):
        layout.check_dataset(tmp_path, Data(59000))


def _args(tmp_path, **over):
    import argparse

    base = dict(arch="cnn", preset=None, config=None, budget="default", out=str(tmp_path / "s"),
                workers=1, bind="127.0.0.1", port=0, data=None, seed=None,
                algorithm=None)  # fmt: skip
    return argparse.Namespace(**(base | over))


# --------------------------------------------------------------------------- real searches

#: A tiny search: 300 training images, one conv block of 2-4 filters, Hyperband
#: with max_epochs 2 and factor 2 (5 trials: 2 of 1 epoch, 3 of 2 epochs).
TINY = {
    "data": {"train_subset": 300, "test_subset": 200},
    "search": {
        "space": {
            "conv_blocks": {"choice": [1]},
            "filters": {"choice": [2, 3, 4]},
            "dense": {"choice": [0]},
            "weight_bits": {"choice": [3, 4]},
            "activation_bits": None,
            "kd_temperature": None,
            "kd_alpha": None,
            "augment": None,
        },
    },
}
PLANNED = 5


def _tune(tmp_path: Path, out: Path, workers: int, *extra: str) -> subprocess.Popen:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    cmd = [sys.executable, "-m", "pynq_mnist", "tune", "--arch", "cnn", "--preset", "smoke",
           "--budget", "smoke", "--config", str(config), "--workers", str(workers),
           "--out", str(out), *extra]  # fmt: skip
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 240.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"tune ended early:\n{proc.stdout.read()}")
        time.sleep(0.2)
    raise AssertionError("timed out")


def _ongoing(out: Path) -> dict:
    try:
        return json.loads((out / "tuner" / "oracle.json").read_text())["ongoing_trials"]
    except (OSError, json.JSONDecodeError, KeyError):
        return {}


def _trial_starts(out: Path) -> list[str]:
    """Trial ids in the order the workers started them, from their logs."""
    starts = []
    for log in sorted((out / layout.LOGS).glob("worker*.log")):
        starts += re.findall(r"\[search worker\d+\] trial (\d+)", log.read_text())
    return starts


@pytest.fixture(scope="module")
def killed_worker_search(tmp_path_factory):
    """chief + 2 workers; worker1 is SIGKILLed while it runs a trial."""
    tmp = tmp_path_factory.mktemp("search2")
    out = tmp / "search"
    proc = _tune(tmp, out, workers=2)
    try:
        trial = _wait_for(lambda: _ongoing(out).get("worker1"), proc)
        pid = json.loads((out / "state" / "pids.json").read_text())["worker1"]
        os.kill(pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return out, trial, proc.returncode, output


@pytest.mark.slow
def test_two_worker_search_runs_every_trial_once(killed_worker_search):
    out, killed, rc, output = killed_worker_search
    assert rc == 0, output
    doc = json.loads((out / layout.FRONT).read_text())
    assert [t["status"] for t in doc["trials"]] == ["COMPLETED"] * PLANNED
    assert len({t["trial_id"] for t in doc["trials"]}) == PLANNED
    starts = _trial_starts(out)
    # every trial started once, but the killed one, which its restarted worker reran
    assert sorted(starts) == sorted([t["trial_id"] for t in doc["trials"]] + [killed])
    assert {t["epochs"] for t in doc["trials"]} == {1, 2}  # Hyperband's rungs
    assert "worker0" in {p.stem for p in (out / layout.LOGS).glob("*.log")}
    # the front: full-length trials only, and the one pareto_front gives
    config, chosen = layout.read_settings(out)
    full = layout.full_length(doc["trials"], chosen)
    assert {t["epochs"] for t in full} == {2}
    assert doc["front"] == [p["trial_id"] for p in front.pareto_front(full, "nonzero_weights")]
    assert doc["front"] and doc["progress"]["trials_done"] == PLANNED
    for t in doc["trials"]:
        assert 0 <= t["val_accuracy"] <= 1 and t["nonzero_weights"] > 0
        assert t["max_weight_bits"] in (3, 4) and t["cycles_per_frame"] >= 784
    assert (out / layout.PLOT).stat().st_size > 0


@pytest.mark.slow
def test_killed_worker_loses_only_its_trial(killed_worker_search):
    out, killed, rc, output = killed_worker_search
    assert rc == 0, output
    assert re.search(rf"worker1 died \(exit -9\) while running trial {killed}; restarted", output)
    doc = json.loads((out / layout.FRONT).read_text())
    assert {t["trial_id"]: t["status"] for t in doc["trials"]}[killed] == "COMPLETED"


@pytest.mark.slow
def test_from_search_trains_the_pick_or_refuses(killed_worker_search, tmp_path, capsys):
    out, _, rc, _ = killed_worker_search
    assert rc == 0
    doc = json.loads((out / layout.FRONT).read_text())
    by_id = {t["trial_id"]: t for t in doc["trials"]}
    cheapest = by_id[doc["front"][0]]
    rc = cli.main(["train", "--from-search", str(out), "--out", str(tmp_path / "none"),
                   "--max-nonzero", str(cheapest["nonzero_weights"] - 1)])  # fmt: skip
    assert rc == 2
    assert "no full-length trial of the search fits" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    run = tmp_path / "pick"
    rc = cli.main(["train", "--from-search", str(out), "--out", str(run),
                   "--max-nonzero", str(cheapest["nonzero_weights"])])  # fmt: skip
    assert rc == 0
    metrics = json.loads((run / "metrics.json").read_text())
    # the retrained pick is that very trial: same student, same cost, same validation curve
    assert metrics["student"]["nonzero_weights"] == cheapest["nonzero_weights"]
    assert metrics["student"]["history"]["val_accuracy"][-1] == pytest.approx(
        cheapest["val_accuracy"], abs=1e-6
    )
    assert (
        json.loads((run / "search_pick.json").read_text())["trial"]["trial_id"]
        == cheapest["trial_id"]
    )


@pytest.mark.slow
def test_search_resumes_after_a_kill(tmp_path):
    out = tmp_path / "search"
    proc = _tune(tmp_path, out, workers=1)
    try:
        _wait_for(
            lambda: any(t["status"] == "COMPLETED" for t in layout.trials(out)), proc
        )  # fmt: skip
        os.killpg(proc.pid, signal.SIGKILL)  # the whole command, as Ctrl-\ or a crash would
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = {t["trial_id"]: t for t in layout.trials(out) if t["status"] == "COMPLETED"}
    assert 1 <= len(before) < PLANNED
    proc = _tune(tmp_path, out, workers=1)
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output
    assert "teacher: found" in output
    after = {t["trial_id"]: t for t in layout.trials(out)}
    assert len(after) == PLANNED and all(t["status"] == "COMPLETED" for t in after.values())
    for trial_id, trial in before.items():
        assert after[trial_id] == trial  # finished trials are kept, not rerun
    starts = _trial_starts(out)
    assert all(starts.count(trial_id) == 1 for trial_id in before)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_search_costs_are_the_conversions(arch, tmp_path):
    """The search's costs from the Keras model, checked against hls4ml's graph of it: cycles
    per frame equal target_ii, stored weight bits the arrays hls4ml writes."""
    import hls4ml

    from pynq_mnist.host_training.conversion import hls4ml_config as hc
    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.models import build_student
    from pynq_mnist.host_training.training.search.costs import student_costs

    student = resolve({"arch": arch})["student"]
    model = build_student(
        student | ({"dense": [16], "weight_bits": 6} if arch == "cnn" else {}), arch
    )
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=hc.hls_config(model, arch), io_type=hc.IO_TYPES[arch],
        output_dir=str(tmp_path / "hls"), backend="Vivado",
    )  # fmt: skip
    stages = hc.target_ii(model, arch, hls_model)
    assert stages == hc.stage_cycles(model, arch, hc.planned_reuse_factors(model))
    costs = student_costs(model, arch)
    assert costs["cycles_per_frame"] == hc.frame_interval(stages, arch)
    # the weight and bias arrays hls4ml writes, zeros included, at their written widths
    written = [w for layer in hls_model.get_layers() for w in layer.get_weights()]
    assert costs["stored_weight_bits"] == sum(w.data.size * w.type.precision.width for w in written)


@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_augmentation_shifts_and_rotates_only_in_training(arch):
    import numpy as np

    from pynq_mnist.host_training.training.models import augmentation, input_shape

    x = np.zeros((8, 28, 28, 1), np.float32)
    x[:, 10:18, 12:16] = 0.5  # a bar away from the border
    x = x.reshape((8, *input_shape(arch)))
    aug = augmentation(arch, seed=0)
    moved = np.asarray(aug(x, training=True))
    assert moved.shape == x.shape
    assert not np.allclose(moved, x)  # some images moved
    assert np.asarray(aug(x, training=False)) == pytest.approx(x)  # inference: untouched
    # small: the bar's mass stays (nothing shifted out of the frame), give or take resampling
    assert moved.sum(axis=tuple(range(1, moved.ndim))) == pytest.approx(x[0].sum(), rel=0.15)


def test_keras_tuner_state_files_are_whole_or_old_after_a_kill_mid_write(tmp_path, monkeypatch):
    """A chief killed while saving leaves the previous oracle.json, never an empty one."""
    from pathlib import Path

    from keras_tuner.src import utils

    from pynq_mnist.host_training.training.search.engine import use_atomic_state_files

    monkeypatch.setattr(utils, "save_json", utils.save_json)  # undone after the test
    use_atomic_state_files()
    state = tmp_path / "oracle.json"
    utils.save_json(str(state), {"trials": 1})

    def killed(self, text):
        Path(self).write_bytes(text[:3].encode())  # part of the file, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        utils.save_json(str(state), {"trials": 2})
    monkeypatch.undo()
    assert utils.load_json(str(state)) == {"trials": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.json"]


@pytest.mark.parametrize("resuming", [True, False])
def test_a_trial_that_ended_before_the_kill_is_not_trained_again(tmp_path, resuming):
    """keras-tuner saves ``oracle.json`` in ``end_trial`` before it pops the trial
    from ``ongoing_trials``: a chief killed then must still not rerun it."""
    import keras_tuner as kt

    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.search import engine

    config = resolve({"arch": "cnn"}, preset="smoke")
    search = settings("cnn", budget="smoke")

    def chief(restarted: bool):
        o = engine.oracle(search, config["student"], seed=0)
        if not resuming:  # keras-tuner's own oracle, to show the test sees the fault
            o.__class__ = kt.oracles.HyperbandOracle
        o._set_project_dir(str(tmp_path), "tuner")
        if restarted:
            o.reload()  # as BaseTuner does for a project that exists
        return o

    first = chief(restarted=False)
    trial = first.create_trial("worker0")
    first.update_trial(trial.trial_id, {engine.OBJECTIVE: 0.5})
    trial.status = "COMPLETED"
    first.end_trial(trial)  # the kill lands here, before worker0 asks again
    saved = json.loads((tmp_path / "tuner" / "oracle.json").read_text())
    assert saved["ongoing_trials"] == {"worker0": trial.trial_id}  # keras-tuner's window

    again = chief(restarted=True).create_trial("worker0")
    if resuming:
        assert again.trial_id != trial.trial_id
        assert again.status == "RUNNING"
    else:
        assert again.trial_id == trial.trial_id  # the rerun CI saw


def test_rtl_luts_are_measured_on_request_and_for_the_mlp_only():
    mlp = settings("mlp", {"cost": "rtl_lut_estimate"})
    assert mlp.requested_costs() == ("rtl_lut_estimate",)
    assert settings("mlp", {"limits": {"rtl_lut_estimate": 42000}}).requested_costs()
    assert settings("mlp").requested_costs() == ()
    with pytest.raises(ConfigError, match="rtl_lut_estimate is a cost of the mlp only"):
        settings("cnn", {"limits": {"rtl_lut_estimate": 42000}})
    trials = [_point("0", 0.98, 900, rtl_lut_estimate=30000), _point("1", 0.97, 800,
              rtl_lut_estimate=20000)]  # fmt: skip
    assert [p["trial_id"] for p in front.pareto_front(trials, "rtl_lut_estimate")] == ["1", "0"]
    assert front.pick(trials, {"rtl_lut_estimate": 25000})["trial_id"] == "1"
    unmeasured = [_point("0", 0.98, 900)]
    for call in (lambda: front.pick(unmeasured, {"rtl_lut_estimate": 25000}),
                 lambda: front.pareto_front(unmeasured, "rtl_lut_estimate")):  # fmt: skip
        with pytest.raises(ConfigError, match="do not record rtl_lut_estimate"):
            call()


def test_stored_bits_cap_the_weight_arrays_zeros_included():
    """Two MLPs within 25k nonzero weights: the wider one's zeros are stored too."""
    wide = _point("wide", 0.985, 22000, stored_bits=784 * 512 * 4)
    narrow = _point("narrow", 0.980, 22000, stored_bits=784 * 128 * 4)
    assert front.pick([wide, narrow], {"nonzero_weights": 25000})["trial_id"] == "wide"
    capped = {"nonzero_weights": 25000, "stored_weight_bits": 500_000}
    assert front.pick([wide, narrow], capped)["trial_id"] == "narrow"
    assert settings("mlp", {"limits": {"stored_weight_bits": 500_000}}).limits.stored_weight_bits
    older = [{k: v for k, v in wide.items() if k != "stored_weight_bits"}]
    with pytest.raises(ConfigError, match="made before the project measured it"):
        front.pick(older, capped)


def test_a_search_dir_resumes_its_own_search_only(tmp_path):
    base, dataset = {"arch": "cnn"}, {"train": "a"}
    layout.write_settings(tmp_path, base, settings("cnn"), "tune", dataset)
    layout.write_settings(tmp_path, base, settings("cnn"), "tune again", dataset)  # resumes
    with pytest.raises(ConfigError, match="holds a different search .*differs in: settings"):
        layout.write_settings(tmp_path, base, settings("mlp"), "tune", dataset)
    # saved before the stored_weight_bits limit existed: still the same search
    path = tmp_path / layout.SETTINGS
    doc = json.loads(path.read_text())
    del doc["settings"]["limits"]["stored_weight_bits"]
    path.write_text(json.dumps(doc))
    layout.write_settings(tmp_path, base, settings("cnn"), "tune", dataset)


def test_an_exported_search_is_picked_from_but_never_resumed(tmp_path):
    """``layout.export``: three files, no tuner state, from which ``--from-search`` picks
    what it picks from the live search; ``tune`` refuses to resume it."""
    from pynq_mnist.host_training.training.search import choose

    live, exported = tmp_path / "live", tmp_path / "exported"
    with pytest.raises(ConfigError, match="holds no finished search"):
        layout.export(live, exported)
    finished_search(live)
    layout.export(live, exported)
    files = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    assert files == sorted([layout.SETTINGS, layout.FRONT, layout.PLOT])
    assert layout.is_exported(exported) and not layout.is_exported(live)
    for limits in ({"nonzero_weights": 2000}, {"nonzero_weights": 1000}):
        assert choose.pick_config(exported, limits) == choose.pick_config(live, limits)
    assert choose.pick_config(exported, {"nonzero_weights": 2000})[1]["trial_id"] == "0001"
    with pytest.raises(front.NoPointFits):  # the short trial never counts, exported or not
        choose.pick_config(exported, {"nonzero_weights": 500})
    config, chosen = layout.read_settings(exported)
    with pytest.raises(ConfigError, match="exported search .* cannot be resumed"):
        layout.write_settings(exported, config, chosen, "pynq-mnist tune", {"train": 60000})
    layout.export(live, exported)  # again, over itself: fine
    # a live search's supervisor writes front.json before the chief makes tuner/: not an export
    shutil.rmtree(live / layout.TUNER)
    assert not layout.is_exported(live)
    layout.write_settings(live, config, chosen, "pynq-mnist tune", {"train": 60000})
    with pytest.raises(ConfigError, match="holds a search of its own"):
        layout.export(exported, live)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda front, settings: front.write_text("{ not json"), "front.json is not valid JSON"),
        (lambda front, settings: front.write_text('{"front": [], "exported_from": "x"}'),
         "front.json lacks trials"),
        (lambda front, settings: front.write_text('{"front": [], "trials": []}'),
         r"holds neither keras-tuner's trials \(tuner/\) nor an exported front"),
        (lambda front, settings: front.write_text(front.read_text().replace(
            '"val_accuracy"', '"accuracy"')), r"a trial lacks one of .*val_accuracy"),
        (lambda front, settings: settings.write_text(settings.read_text().replace(
            '"max_epochs": 4', '"max_epochs": 0')), r"search.json: settings.budget.*at least 1"),
    ],
)  # fmt: skip
def test_a_hand_edited_search_is_refused_in_one_line(tmp_path, capsys, edit, message):
    """``train --from-search`` on an exported search whose files were edited by hand:
    a one-line error naming the file, nothing trained, no traceback."""
    live, exported = tmp_path / "live", tmp_path / "exported"
    finished_search(live)
    layout.export(live, exported)
    edit(exported / layout.FRONT, exported / layout.SETTINGS)
    rc = cli.main(["train", "--from-search", str(exported), "--max-nonzero", "2000",
                   "--out", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and re.search(message, err) and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "arch, shape",
    [
        ("mlp", {"units": [256]}),
        ("mlp", {"units": [128, 32]}),
        ("cnn", {"filters": [8, 12], "dense": []}),
        ("cnn", {"filters": [16, 4, 12], "dense": [32]}),
    ],
)
def test_a_fill_of_the_budget_sets_the_sparsity_that_spends_it(arch, shape):
    """``nonzero_fill``: the trial's pruned student keeps that share of the nonzero budget,
    whatever its shape; the weight counts are Keras's own."""
    import numpy as np

    from pynq_mnist.host_training.training.config import resolve
    from pynq_mnist.host_training.training.models import build_student
    from pynq_mnist.host_training.training.search import space

    base = resolve({"arch": arch, "student": shape}, preset="smoke")["student"]
    model = build_student(base, arch)
    kernels = [int(np.prod(w.shape)) for w in model.weights if w.name.endswith("kernel:0")]
    biases = [int(np.prod(w.shape)) for w in model.weights if w.name.endswith("bias:0")]
    hidden, logits, bias_count = space.weight_counts(base, arch)
    assert (hidden + logits, logits, bias_count) == (sum(kernels), kernels[-1], sum(biases))
    limit = 2000 if arch == "cnn" else 25000
    for fill in (0.5, 1.0):
        student = space.student(base, arch, {"nonzero_fill": fill}, 3, nonzero_limit=limit)
        sparsity = student["pruning"]["sparsity"]
        kept = round(sum(np.ceil((1 - sparsity) * np.array(kernels)))) + sum(biases)
        if sum(kernels) + sum(biases) <= fill * limit:  # the whole net fits: nothing pruned
            assert sparsity == 0.0
        else:
            assert abs(kept - fill * limit) <= 0.01 * limit, kept
    with pytest.raises(ConfigError, match="needs limits.nonzero_weights"):
        space.student(base, arch, {"nonzero_fill": 1.0}, 3)


# --------------------------------------------------------------------------- Bayesian


def test_bayesian_spends_hyperbands_epochs_on_full_length_trials():
    from pynq_mnist.host_training.training.config import resolve

    for budget in ("smoke", "default"):
        hyperband = engine.planned_epochs(settings("cnn", budget=budget))
        chosen = settings("cnn", {"algorithm": "bayesian"}, budget=budget)
        bayesian = engine.planned_epochs(chosen)
        full = chosen.budget.max_epochs
        assert set(bayesian) == {full}
        assert sum(hyperband) - full < sum(bayesian) <= sum(hyperband)
        o = engine.oracle(chosen, resolve({"arch": "cnn"}, preset="smoke")["student"], seed=0)
        assert "BayesianOptimization" in type(o).__mro__[1].__name__
        assert o.max_trials == len(bayesian)


def test_an_unknown_algorithm_is_refused():
    with pytest.raises(ConfigError, match="algorithm"):
        settings("cnn", {"algorithm": "random"})


@pytest.mark.slow
def test_a_bayesian_search_runs_full_length_trials_on_two_workers(tmp_path):
    out = tmp_path / "search"
    proc = _tune(tmp_path, out, 2, "--algorithm", "bayesian")
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    config, chosen = layout.read_settings(out)
    assert chosen.algorithm == "bayesian"
    doc = json.loads((out / layout.FRONT).read_text())
    planned = len(engine.planned_epochs(chosen))
    assert [t["status"] for t in doc["trials"]] == ["COMPLETED"] * planned
    assert {t["epochs"] for t in doc["trials"]} == {chosen.budget.max_epochs}
    assert doc["front"] == [
        p["trial_id"] for p in front.pareto_front(doc["trials"], "nonzero_weights")
    ]
    # a second tune of the same folder with the other algorithm is another search: refused
    proc = _tune(tmp_path, out, 1)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "differs in: settings.algorithm" in output, output


def test_tune_refuses_an_out_folder_of_someone_elses_files(tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    rc = cli.main(["tune", "--arch", "cnn", "--budget", "smoke", "--out", str(mine)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a design search" in err[0] and "thesis.tex" in err[0]
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert (mine / "thesis.tex").read_text() == "years of work"
