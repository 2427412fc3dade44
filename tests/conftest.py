"""Markers that need hardware or tools this machine may lack run only where they exist."""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

# The host stack's TensorFlow set-up (Keras 2), before any test module imports TensorFlow.
import pynq_mnist.host_training  # noqa: F401


def _has_vivado() -> bool:
    from pynq_mnist.vivado_bd.toolchain import HLS_SHAPES

    return shutil.which("vivado") is not None and any(shutil.which(s.program) for s in HLS_SHAPES)


def _on_board() -> bool:
    """A PYNQ-Z2, or ``pynq-mnist accept --target emulator`` rehearsing the board tests."""
    if os.environ.get("PYNQ_MNIST_ACCEPT_TARGET") == "emulator":
        return True
    return os.environ.get("BOARD") == "Pynq-Z2" and os.path.exists("/sys/class/fpga_manager")


def pytest_collection_modifyitems(config, items):
    skips = {
        "vivado": (_has_vivado(), "needs vivado and vivado_hls/vitis_hls/vitis-run on PATH"),
        "board": (_on_board(), "needs a PYNQ-Z2 (BOARD=Pynq-Z2 and the FPGA manager)"),
    }
    for item in items:
        for marker, (available, why) in skips.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=why))


HARDWARE_MARKERS = ("vivado", "board")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Only tests that need Vivado or a board may skip: any other skip fails, loudly.

    A test that cannot run here for want of a tool or a file is a missing install step
    (``make test`` installs what the suite needs), not a green result.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not any(m in item.keywords for m in HARDWARE_MARKERS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} skipped ({reason}), but only tests marked "
            f"{' or '.join(HARDWARE_MARKERS)} may skip: install what it needs (make test does)"
        )


@pytest.fixture(scope="session", autouse=True)
def _session_emulator_cache(tmp_path_factory):
    """Every test's emulated board caches under this session's temporary folder, never the
    user's home: set before any session fixture builds an emulated IP."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("emulator_cache")
        mp.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(cache))
        yield cache


@pytest.fixture
def fresh_emulator_cache(tmp_path, monkeypatch) -> Path:
    """An empty emulator cache of this test's own (``pytestmark = pytest.mark.usefixtures(
    "fresh_emulator_cache")`` in a module whose tests must not share compiled libraries)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST folder the project's loader reads (``$PYNQ_MNIST_DATA``, else its verified
    download cache, filled once); never a path of this machine."""
    from pynq_mnist.mnist import resolve_data_dir

    return resolve_data_dir()


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A finished smoke training run (CNN, preset ``smoke``): the RUN_DIR contract, once per session.

    Reads MNIST from ``$PYNQ_MNIST_DATA`` (or the download cache).
    """
    from pynq_mnist.host_training.training.train import train

    run_dir = tmp_path_factory.mktemp("tiny_run") / "run"
    train({"arch": "cnn", "preset": "smoke"}, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run_dir, tmp_path_factory):
    """The tiny run converted into an overlay bundle, verified on 1,000 test frames."""
    from pynq_mnist.host_training.conversion.convert import convert

    out = tmp_path_factory.mktemp("tiny_bundle") / "mnist_cnn"
    convert(tiny_run_dir, out, frames=1000, progress=lambda message: None)
    return out


# pynq's sdist ships the Vivado-made hardware handoff of the Pynq-Z2 base overlay: the one
# real `.hwh` at hand to check our IP parameter names (axi_dma, processing_system7, axi_gpio)
# against. pip fetches it from the package index once; its cache serves later runs.
PYNQ_SDIST = "pynq==3.0.1"
BASE_HWH = "boards/Pynq-Z2/base/base.hwh"


@pytest.fixture(scope="session")
def pynq_z2_base_hwh() -> Path:
    """Path of pynq 3.0.1's ``boards/Pynq-Z2/base/base.hwh`` (a real Vivado-made handoff)."""
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pynq-mnist" / "references"
    )
    target = cache / "pynq-3.0.1" / BASE_HWH
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*cmd, PYNQ_SDIST, "-d", str(cache)], check=True, timeout=600)
        with tarfile.open(cache / "pynq-3.0.1.tar.gz") as tar:
            tar.extract(f"pynq-3.0.1/{BASE_HWH}", cache)
    return target
