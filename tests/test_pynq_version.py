"""pynq 4 dropped the PYNQ-Z2: the board side refuses it in one line, before any device."""

import os
import subprocess
import sys

import pytest

from pynq_mnist.board.pynq_version import UnsupportedPynq, check_pynq, installed_pynq


@pytest.mark.parametrize("version", ["4.0.0", "4.1.0.dev0", "5.0"])
def test_pynq_4_and_later_are_refused_naming_the_image(version):
    with pytest.raises(UnsupportedPynq, match=r"v3\.1 image.*pynq>=3\.0\.1,<4") as e:
        check_pynq(version)
    assert version in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("version", ["3.0.1", "3.1.2", "3.1.0rc1"])
def test_pynq_3_is_accepted(version):
    check_pynq(version)


def test_the_installed_pynq_is_a_3_x():
    assert installed_pynq().split(".")[0] == "3"


def _fake_pynq_dist(folder, version: str) -> None:
    """A dist-info of pynq ``version`` that importlib.metadata finds before the real one."""
    info = folder / f"pynq-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pynq\nVersion: {version}\n")


def test_the_command_line_refuses_pynq_4_with_one_line_and_exit_2(tmp_path):
    _fake_pynq_dist(tmp_path, "4.0.0")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pynq_mnist", "bench", "--help"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pynq 4.0.0 has no PYNQ-Z2 support" in lines[0], lines
    # and from Python, as a notebook would import it
    done = subprocess.run(
        [sys.executable, "-c", "from pynq_mnist.board import load_overlay"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "UnsupportedPynq" in done.stderr
