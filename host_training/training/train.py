"""Teacher -> tuner -> student: the training job, stage by stage, resumable.

:func:`train` is what ``pynq-mnist train`` and the project pipeline call. Every
stage leaves its result in RUN_DIR (see :mod:`run_dir`) before the next starts;
a rerun with the same configuration skips finished stages and resumes an
interrupted one from its last epoch checkpoint (the tuner from its last trial).
A student resumed after a kill ends bit for bit where an unbroken run would
(see :mod:`training`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pynq_mnist import encoding
from pynq_mnist.host_training.tf_stack import device, versions
from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.config import ConfigError, apply_hyperparameters, resolve
from pynq_mnist.mnist import Dataset, check_same, load_mnist


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)


def _check_dataset(out: Path, data: Dataset) -> None:
    """A resumed run goes on with the dataset it started with, or is refused naming both."""
    path = out / rd.STATE / "dataset.json"
    if path.is_file():
        fix = "give this dataset its own --out, or the run's dataset to resume"
        check_same(data.identity(), rd.read_json(path), f"the run in {out}", fix)
    else:
        rd.write_json(path, data.identity())


class Splits:
    """Network-ready arrays: train/val (from the training set) and test."""

    def __init__(self, data: Dataset, config: dict):
        from pynq_mnist.host_training.training.models import input_shape

        shape = input_shape(config["arch"])
        d, seed = config["data"], config["seed"]
        x_tr, y_tr, x_val, y_val = data.split(d["val_fraction"], seed)
        x_te, y_te = data.test_images, data.test_labels
        if d["train_subset"]:
            x_tr, y_tr = x_tr[: d["train_subset"]], y_tr[: d["train_subset"]]
            x_val, y_val = (
                x_val[: max(1, d["train_subset"] // 4)],
                y_val[: max(1, d["train_subset"] // 4)],
            )
        if d["test_subset"]:
            x_te, y_te = x_te[: d["test_subset"]], y_te[: d["test_subset"]]

        def prep(x: np.ndarray) -> np.ndarray:
            return encoding.to_network_input(x).reshape((-1, *shape))

        self.train = (prep(x_tr), y_tr.astype(np.int32))
        self.val = (prep(x_val), y_val.astype(np.int32))
        self.test = (prep(x_te), y_te.astype(np.int32))

    def head(self, n: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` training examples (already shuffled by the split)."""
        x, y = self.train
        return (x, y) if n is None else (x[:n], y[:n])


def _accuracy(model, xy: tuple) -> float:
    logits = model.predict(xy[0], batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == xy[1]))


