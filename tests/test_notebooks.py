"""Both notebooks execute top to bottom on the emulated board, with small sizes."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, parameters: dict, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook with its ``parameters`` cell replaced, as papermill would."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}}
    ).execute()
    return nb


def outputs(nb) -> str:
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )


@pytest.mark.slow
def test_board_notebook_runs_on_the_emulator(tiny_bundle, tmp_path):
    nb = execute(
        "mnist_on_pynq_z2.ipynb",
        {"BUNDLE": str(tiny_bundle), "TARGET": "emulator", "DATA": None, "FRAMES": 500,
         "LATENCY_CALLS": 20, "BATCHES": (1, 8), "FRAMES_PER_POINT": 16, "OUT": str(tmp_path / "b")},
        tmp_path,
    )  # fmt: skip
    text = outputs(nb)
    assert "on emulator" in text and "host timings" in text
    assert (tmp_path / "b" / "bench.json").is_file()
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the digits, and the benchmark's plots


@pytest.mark.slow
def test_host_notebook_walks_train_convert_emulate(tiny_run_dir, tiny_bundle, tmp_path):
    out = tmp_path / "nb"
    shutil.copytree(tiny_run_dir, out / "run")
    shutil.copytree(tiny_bundle, out / "bundle")
    nb = execute(
        "train_to_board.ipynb",
        {"ARCH": "cnn", "PRESET": "smoke", "OUT": str(out), "DATA": None, "LATENCY_CALLS": 20,
         "BATCHES": (1, 8), "FRAMES_PER_POINT": 16},
        tmp_path,
    )  # fmt: skip
    text = outputs(nb)
    assert "already converted" in text and "equal: True" in text
