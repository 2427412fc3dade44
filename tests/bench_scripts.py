"""Load a ``bench/`` script as a module, with ``bench/`` on ``sys.path`` as
``python bench/NAME.py`` has it (the scripts import their shared ``record``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str) -> ModuleType:
    """``bench/NAME.py`` as the module ``bench_NAME``."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pick_limits(preset: str) -> dict[str, int]:
    """bench/search.py's limits for ``preset``'s pick, as ``pick_config`` takes them."""
    from pynq_mnist.host_training.training.search.choose import LIMIT_OPTIONS

    return {LIMIT_OPTIONS[option]: cap for option, cap in load("search").PICKS[preset][1].items()}
