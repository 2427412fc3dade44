"""bench/train.py on the smoke run: the results file and the KD ablation."""

import json
import shutil

import bench_scripts
import pytest

pytestmark = pytest.mark.slow


def _bench():
    return bench_scripts.load("train")


def test_quick_bench_writes_results_with_ablation(tiny_run_dir, tmp_path):
    bench = _bench()
    shutil.copytree(tiny_run_dir, tmp_path / "runs" / "cnn")  # the pipeline run resumes as done
    out = tmp_path / "train.json"
    # a file an earlier call wrote: its other preset's row stays, with that call's header
    earlier = {"command": "python bench/train.py --quick --presets mlp", "quick": True,
               "cnn": {"student_accuracy": 0.1}, "mlp": {"student_accuracy": 0.5}}  # fmt: skip
    out.write_text(json.dumps(earlier))
    argv = ["--quick", "--presets", "cnn", "--ablation-presets", "cnn", "--seeds", "1"]
    argv += ["--runs", str(tmp_path / "runs"), "--out", str(out)]
    assert bench.main(argv) == 0
    results = json.loads(out.read_text())
    assert results["command"].startswith("python bench/train.py --quick")
    assert results["mlp"] == {"bench": {"command": earlier["command"]}, "student_accuracy": 0.5}
    row = results["cnn"]
    assert row["bench"]["command"] == results["command"]
    metrics = json.loads((tiny_run_dir / "metrics.json").read_text())
    assert row["teacher_accuracy"] == metrics["teacher"]["test_accuracy"]
    assert row["student_accuracy"] == metrics["student"]["test_accuracy"]
    assert row["student_nonzero_weights"] == metrics["student"]["nonzero_weights"]
    assert row["student_max_weight_bits"] == metrics["student"]["max_weight_bits"]
    assert row["wall_seconds"] > 0
    ab = row["ablation"]
    assert len(ab["kd_accuracy"]) == len(ab["no_kd_accuracy"]) == 1
    assert ab["kd_mean"] - ab["no_kd_mean"] == pytest.approx(ab["kd_gain_mean"])
    kd_run = json.loads(
        (tmp_path / "runs" / "cnn-ablation" / "kd-seed0" / "metrics.json").read_text()
    )
    no_kd = json.loads(
        (tmp_path / "runs" / "cnn-ablation" / "no_kd-seed0" / "metrics.json").read_text()
    )
    assert (
        kd_run["student"]["config"]["kd"]["enabled"]
        and not no_kd["student"]["config"]["kd"]["enabled"]
    )
    assert kd_run["teacher"]["test_accuracy"] == row["teacher_accuracy"]  # the same teacher


def test_targets_are_checked_against_the_issue():
    bench = _bench()
    row = {
        "teacher_accuracy": 0.994,
        "student_accuracy": 0.989,
        "student_max_weight_bits": 6,
        "student_nonzero_weights": 9000,
        "wall_seconds": 100,
    }
    met = bench.targets_met("cnn", row)
    assert met == {
        "teacher_accuracy": True,
        "student_accuracy": False,
        "max_weight_bits": True,
        "nonzero_weights": True,
        "wall_seconds": True,
    }
    assert bench.targets_met("smoke", row) is None
