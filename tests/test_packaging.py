"""The distribution: one namespace, every data file shipped, a board install free of TensorFlow."""

import fnmatch
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "qkeras", "hls4ml", "tensorflow_model_optimization", "da4ml")


def setup_folders() -> dict[str, str]:
    text = (ROOT / "setup.py").read_text()
    scope: dict = {}
    start = text.index("FOLDERS = {")
    exec(text[start : text.index("}", start) + 1], scope)
    return scope["FOLDERS"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
         "-w", str(out), str(ROOT)],
        check=True,
    )  # fmt: skip
    (whl,) = out.glob("pynq_mnist-*.whl")
    return zipfile.ZipFile(whl)


@pytest.mark.slow
def test_wheel_maps_every_folder_into_the_namespace_with_its_data(wheel):
    names = set(wheel.namelist())
    assert not any(n.split("/")[0] in {"board", "host_training", "vivado_bd"} for n in names)
    patterns = ["*.json", "*.tcl", "*.cpp", "*.h", "*.ipynb", "*.py"]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for package, folder in setup_folders().items():
        for rel in tracked:
            if rel.startswith(folder + "/") and any(fnmatch.fnmatch(rel, p) for p in patterns):
                inside = package.replace(".", "/") + rel[len(folder) :]
                assert inside in names, f"{rel} is not shipped as {inside}"


@pytest.mark.slow
def test_plain_install_needs_no_tensorflow_and_registers_pynq_entry_points(wheel):
    (meta,) = [n for n in wheel.namelist() if n.endswith("dist-info/METADATA")]
    requires = [
        line for line in wheel.read(meta).decode().splitlines() if line.startswith("Requires-Dist")
    ]
    plain = [r for r in requires if "extra ==" not in r]
    assert plain and not any(h in r for r in plain for h in HEAVY)
    (ep,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    entry_points = wheel.read(ep).decode()
    for group in ("[pynq.notebooks]", "[pynq.overlays]", "[console_scripts]"):
        assert group in entry_points


def test_board_side_imports_no_tensorflow():
    """Import every board-side module in a fresh interpreter and look at sys.modules."""
    code = f"""
import importlib, pkgutil, sys
import pynq_mnist, pynq_mnist.board, pynq_mnist.overlays
mods = ["pynq_mnist.bundle", "pynq_mnist.encoding", "pynq_mnist.mnist", "pynq_mnist.cli"]
mods += ["pynq_mnist.design", "pynq_mnist.fixed_point", "pynq_mnist.network_file"]
mods += ["pynq_mnist.atomic", "pynq_mnist.digest", "pynq_mnist.overlays"]
mods += [m.name for m in pkgutil.walk_packages(pynq_mnist.board.__path__, "pynq_mnist.board.")]
for m in mods:
    importlib.import_module(m)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(len(mods), heavy)
assert not heavy, heavy
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def test_pynq_get_notebooks_delivers_the_package_notebooks(tmp_path):
    """``pynq get-notebooks pynq-mnist`` finds them through the ``pynq.notebooks`` entry point."""
    pynq_cli = Path(sys.executable).with_name("pynq")
    run = subprocess.run(
        [str(pynq_cli), "get-notebooks", "pynq-mnist", "-p", str(tmp_path), "--ignore-overlays",
         "--force"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    delivered = sorted(p.name for p in (tmp_path / "pynq-mnist").glob("*.ipynb"))
    assert delivered == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
