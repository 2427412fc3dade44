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

from pynq_mnist import cli
from pynq_mnist.board import bench, load_overlay
from pynq_mnist.board.bench_files import BenchFiles
from pynq_mnist.board.bench_measure import plateau
from pynq_mnist.board.bench_options import BenchOptions
from pynq_mnist.bundle import Bundle, BundleMetadata
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
    files = BenchFiles(tmp_path / "out")
    options = BenchOptions(latency_calls=1000, batches=(1, 8, 10_000), frames_per_point=2000)
    bench.run_benchmark(ol, mnist.test_images, mnist.test_labels, options, files)
    paths = files.paths
    assert {p.name for p in paths} == {
        "bench.json", "latency.csv", "latency.png", "throughput.csv", "stages.csv", "throughput.png",
        "per_class.csv", "confusion.csv", "confusion.png",
    }  # fmt: skip
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["accuracy"]["frames"] == 10_000 and saved["accuracy"]["equals_bundle"]
    assert "host timings" in saved["timings"] and "not board timings" in saved["timings"]
    for name in ("throughput.csv", "latency.csv", "stages.csv"):
        assert "host timings" in (tmp_path / "out" / name).read_text().splitlines()[0]
    lat = saved["latency"]
    assert lat["calls"] == 1000 and lat["p50_us"] <= lat["p90_us"] <= lat["p99_us"] <= lat["max_us"]
    assert [r["batch"] for r in saved["throughput"]] == [1, 8, 10_000]
    for r in saved["throughput"]:
        assert r["repeats"] == 3 and r["frames"] >= 2000
        assert r["frames_per_s_min"] <= r["frames_per_s"] <= r["frames_per_s_max"]
    assert saved["complete"] and saved["sections"] == [n for n, _ in bench.SECTIONS]
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


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--batches", "0"], "--batches must list whole numbers >= 1"),
        (["--batches", "1,x"], "--batches: .*comma-separated"),
        (["--batches", "10,10"], "--batches lists a size twice"),
        (["--latency-calls", "0"], "--latency-calls must be a whole number >= 1"),
        (["--frames", "0"], "--frames must be a whole number >= 1"),
        (["--frames", "20000"], "--frames must be at most 10000"),
        (["--frames-per-point", "0"], "--frames-per-point must be a whole number >= 1"),
        (["--repeats", "0"], "--repeats must be a whole number >= 1"),
        (["--frames", "100", "--cpu-frames", "500"], "--cpu-frames .500. must not exceed"),
    ],
)
def test_bad_options_are_refused_before_anything_is_measured(
    tmp_path, monkeypatch, capsys, flags, match
):
    import re

    from pynq_mnist.board import overlay

    def never(*a, **k):
        raise AssertionError("the overlay was loaded: the option was not checked first")

    monkeypatch.setattr(overlay, "load_overlay", never)
    monkeypatch.setattr("pynq_mnist.mnist.load_mnist", never)
    out = tmp_path / "out"
    try:
        code = cli.main(["bench", "some_bundle", "--out", str(out), *flags])
    except SystemExit as e:  # argparse's own refusal (a list that is not numbers)
        code = e.code
    assert code == 2
    assert re.search(match, capsys.readouterr().err)


def test_an_unwritable_out_is_refused_before_anything_is_measured(tmp_path, monkeypatch, capsys):
    from pynq_mnist.board import overlay

    monkeypatch.setattr(overlay, "load_overlay", lambda *a, **k: pytest.fail("measured"))
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert cli.main(["bench", "some_bundle", "--out", str(blocked / "out")]) == 2
    assert f"cannot write results to {blocked / 'out'}" in capsys.readouterr().err


def test_an_interrupted_bench_keeps_its_finished_sections_and_offers_no_resume(
    tmp_path, monkeypatch, capsys
):
    bundle = write_synthetic_bundle(tmp_path / "synthetic")
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    ol = load_overlay(bundle, "emulator", ip_factory=synthetic_ip)
    x = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    y = np.zeros(200, dtype=np.uint8)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "measure_throughput", interrupted)
    files = BenchFiles(tmp_path / "out")
    options = BenchOptions(frames=200, latency_calls=20, batches=(1, 4), frames_per_point=8)
    with pytest.raises(KeyboardInterrupt):
        bench.run_benchmark(ol, x, y, options, files)
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["sections"] == ["accuracy", "latency"] and not saved["complete"]
    assert saved["stopped"].startswith("KeyboardInterrupt in section 'throughput'")
    assert saved["accuracy"]["frames"] == 200 and saved["latency"]["calls"] == 20
    assert saved["register_accesses"] <= 7 and saved["python_calls"] <= 25
    plain = saved["single_frame_cost"]["pynq_transfer_wait"]
    assert plain["register_accesses"] > saved["register_accesses"]
    assert (tmp_path / "out" / "latency.csv").is_file()
    assert not (tmp_path / "out" / "throughput.csv").exists()

    # the command line says where the finished sections are, and promises no resume
    from pynq_mnist.board.emulator.iplib import IPLibrary

    monkeypatch.setattr(IPLibrary, "for_bundle", classmethod(lambda cls, b: synthetic_ip()))
    monkeypatch.setattr(
        "pynq_mnist.board.bench_data.bench_data", lambda b, data: (Bundle(b), _Data(x, y))
    )
    argv = ["bench", str(bundle), "--target", "emulator", "--out", str(tmp_path / "cli")]
    argv += ["--frames", "200", "--latency-calls", "20", "--cpu-frames", "10"]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "holds the sections that finished" in err and "run the same command again" not in err


class _Data:
    def __init__(self, x, y):
        self.test_images, self.test_labels = x, y


def test_the_plateau_is_not_the_noisiest_maximum():
    def row(batch, median, low, high):
        return {"batch": batch, "frames_per_s": median, "frames_per_s_min": low,
                "frames_per_s_max": high}  # fmt: skip

    rows = [row(1, 100, 90, 110), row(10, 980, 950, 1010), row(100, 1000, 960, 1040)]
    assert plateau(rows)["batch"] == 10  # 980 vs 1000 lies within the noise
    rows[1] = row(10, 700, 690, 710)
    assert plateau(rows)["batch"] == 100
