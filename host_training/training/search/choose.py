"""``pynq-mnist train --from-search``: the configuration of the pick within named limits."""

from __future__ import annotations

import copy
from pathlib import Path

from pynq_mnist.host_training.training.search import front, layout, space

#: ``--max-...`` option -> the cost it limits.
LIMIT_OPTIONS = {
    "max_nonzero": "nonzero_weights",
    "max_bits": "max_weight_bits",
    "max_bops": "bops",
    "max_cycles": "cycles_per_frame",
    "max_bytes": "bytes_per_frame",
    "max_stored_bits": "stored_weight_bits",
    "max_rtl_luts": "rtl_lut_estimate",
}


def pick_config(search_dir: str | Path, limits: dict[str, int | None]) -> tuple[dict, dict]:
    """``(training configuration, trial record)`` of the most accurate full-length trial
    within ``limits`` (cost -> cap); :class:`front.NoPointFits` when none is.

    The configuration is the search's base configuration with the trial's
    student, so ``train`` on it repeats that trial's training, at full length.
    """
    search_dir = Path(search_dir)
    config, settings = layout.read_settings(search_dir)
    records = layout.full_length(layout.recorded_trials(search_dir), settings)
    point = front.pick(records, limits)
    out = copy.deepcopy(config)
    out["student"] = space.student(config["student"], config["arch"], point["values"],
                                   point["epochs"], settings.limits.nonzero_weights)  # fmt: skip
    out["tuner"]["enabled"] = False
    for key in out["tuner"]["limits"]:
        out["tuner"]["limits"][key] = limits.get(key)
    return out, point
