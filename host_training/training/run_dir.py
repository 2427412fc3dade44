"""The RUN_DIR contract: what a training run leaves behind, and how to read it back.

::

    RUN_DIR/
      config.json        the resolved configuration (written first)
      teacher.h5         float teacher (logits out)
      student.h5         QKeras student, pruning stripped, last layer QDense "logits"
      metrics.json       accuracies, cost, bits, BOPs, timings, versions (written last)
      plots/*.png        training curves; accuracy vs cost of every tuner trial
      state/             checkpoints that let a killed run resume (safe to delete after)

Every file is written to a temporary name and renamed into place, so a kill
never leaves a half-written model or JSON behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pynq_mnist.atomic import atomic_path, write_text_atomic

CONFIG = "config.json"
TEACHER = "teacher.h5"
STUDENT = "student.h5"
METRICS = "metrics.json"
PLOTS = "plots"
STATE = "state"
TUNER_RESULT = "state/tuner_result.json"
SEARCH_PICK = "search_pick.json"  # train --from-search: the search, limits and trial
TUNER_PROJECT = "state/tuner"


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as JSON atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_model(model: Any, path: str | os.PathLike) -> None:
    """``model.save`` (HDF5) atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp, include_optimizer=False)


def load_model(path: str | os.PathLike) -> Any:
    """A saved teacher or student (QKeras layers known), uncompiled."""
    path = Path(path)
    if not path.is_file():  # said before TensorFlow is loaded
        raise FileNotFoundError(f"{path} does not exist; run `pynq-mnist train` first")
    from qkeras.utils import load_qmodel

    from pynq_mnist.host_training.training import models  # noqa: F401  (its layers registered)

    return load_qmodel(str(path), compile=False)


def load_student(run_dir: str | os.PathLike) -> Any:
    """The run's QKeras student (``keras.Model``; logits out, no pruning wrappers)."""
    return load_model(Path(run_dir) / STUDENT)


def load_teacher(run_dir: str | os.PathLike) -> Any:
    """The run's float teacher (``keras.Model``; logits out)."""
    return load_model(Path(run_dir) / TEACHER)


def load_metrics(run_dir: str | os.PathLike) -> dict:
    """The run's ``metrics.json``."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; the run has not finished")
    return read_json(path)


def load_config(run_dir: str | os.PathLike) -> dict:
    """The run's resolved ``config.json``."""
    return read_json(Path(run_dir) / CONFIG)
