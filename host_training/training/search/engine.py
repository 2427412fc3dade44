"""keras-tuner's Hyperband or Bayesian optimization, run as one chief and N workers over gRPC.

Processes (each a ``python -m`` of this module, started by :mod:`search.run`
or by hand on other machines):

- the **chief** (``KERASTUNER_TUNER_ID=chief``) holds keras-tuner's
  ``HyperbandOracle`` or ``BayesianOptimizationOracle`` and serves it over gRPC on ``KERASTUNER_ORACLE_IP:PORT``
  (keras-tuner's own ``OracleServicer``); it saves the oracle after every
  trial into ``SEARCH_DIR/tuner``, and a restarted chief reloads it: finished
  trials stay (also one killed between keras-tuner's two saves, see
  ``_resuming``), the trials that were running are handed out again;
- each **worker** (any other ``KERASTUNER_TUNER_ID``) asks the chief for a
  trial, trains that student for the trial's ``tuner/epochs`` (Hyperband's rung;
  fixed at the budget's ``max_epochs`` for Bayesian optimization) (always from
  scratch, with the cosine schedule of that length: a trial is exactly the
  run ``pynq-mnist train`` makes of its configuration, never a continued
  proxy) and reports its validation accuracy and every cost.

What keras-tuner 1.4.8 does when a worker dies mid-trial (read in
``keras_tuner/src/engine/oracle.py``): nothing times the trial out; it stays
in ``oracle.ongoing_trials[tuner_id]``, and the chief would wait for it for
ever. ``create_trial(tuner_id)`` hands that same trial back to a worker that
asks under the same id. So a dead worker is restarted under its id (the
supervisor does that for local workers; do it by hand on other machines), and
it loses only the trial it was running.

The objective the oracle ranks with is ``score``: the validation accuracy of a
trial within the search's limits, ``-excess`` (the summed relative excess)
for one over them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from concurrent import futures
from pathlib import Path
from typing import Any

from pynq_mnist.atomic import write_text_atomic
from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.host_training.training.search import layout
from pynq_mnist.host_training.training.search.settings import Settings

OBJECTIVE = "score"
#: The hyperparameter holding a trial's epochs (Hyperband's own name for its rung).
EPOCHS = "tuner/epochs"
#: keras-tuner's environment variables for distributed tuning.
TUNER_ID, ORACLE_IP, ORACLE_PORT = (
    "KERASTUNER_TUNER_ID",
    "KERASTUNER_ORACLE_IP",
    "KERASTUNER_ORACLE_PORT",
)
CHIEF = "chief"


@functools.cache
def _resuming(algorithm: str) -> type:
    """keras-tuner's oracle for ``algorithm``, whose reload does not rerun an ended trial.

    keras-tuner 1.4.8's ``Oracle.end_trial`` writes the trial's ``trial.json``
    (COMPLETED) and ``oracle.json`` *before* it pops the trial from
    ``ongoing_trials``, so until the worker's next ``create_trial`` the saved
    state lists a finished trial as running; a chief killed in that window
    reloads it into ``_retry_queue`` and trains it again. A trial is only
    handed out again here if its own file does not say it ended.
    """
    import keras_tuner as kt
    from keras_tuner.src.engine.trial import TrialStatus

    base = {
        "hyperband": kt.oracles.HyperbandOracle,
        "bayesian": kt.oracles.BayesianOptimizationOracle,
    }[algorithm]

    class Resuming(base):
        def reload(self) -> None:
            super().reload()
            ended = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.STOPPED)
            queue = []
            for trial_id in self._retry_queue:
                if self.trials[trial_id].status not in ended and trial_id not in queue:
                    queue.append(trial_id)
            self._retry_queue = queue

    Resuming.__name__ = f"Resuming{base.__name__}"
    return Resuming


def oracle(settings: Settings, base_student: dict, seed: int):
    """keras-tuner's oracle of ``settings.algorithm`` over the search space (fixed up front).

    Both spend the same budget: Bayesian optimization trains as many full-length
    trials as Hyperband's plan has epochs in all (:func:`planned_epochs`).
    """
    import keras_tuner as kt

    from pynq_mnist.host_training.training.search import space

    b = settings.budget
    common = {
        "objective": kt.Objective(OBJECTIVE, "max"),
        "seed": seed + 1,  # 0 means "random" to keras-tuner
        "hyperparameters": space.hyperparameters(settings, base_student),
        "tune_new_entries": False,
        "allow_new_entries": False,
    }
    if settings.algorithm == "bayesian":
        # every trial full length, recorded as Hyperband's trials record their rung
        common["hyperparameters"].Fixed(EPOCHS, b.max_epochs)
        return _resuming("bayesian")(max_trials=len(planned_epochs(settings)), **common)
    return _resuming("hyperband")(
        max_epochs=b.max_epochs, factor=b.factor, hyperband_iterations=b.iterations, **common
    )


def planned_epochs(settings: Settings) -> list[int]:
    """The epochs of every trial the search plans (fewer run if the space runs out).

    Hyperband's are asked of keras-tuner's own bracket arithmetic, so they cannot drift
    from it; a Bayesian search trains full-length trials for the same epochs in all.
    """
    import keras_tuner as kt

    b = settings.budget
    o = kt.oracles.HyperbandOracle(
        objective=kt.Objective(OBJECTIVE, "max"), max_epochs=b.max_epochs, factor=b.factor
    )
    epochs = []
    for bracket in reversed(range(o._get_num_brackets())):
        for rnd in range(bracket + 1):
            epochs += [o._get_epochs(bracket, rnd)] * o._get_size(bracket, rnd)
    epochs *= b.iterations
    if settings.algorithm == "bayesian":
        return [b.max_epochs] * max(1, sum(epochs) // b.max_epochs)
    return epochs


def _save_json_atomically(path: str, obj: Any) -> str:
    """keras-tuner's ``utils.save_json``, through a temporary file and a rename."""
    text = json.dumps(obj)
    write_text_atomic(path, text)
    return text