def _prepare_run_dir(out: Path, config: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / rd.CONFIG
    if path.is_file():
        saved = rd.read_json(path)
        if saved != config:
            diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            raise ConfigError(
                f"{out} holds a run with a different configuration (differs in: "
                f"{', '.join(diff)}); use a new --out, or the same configuration to resume"
            )
        log(f"resuming the run in {out}")
    else:
        rd.write_json(path, config)


def train_student(
    student_config: dict,
    arch: str,
    data: tuple,
    *,
    teacher_logits=None,
    epochs: int,
    validation: tuple | None,
    checkpoint: Path | None,
    stage: str,
    seed: int,
    verbose: int,
) -> tuple:
    """Quantization-aware, pruned (if enabled), distilled (if enabled) student training.

    ``data`` is ``(x, y)``; ``teacher_logits`` (the teacher's logits for ``x``)
    are used when ``student_config["kd"]["enabled"]``. Returns ``(student
    without pruning wrappers, history)``.
    """
    import tensorflow as tf

    from pynq_mnist.host_training.training import compression
    from pynq_mnist.host_training.training.distill import Distiller, batches
    from pynq_mnist.host_training.training.models import augmentation, build_student

    s, kd = student_config, student_config["kd"]
    if kd["enabled"] and teacher_logits is None:
        raise ValueError("distillation is enabled but no teacher logits were given")
    model = build_student(s, arch)
    callbacks = []
    if s["pruning"]["enabled"]:
        steps = -(-len(data[1]) // s["batch_size"])
        schedule = compression.pruning_schedule(s["pruning"], steps, epochs)
        logits_target = s["pruning"].get("logits_sparsity")  # runs made before it: absent
        logits_schedule = (
            None if logits_target is None
            else compression.pruning_schedule(s["pruning"], steps, epochs, target=logits_target)
        )  # fmt: skip
        model = compression.prune(model, schedule, logits_schedule)
        callbacks.append(compression.sparsity.UpdatePruningStep())
    logits = teacher_logits if kd["enabled"] else None
    train_batches = batches(*data, logits, s["batch_size"], seed)
    distiller = Distiller(
        model,
        temperature=kd["temperature"],
        alpha=kd["alpha"],
        augment=augmentation(arch, seed) if s["augment"] else None,
    )
    distiller.compile(optimizer=tf.keras.optimizers.Adam(s["lr"]))
    history = _fit(
        distiller,
        model,
        train_batches,
        s,
        epochs,
        validation,
        checkpoint,
        stage,
        callbacks,
        verbose,
    )
    if s["pruning"]["enabled"]:
        model = compression.strip(model)
    return model, history


def _teacher_logits(teacher, x):
    """The teacher's logits for ``x``, computed once for all epochs of a student."""
    return teacher.predict(x, batch_size=1000, verbose=0)


def _fit(model, target, data, hp, epochs, validation, checkpoint, stage, callbacks, verbose):
    from pynq_mnist.host_training.training.fit import fit_resumable

    return fit_resumable(
        model,
        target,
        data,
        epochs=epochs,
        batch_size=hp["batch_size"],
        lr=hp["lr"],
        checkpoint=checkpoint,
        stage=stage,
        validation=validation,
        callbacks=callbacks,
        verbose=verbose,
    )


class Stages:
    """Wall time per stage, kept in RUN_DIR so a resumed run reports the whole job."""

    def __init__(self, out: Path):
        self.path = out / rd.STATE / "stages.json"
        self.times = rd.read_json(self.path) if self.path.is_file() else {}

    def record(self, name: str, seconds: float) -> None:
        self.times[name] = self.times.get(name, 0.0) + seconds
        rd.write_json(self.path, self.times)


def _teacher_stage(config, splits, out, stages, verbose):
    import tensorflow as tf

    from pynq_mnist.host_training.training.fit import stop_point
    from pynq_mnist.host_training.training.models import build_teacher

    path = out / rd.TEACHER
    if path.is_file():
        log(f"teacher: found {path}, not retraining")
        saved = out / rd.STATE / "teacher.json"  # absent when the teacher was copied in
        return rd.load_model(path), rd.read_json(saved)["history"] if saved.is_file() else {}
    log("teacher: training")
    t0 = time.perf_counter()
    tf.keras.utils.set_random_seed(config["seed"])
    t = config["teacher"]
    teacher = build_teacher(config)
    teacher.compile(
        optimizer=tf.keras.optimizers.Adam(t["lr"]),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = _fit(
        teacher, teacher, splits.train, t, t["epochs"], splits.val,
        out / rd.STATE / "teacher", "teacher", [], verbose,
    )  # fmt: skip
    rd.save_model(teacher, path)
    stages.record("teacher", time.perf_counter() - t0)
    stop_point("teacher")
    return teacher, history


def _tuner_stage(config, teacher, splits, out, stages, verbose):
    import tensorflow as tf

    from pynq_mnist.host_training.training import compression
    from pynq_mnist.host_training.training.fit import stop_point
    from pynq_mnist.host_training.training.tuner import search

    result_path = out / rd.TUNER_RESULT
    if result_path.is_file():
        log("tuner: found finished search, not rerunning")
        return rd.read_json(result_path)
    tc = config["tuner"]
    log(f"tuner: {tc['trials']} trials x {tc['epochs']} epoch(s), limits {tc['limits']}")
    t0 = time.perf_counter()
    trial_data = splits.head(tc["train_subset"])
    trial_logits = (
        _teacher_logits(teacher, trial_data[0]) if config["student"]["kd"]["enabled"] else None
    )

    def evaluate(values: dict) -> dict:
        log(f"tuner: trial {values}")
        tf.keras.utils.set_random_seed(config["seed"])
        student = apply_hyperparameters(config["student"], values)
        model, _ = train_student(
            student, config["arch"], trial_data, teacher_logits=trial_logits,
            epochs=tc["epochs"], validation=None, checkpoint=None, stage="tuner",
            seed=config["seed"], verbose=0,
        )  # fmt: skip
        cost = compression.cost(model, count="unpruned")  # a bound the final student keeps
        return {
            "val_accuracy": _accuracy(model, splits.val),
            "nonzero_weights": cost["nonzero_weights"],
            "bops": cost["bops"],
        }

    result = search(
        evaluate, tc, out / rd.TUNER_PROJECT, seed=config["seed"], verbose=min(verbose, 1)
    )
    rd.write_json(result_path, result)
    stages.record("tuner", time.perf_counter() - t0)
    stop_point("tuner")
    return result


def train(config: dict, out: str | Path, data_dir: str | Path | None = None) -> dict:
    """Train teacher and student into ``out`` (RUN_DIR) and return the metrics.

    Parameters
    ----------
    config
        A partial configuration naming at least ``arch`` (and optionally
        ``preset``); see :mod:`config`. It is resolved and checked before
        anything else happens.
    out
        RUN_DIR. A rerun with the same configuration resumes.
    data_dir
        IDX dataset directory; default ``$PYNQ_MNIST_DATA`` or the download cache.

    Returns
    -------
    dict
        What ``metrics.json`` holds.
    """
    config = resolve(config)
    data = load_mnist(data_dir)  # a missing or corrupt dataset fails before training
    out = Path(out)
    _prepare_run_dir(out, config)
    _check_dataset(out, data)
    import tensorflow as tf

    from pynq_mnist.host_training.training import compression, plots
    from pynq_mnist.host_training.training.fit import stop_point

    tf.config.experimental.enable_op_determinism()
    log(f"training on {device()}")
    verbose = config["verbose"]
    stages = Stages(out)
    splits = Splits(data, config)
    log(
        f"arch {config['arch']}, preset {config['preset']}, seed {config['seed']}: "
        f"{len(splits.train[1])} train / {len(splits.val[1])} val / {len(splits.test[1])} test"
    )
    teacher, teacher_history = _teacher_stage(config, splits, out, stages, verbose)
    teacher_acc = _accuracy(teacher, splits.test)
    log(f"teacher: test accuracy {teacher_acc:.4f}")

    student_config, tuning = config["student"], None
    if config["tuner"]["enabled"]:
        tuning = _tuner_stage(config, teacher, splits, out, stages, verbose)
        student_config = apply_hyperparameters(config["student"], tuning["best"])
        log(f"tuner: chose {tuning['best']}")

    path = out / rd.STUDENT
    if path.is_file():
        log(f"student: found {path}, not retraining")
        student = rd.load_model(path)
        student_history = rd.read_json(out / rd.STATE / "student.json")["history"]
    else:
        log("student: training")
        t0 = time.perf_counter()
        tf.keras.utils.set_random_seed(config["seed"])
        student, student_history = train_student(
            student_config, config["arch"], splits.train,
            teacher_logits=(
                _teacher_logits(teacher, splits.train[0]) if student_config["kd"]["enabled"] else None
            ),
            epochs=student_config["epochs"], validation=splits.val,
            checkpoint=out / rd.STATE / "student", stage="student",
            seed=config["seed"], verbose=verbose,
        )  # fmt: skip
        rd.save_model(student, path)
        stages.record("student", time.perf_counter() - t0)
        stop_point("student")
    student_acc = _accuracy(student, splits.test)
    cost = compression.cost(student)
    limits = config["tuner"]["limits"]
    within_limits = compression.limit_excess(cost, limits) == 0
    if not within_limits:
        log(f"WARNING: the student exceeds the cost limits {limits}")
    log(
        f"student: test accuracy {student_acc:.4f}, {cost['nonzero_weights']} nonzero weights, "
        f"{cost['max_weight_bits']}-bit weights, {cost['bops']} BOPs"
    )

    plots.training_curves(
        {"teacher": teacher_history, "student": student_history}, out / rd.PLOTS / "training.png"
    )
    if tuning:
        plots.tuner_tradeoff(
            tuning["trials"], config["tuner"]["limits"], tuning["best_trial"],
            out / rd.PLOTS / "tuner_tradeoff.png",
        )  # fmt: skip
    metrics = {
        "arch": config["arch"],
        "preset": config["preset"],
        "seed": config["seed"],
        "encoding": encoding.describe(),
        "data": data.describe() | {"used": {k: len(v[1]) for k, v in vars(splits).items()}},
        "teacher": {"test_accuracy": teacher_acc, "history": teacher_history},
        "student": {
            "test_accuracy": student_acc,
            "nonzero_weights": cost["nonzero_weights"],
            "total_weights": cost["total_weights"],
            "sparsity": cost["sparsity"],
            "layer_bits": cost["layer_bits"],
            "max_weight_bits": cost["max_weight_bits"],
            "bops": cost["bops"],
            "stored_weight_bits": cost["stored_weight_bits"],
            "within_limits": within_limits,
            "config": student_config,
            "history": student_history,
        },
        "tuner": tuning,
        "stage_seconds": stages.times,
        "wall_seconds": sum(stages.times.values()),
        "config": config,
        "versions": versions(),
    }
    rd.write_json(out / rd.METRICS, metrics)
    log(f"wrote {out / rd.METRICS}")
    return metrics
