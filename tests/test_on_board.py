"""On a PYNQ-Z2: the overlay loads, answers the golden vectors, matches the bundle's accuracy,
and recovers from real faults with right answers. Run by ``pynq-mnist accept``.

The bundle comes from ``$PYNQ_MNIST_ACCEPT_BUNDLE`` (a name or folder). Elsewhere these
tests are skipped (the ``board`` marker), unless ``pynq-mnist accept --target emulator``
rehearses them on the emulated board (``$PYNQ_MNIST_ACCEPT_TARGET=emulator``).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from pynq_mnist.board import DmaTimeout, load_overlay
from pynq_mnist.bundle import Bundle
from pynq_mnist.overlays import locate

pytestmark = pytest.mark.board


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    name = os.environ.get("PYNQ_MNIST_ACCEPT_BUNDLE")
    if not name:
        pytest.fail("set PYNQ_MNIST_ACCEPT_BUNDLE to the bundle to test (pynq-mnist accept does)")
    return locate(name)


@pytest.fixture(scope="module")
def overlay(bundle):
    target = os.environ.get("PYNQ_MNIST_ACCEPT_TARGET", "board")
    with load_overlay(bundle, target) as ol:  # hashes, design check, golden self-test
        yield ol


@pytest.fixture(scope="module")
def mnist(bundle):
    """The bundle's own test set (``$PYNQ_MNIST_ACCEPT_DATA``, else the one it recorded)."""
    from pynq_mnist.board.bench_data import bench_data

    return bench_data(bundle, os.environ.get("PYNQ_MNIST_ACCEPT_DATA"))[1]


def test_the_overlay_loads_with_its_own_bitstream_and_ip_reset(overlay):
    if overlay.target == "board":
        assert not overlay.emulated_hwh, "the bundle's own .bit/.hwh were not used"
    assert overlay.ip_reset is not None, (
        "the bitstream has no IP reset GPIO: rebuild it with this pynq-mnist "
        "(pynq-mnist build-overlay), or recovery falls back to reloading the bitstream"
    )
    assert not overlay.ip_reset.held


def test_golden_vectors_words_classes_and_logits(overlay, bundle):
    golden = bundle.golden_vectors()
    words = overlay.execute(golden.frames)
    assert golden.mismatches(overlay.metadata.output, words) == []
    fmt = overlay.metadata.output
    assert np.array_equal(overlay.classify(golden.frames), fmt.unpack(golden.words)["class"])
    assert np.array_equal(overlay.predict_logits(golden.frames), fmt.unpack(golden.words)["logits"])


def test_accuracy_equals_the_bundles_bit_exact_figure(overlay, mnist):
    acc = overlay.metadata.accuracy
    n = int(acc["frames"])
    predicted = overlay.classify(mnist.test_images[:n])
    assert float(np.mean(predicted == mnist.test_labels[:n])) == acc["emulated"]


def _check(overlay, mnist, n=1000):
    x = mnist.test_images[:n]
    return x, overlay.classify(x)


def test_a_missed_deadline_mid_frame_is_followed_by_right_answers(overlay, mnist):
    x, reference = _check(overlay, mnist)
    overlay.link.timeout_s, saved = 0.0, overlay.link.timeout_s
    overlay._frame_budget_s, saved_budget = 0.0, overlay._frame_budget_s
    if overlay.target == "emulator":  # its transfers finish inside the register write
        beats = overlay.metadata.input.beats_per_frame
        overlay.device.dmas[overlay.dma_name].faults.mm2s_stall_after_beats = 7 * beats + 3
    try:
        with pytest.raises(DmaTimeout):
            overlay.classify(mnist.test_images[:5000])  # the IP is left mid-stream
    finally:
        overlay.link.timeout_s, overlay._frame_budget_s = saved, saved_budget
    assert np.array_equal(overlay.classify(x), reference)
    assert overlay.clean and overlay.recoveries >= 1


def test_ctrl_c_mid_transfer_is_followed_by_right_answers(overlay, mnist):
    x, reference = _check(overlay, mnist)
    big = mnist.test_images
    t0 = time.perf_counter()
    overlay.classify(big[:1000])
    delay = (time.perf_counter() - t0) * 3  # a third of the way into a 10,000-frame call
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        overlay.classify(big)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    timer.join()
    assert np.array_equal(overlay.classify(x), reference)
    if interrupted:
        assert overlay.recoveries >= 1


def test_calls_from_threads_serialise_and_stay_right(overlay, mnist):
    x, reference = _check(overlay, mnist, 400)
    wrong, errors = [], []

    def work(k):
        try:
            part = slice(100 * k, 100 * k + 100)
            wrong.append(int((overlay.classify(x[part]) != reference[part]).sum()))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and wrong == [0, 0, 0, 0]