def use_atomic_state_files() -> None:
    """Make keras-tuner's oracle, trial and tuner state files whole or absent, never half.

    keras-tuner 1.4.8 writes them in place (``keras_tuner/src/utils.py`` ``save_json``:
    open, write); a chief killed mid-write leaves an empty ``oracle.json`` or
    ``trial.json`` that its own ``reload`` then fails on (``JSONDecodeError``), and
    the search could not resume. Its writers call ``utils.save_json`` through the
    module, so replacing that one function covers every state file.
    """
    from keras_tuner.src import utils

    utils.save_json = _save_json_atomically


def _tuner(settings: Settings, config: dict, out: Path, evaluate=None):
    import keras_tuner as kt

    use_atomic_state_files()

    class DesignSearch(kt.engine.base_tuner.BaseTuner):
        """Runs ``evaluate(values, epochs)`` for each trial the oracle hands out."""

        def __init__(self, **kwargs: Any):
            self._waiting = False
            super().__init__(**kwargs)

        def pre_create_trial(self) -> None:
            # keras-tuner asks again at once when the oracle is IDLE: not a busy loop here.
            if self._waiting:
                time.sleep(1.0)
            self._waiting = True

        def on_trial_begin(self, trial) -> None:
            self._waiting = False
            print(f"[search {self.tuner_id}] trial {trial.trial_id}", flush=True)

        def run_trial(self, trial, *args: Any, **kwargs: Any) -> dict:
            hp = trial.hyperparameters
            values = {
                k: v for k, v in hp.values.items() if not k.startswith("tuner/") and hp.is_active(k)
            }
            try:
                result = evaluate(values, int(hp.values[EPOCHS]))
            except Exception as e:
                # A trial that cannot train is a bug, not a bad candidate: stop the
                # worker (keras-tuner would count it as a failed trial and go on).
                raise kt.errors.FatalError(f"trial {trial.trial_id} {values}: {e!r}") from e
            return {k: float(v) for k, v in result.items()}

    return DesignSearch(
        oracle=oracle(settings, config["student"], config["seed"]),
        directory=str(out),
        project_name=layout.TUNER,
        overwrite=False,
    )


