"""The emulated board with a real bundle: the IP's C++ compiled with g++ behind the DMA model."""

import json

import numpy as np
import pytest

from pynq_mnist.board import bench, load_overlay
from pynq_mnist.board.bench_files import BenchFiles
from pynq_mnist.board.bench_options import BenchOptions
from pynq_mnist.bundle import Bundle
from pynq_mnist.mnist import load_mnist


@pytest.fixture(scope="module")
def overlay(tiny_bundle):
    with load_overlay(tiny_bundle, "emulator") as ol:  # the golden self-test runs here
        yield ol


@pytest.mark.slow
def test_bench_accuracy_equals_the_bit_exact_figure(overlay, tiny_bundle, tmp_path):
    meta = Bundle(tiny_bundle).metadata
    n = int(meta.accuracy["frames"])
    data = load_mnist()
    images, labels = data.test_images[:n], data.test_labels[:n]
    options = BenchOptions(
        frames=n, latency_calls=100, batches=(1, 64), frames_per_point=128, cpu_frames=64
    )
    files = BenchFiles(tmp_path)
    bench.run_benchmark(overlay, images, labels, options, files)
    paths = files.paths
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert all(p.is_file() for p in paths)
    assert saved["accuracy"]["accuracy"] == meta.accuracy["emulated"]
    assert saved["accuracy"]["equals_bundle"]
    cpu = saved["cpu_baseline"]
    if cpu["available"]:  # the bundle carries the exported network
        assert cpu["agreement_with_device"] == 1.0


def test_logits_and_classes_agree_with_the_golden_words(overlay, tiny_bundle):
    frames, words = Bundle(tiny_bundle).golden()
    fmt = overlay.metadata.output
    assert np.array_equal(overlay.execute(frames), words)
    assert np.array_equal(overlay.classify(frames), fmt.unpack(words)["class"])
    assert np.array_equal(overlay.predict_logits(frames), fmt.unpack(words)["logits"])
