"""bench/driver.py: both drivers run on the same emulated board and agree on every class."""

from pathlib import Path

import bench_scripts
import numpy as np
import pytest
from test_board_fakes import synthetic_ip, write_synthetic_bundle

from pynq_mnist.bundle import Bundle

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def driver_bench():
    return bench_scripts.load("driver")


def test_hls4ml_driver_is_loaded_from_hls4mls_own_template(driver_bench):
    cls = driver_bench.hls4ml_overlay_class()
    assert cls.__name__ == "NeuralNetworkOverlay"
    assert cls.__init__.__code__.co_filename.endswith("pynq-z2/python_drivers/axi_stream_driver.py")


def test_both_drivers_classify_the_same_frames_alike(driver_bench, tmp_path, monkeypatch):
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    bundle = Bundle(write_synthetic_bundle(tmp_path / "synthetic"))
    images = np.random.default_rng(2).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    results = driver_bench.run_comparison(bundle, images, ip_factory=synthetic_ip, repeats=2)
    for mode in ("batch", "single_frame"):
        r = results[mode]
        assert r["same_classes"]
        assert (
            len(r["ours"]["repeats_us_per_frame"]) == len(r["hls4ml"]["repeats_us_per_frame"]) == 2
        )
        for side in (r["ours"], r["hls4ml"], r["hls4ml"]["predict_only"]):
            assert 0 < side["device_s"] < side["wall_s"]
    assert results["single_frame"]["calls"] == 64 and results["batch"]["calls"] == 1
    one = results["single_frame"]
    ours, plain, theirs = one["ours"], one["ours"]["pynq_transfer_wait"], one["hls4ml"]
    assert ours["register_accesses"] <= 7 and ours["python_calls"] <= 25
    for other in (plain, theirs):  # pynq's transfer()+wait() under both drivers' calls
        assert other["register_accesses"] > ours["register_accesses"]
    assert theirs["python_calls"] > ours["python_calls"]
    assert "register_accesses" not in results["batch"]["ours"]