def serve(tuner, address: str) -> None:
    """keras-tuner's gRPC oracle service until the search is over.

    keras-tuner's ``oracle_chief.start_server`` binds the same service but
    polls for the end every 20 s; this polls every half second.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address) == 0:
        raise RuntimeError(f"the chief cannot listen on {address} (in use? try another --port)")
    server.start()
    print(f"[search chief] serving the oracle on {address}", flush=True)
    while not (servicer.stop_triggered and exit_chief(tuner.oracle)):
        time.sleep(0.5)
    server.stop(grace=2).wait()


def evaluator(config: dict, settings: Settings, splits, teacher):
    """``evaluate(values, epochs)``: train the trial's student, report accuracy and costs."""
    import tensorflow as tf

    from pynq_mnist.host_training.training import train as tr
    from pynq_mnist.host_training.training.compression import limit_excess
    from pynq_mnist.host_training.training.search import space
    from pynq_mnist.host_training.training.search.costs import student_costs

    arch, seed = config["arch"], config["seed"]
    logits = tr._teacher_logits(teacher, splits.train[0])
    limits = {k: v for k, v in settings.limits.model_dump().items() if v is not None}
    nonzero_limit = settings.limits.nonzero_weights

    def evaluate(values: dict, epochs: int) -> dict:
        t0 = time.perf_counter()
        student = space.student(config["student"], arch, values, epochs, nonzero_limit)
        tf.keras.utils.set_random_seed(seed)
        model, _ = tr.train_student(
            student, arch, splits.train,
            teacher_logits=logits if student["kd"]["enabled"] else None,
            epochs=epochs, validation=None, checkpoint=None, stage="search",
            seed=seed, verbose=0,
        )  # fmt: skip
        costs = student_costs(model, arch, settings.requested_costs())
        accuracy = tr._accuracy(model, splits.val)
        excess = limit_excess(costs, limits)
        return {
            "val_accuracy": accuracy,
            **costs,
            "seconds": time.perf_counter() - t0,
            OBJECTIVE: accuracy if excess == 0 else -excess,
        }

    return evaluate


def _address() -> str:
    for name in (TUNER_ID, ORACLE_IP, ORACLE_PORT):
        if not os.environ.get(name):
            raise ConfigError(f"{name} is not set; a search process needs {TUNER_ID}, "
                              f"{ORACLE_IP} and {ORACLE_PORT}")  # fmt: skip
    return f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}"


def main(argv: list[str] | None = None) -> int:
    """``python -m ...search.engine SEARCH_DIR [--data DIR]``: the chief or a worker."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("search_dir", type=Path)
    parser.add_argument("--data", help="IDX dataset dir (default $PYNQ_MNIST_DATA)")
    args = parser.parse_args(argv)
    address = _address()
    config, settings = layout.read_settings(args.search_dir)
    if os.environ[TUNER_ID] == CHIEF:
        tuner = _tuner(settings, config, args.search_dir)
        tuner.save()
        serve(tuner, address)
        return 0
    import tensorflow as tf

    from pynq_mnist.host_training.training.train import Splits
    from pynq_mnist.mnist import load_mnist

    tf.config.experimental.enable_op_determinism()
    data = load_mnist(args.data)
    layout.check_dataset(args.search_dir, data)
    splits = Splits(data, config)
    teacher = rd.load_model(args.search_dir / rd.TEACHER)
    tuner = _tuner(settings, config, args.search_dir, evaluator(config, settings, splits, teacher))
    tuner.search()
    return 0


if __name__ == "__main__":
    sys.exit(main())
