"""The in-run tuner: Bayesian search over the student's settings under a hardware-cost limit.

This is the ``tuner`` stage of ``pynq-mnist train`` (``tuner.enabled``; the
``cnn`` preset's student comes from it). Its short proxy trials favour cheap
nets; the design search (``pynq-mnist tune``, :mod:`search`) is its
successor: Hyperband with full-length front points, every cost, a Pareto
front and several workers. The presets keep this stage until the committed
search (``bench/search.py``) replaces them.

keras-tuner's ``BayesianOptimization`` proposes values for the dotted student
keys in ``config["tuner"]["space"]``; each trial trains that student briefly
(with pruning and distillation as configured) and reports its validation
accuracy and cost. The objective ``score`` is the validation accuracy when the
trained student respects every limit in ``config["tuner"]["limits"]``, and
``-excess`` (the summed relative excess, always below any feasible score) when
it does not: over-budget trials lose, and the most nearly feasible lose least.
A trial's nonzero weights and BOPs count every weight its pruning masks keep
(``compression.cost(count="unpruned")``): a bound that the chosen student,
trained longer, cannot exceed, so a trial within budget stays within budget.

The project lives in ``RUN_DIR/state/tuner``; keras-tuner reloads it, so a
killed search continues with the trials it has not run yet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_tuner as kt

from pynq_mnist.host_training.training.compression import limit_excess
from pynq_mnist.host_training.training.fit import stop_point

OBJECTIVE = "score"


def declare(hp: kt.HyperParameters, key: str, spec: dict) -> Any:
    """Declare one search dimension from its config ``spec`` and return its value."""
    if "choice" in spec:
        return hp.Choice(key, spec["choice"])
    if isinstance(spec["min"], int) and isinstance(spec["max"], int):
        return hp.Int(
            key, spec["min"], spec["max"], sampling="log" if spec.get("log") else "linear"
        )
    return hp.Float(key, spec["min"], spec["max"], sampling="log" if spec.get("log") else "linear")


class StudentSearch(kt.BayesianOptimization):
    """Each trial calls ``evaluate(values) -> {"val_accuracy", "nonzero_weights", "bops"}``."""

    def __init__(
        self,
        evaluate: Callable[[dict], dict],
        space: dict,
        limits: dict,
        **kwargs: Any,
    ):
        self.evaluate, self.space, self.limits = evaluate, space, limits
        super().__init__(hypermodel=None, objective=kt.Objective(OBJECTIVE, "max"), **kwargs)

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> dict:
        values = {key: declare(trial.hyperparameters, key, s) for key, s in self.space.items()}
        result = self.evaluate(values)
        excess = limit_excess(result, self.limits)
        score = result["val_accuracy"] if excess == 0 else -excess
        return {**{k: float(v) for k, v in result.items()}, OBJECTIVE: float(score)}

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)  # the oracle records the trial and saves its state
        done = sum(t.status == "COMPLETED" for t in self.oracle.trials.values())
        stop_point("tuner", done)


def search(
    evaluate: Callable[[dict], dict],
    tuner_config: dict,
    project_dir: Path,
    seed: int,
    verbose: int = 1,
) -> dict:
    """Run (or finish) the search; the best values and a record of every trial."""
    tuner = StudentSearch(
        evaluate,
        tuner_config["space"],
        tuner_config["limits"],
        max_trials=tuner_config["trials"],
        seed=seed,
        directory=str(project_dir.parent),
        project_name=project_dir.name,
        overwrite=False,
    )
    tuner.search(verbose=verbose)
    trials = []
    for trial in tuner.oracle.trials.values():
        if trial.status != "COMPLETED":
            continue
        metrics = {
            name: float(trial.metrics.get_last_value(name)) for name in trial.metrics.metrics
        }
        trials.append(
            {"trial_id": trial.trial_id, "values": trial.hyperparameters.values, **metrics}
        )
    if not trials:
        raise RuntimeError(f"the tuner completed no trial (see {project_dir})")
    best = max(trials, key=lambda t: t[OBJECTIVE])
    return {"best": best["values"], "best_trial": best["trial_id"], "trials": trials}
