"""A custom dataset made here goes train -> convert -> emulated bench -> pipeline summary.

Own file names (dataset.json), class names that are not digits, and
``$PYNQ_MNIST_DATA`` pointing at MNIST all along: the run's dataset must win,
and its names must reach the bundle, the bench outputs and the summary.
"""

import csv
import json

import pytest
from custom_dataset import CLASSES, write_custom_dataset

from pynq_mnist.bundle import Bundle
from pynq_mnist.cli import main

#: The smallest job that still trains, prunes, distills and converts a CNN.
TINY = {
    "tuner": {"enabled": False},
    "teacher": {"filters": [4, 8], "dense": [16], "epochs": 2},
    "student": {"filters": [4, 8], "epochs": 3, "lr": 0.01},
}
BENCH = ["--latency-calls", "20", "--batches", "1,8", "--frames-per-point", "16"]


@pytest.mark.slow
def test_custom_dataset_end_to_end(tmp_path, monkeypatch, capsys, mnist_dir):
    monkeypatch.setenv(
        "PYNQ_MNIST_DATA", str(mnist_dir)
    )  # the Makefile's setting: must not be used
    data = tmp_path / "shapes"
    write_custom_dataset(data)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "pipeline"
    run, bundle_dir, bench = out / "cnn" / "run", out / "cnn" / "bundle", tmp_path / "bench"

    train = ["train", "--arch", "cnn", "--preset", "smoke", "--config", str(config)]
    assert main([*train, "--out", str(run), "--data", str(data)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["name"] == "Patch Shapes" and len(metrics["data"]["sha256"]) == 4

    assert main(["convert", str(run), "--out", str(bundle_dir)]) == 0  # no --data: the run's
    meta = Bundle(bundle_dir).metadata
    assert meta.name == "patch_shapes_cnn" and meta.classes == CLASSES
    assert meta.dataset.name == "Patch Shapes" and meta.dataset.source == str(data)
    assert meta.accuracy["frames"] == 200
    capsys.readouterr()

    assert (
        main(["convert", str(run), "--out", str(tmp_path / "other"), "--data", str(mnist_dir)]) == 2
    )
    err = capsys.readouterr().err
    assert "'mnist'" in err and "'Patch Shapes'" in err and not (tmp_path / "other").exists()

    assert (
        main(["bench", str(bundle_dir), "--target", "emulator", "--out", str(bench), *BENCH]) == 0
    )
    saved = json.loads((bench / "bench.json").read_text())
    assert saved["accuracy"]["equals_bundle"] is True and saved["accuracy"]["frames"] == 200
    report = saved["per_class"]
    assert report["classes"] == list(CLASSES)
    assert [r["class"] for r in report["per_class"]] == list(CLASSES)
    assert sum(map(sum, report["confusion"])) == 200
    assert all(r["frames"] == 20 for r in report["per_class"])
    correct = sum(report["confusion"][k][k] for k in range(10))
    assert correct == saved["accuracy"]["correct"]
    with open(bench / "confusion.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == list(CLASSES) and [r[0] for r in rows[1:]] == list(CLASSES)
    assert (bench / "confusion.png").stat().st_size > 5000
    assert "per class  lowest" in capsys.readouterr().out

    # The main job resumes both stages and benches again; the summary names the data.
    argv = ["pipeline", "--out", str(out), "--config", str(config), "--preset", "smoke"]
    assert main([*argv, "--data", str(data), "--target", "emulator", *BENCH]) == 0
    printed = capsys.readouterr().out
    (row,) = json.loads((out / "summary.json").read_text())
    assert row["bundle_name"] == "patch_shapes_cnn" and row["dataset"]["classes"] == list(CLASSES)
    assert row["dataset"]["source"] == str(data) and row["dataset"]["test_frames"] == 200
    model = row["board_model"]
    assert model["ii_cycles"] == meta.ip["target_ii_cycles"] and model["clock_mhz"] == 100
    assert model["frames_per_s"] == pytest.approx(100e6 / model["ii_cycles"])
    assert row["cpu_baseline"]["available"] is True and row["cpu_baseline"]["frames_per_s"] > 0
    assert "already converted from this student: kept" in printed
    assert f"data       Patch Shapes test set, 200 frames, read from {data}" in printed
    assert (
        f"board      cycle model (not a measurement): a frame every {model['ii_cycles']}" in printed
    )
    assert "CPU numpy  " in printed and "frames/s, single frame p50" in printed
    assert "pynq-mnist pipeline summary: patch_shapes_cnn" in printed
    bench_line = next(line for line in printed.splitlines() if line.startswith("  bench "))
    assert f"{out / 'cnn' / 'bench'}/: " in bench_line and "confusion.png" in bench_line
    log = (out / "pipeline.log").read_text()
    assert "[train] teacher: found" in log  # the resumed run's lines are kept in the log
