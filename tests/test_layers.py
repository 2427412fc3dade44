"""The layering contract (pyproject.toml [tool.pynq-mnist.layers]) and its checker."""

import importlib.util
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_layers", ROOT / ".ci" / "check_layers.py")
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    """A repository of three layers: folder ``pkg`` is the ground's package ``pynq_mnist``."""
    (tmp_path / "setup.py").write_text(
        'FOLDERS = {"pynq_mnist": "pkg", "pynq_mnist.board": "board", "pynq_mnist.host": "host"}\n'
    )
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.pynq-mnist.layers]
        layers = [
            { name = "host", modules = ["pynq_mnist.host"] },
            { name = "board", modules = ["pynq_mnist.board"] },
            { name = "ground", modules = ["pynq_mnist.data"] },
        ]
        outside = ["pynq_mnist"]
        """))  # fmt: skip
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


BASE = {
    "pkg/__init__.py": "",
    "pkg/data.py": "import json\n",
    "board/__init__.py": "",
    "host/__init__.py": "from pynq_mnist.board import driver\n",  # down: allowed
}


def test_the_repository_holds_its_layers():
    assert check_layers.violations(ROOT) == []


def test_an_import_upward_is_a_violation_even_inside_a_function(tmp_path):
    repo = _repo(tmp_path, {
        **BASE,
        "board/driver.py": "def f():\n    from ..host import trainer\n",
        "pkg/data.py": "from pynq_mnist import board\n",
    })  # fmt: skip
    found = check_layers.violations(repo)
    assert any(v.startswith("board/driver.py:2:") and "board -> host" in v for v in found), found
    assert any(v.startswith("pkg/data.py:1:") and "ground -> board" in v for v in found), found


def test_imports_downward_and_within_a_layer_pass(tmp_path):
    repo = _repo(
        tmp_path, {**BASE, "board/driver.py": "from . import other\nfrom pynq_mnist import data\n"}
    )
    assert check_layers.violations(repo) == []
