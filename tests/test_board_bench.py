"""`pynq-mnist bench` on the emulated board writes its files and reproduces the bundle's accuracy."""

import json

import numpy as np
import pytest
from test_board_fakes import (
    synthetic_ip,
    synthetic_metadata,
    synthetic_words,
    write_synthetic_bundle,
)

from pynq_mnist.board import bench, load_overlay
from pynq_mnist.bundle import BundleMetadata
from pynq_mnist.mnist import load_mnist


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir, download=False)


@pytest.fixture
def bundle_with_accuracy(tmp_path, mnist, monkeypatch):
    """The synthetic bundle, its accuracy on all 10k test frames computed without the board."""
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    x, y = mnist.test_images, mnist.test_labels
    meta = synthetic_metadata()
    predicted = meta.output.field("class").decode(synthetic_words(x.reshape(len(x), 784)))
    accuracy = {**meta.accuracy, "frames": len(y), "emulated": float(np.mean(predicted == y))}
    return write_synthetic_bundle(
        tmp_path / "synthetic", BundleMetadata(**{**meta.__dict__, "accuracy": accuracy})
    )


@pytest.mark.slow
def test_bench_writes_its_files_and_matches_the_bundle_accuracy(
    bundle_with_accuracy, mnist, tmp_path
):
    ol = load_overlay(bundle_with_accuracy, "emulator", ip_factory=synthetic_ip)
    result = bench.run_benchmark(
        ol,
        mnist.test_images,
        mnist.test_labels,
        latency_calls=1000,
        batches=(1, 8, 10_000),
        frames_per_point=2000,
    )
    paths = bench.write_results(result, tmp_path / "out")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["accuracy"]["frames"] == 10_000 and saved["accuracy"]["equals_bundle"]
    assert "host timings" in saved["timings"] and "not board timings" in saved["timings"]
    for name in ("throughput.csv", "latency.csv", "stages.csv"):
        assert "host timings" in (tmp_path / "out" / name).read_text().splitlines()[0]
    lat = saved["latency"]
    assert lat["calls"] == 1000 and lat["p50_us"] <= lat["p90_us"] <= lat["p99_us"] <= lat["max_us"]
    assert [r["batch"] for r in saved["throughput"]] == [1, 8, 10_000]
    assert saved["cpu_baseline"]["available"] is False and "network" in saved["cpu_baseline"]["why"]


@pytest.mark.slow
def test_the_cli_runs_the_same_benchmark(
    bundle_with_accuracy, tmp_path, monkeypatch, capsys, mnist_dir
):
    from pynq_mnist import cli
    from pynq_mnist.board.emulator.iplib import IPLibrary

    # the synthetic bundle has no compiled IP: give the emulated board its stand-in
    monkeypatch.setattr(IPLibrary, "for_bundle", classmethod(lambda cls, bundle: synthetic_ip()))
    out = tmp_path / "cli-out"
    argv = ["bench", str(bundle_with_accuracy), "--target", "emulator", "--data", str(mnist_dir)]
    argv += [
        "--out",
        str(out),
        "--latency-calls",
        "1000",
        "--batches",
        "1,100",
        "--frames-per-point",
        "500",
    ]
    assert cli.main(argv) == 0
    saved = json.loads((out / "bench.json").read_text())
    assert saved["accuracy"]["equals_bundle"] and saved["target"] == "emulator"
    assert saved["command"] == "pynq-mnist " + " ".join(argv)
    startup = saved["startup"]
    assert startup["overlay_load_s"] > 0 and startup["import_pynq_s"] >= 0
    assert "host timings" in capsys.readouterr().out
