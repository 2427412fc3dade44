"""The SEARCH_DIR contract: what a design search leaves behind, and how to read it.

::

    SEARCH_DIR/
      search.json      the base configuration, search settings, dataset identity (written first)
      teacher.h5       the teacher every trial distils from (trained once, before the trials)
      tuner/           keras-tuner's project: oracle.json, trial_*/trial.json (the chief's)
      front.json       every trial, the Pareto front, progress (rewritten as trials end)
      plots/front.png  accuracy against the chosen cost: all trials, the front, references
      state/           the teacher's checkpoints, the workers' logs

Reading needs no TensorFlow and no keras-tuner: the trial files are JSON.

An *exported* search (:func:`export`) keeps only ``search.json``, ``front.json``
and the plot: a few hundred kB that can be committed or mailed, from which
``train --from-search`` still picks (its trials are read from ``front.json``; the
teacher is retrained from the configuration). Its ``front.json`` says where it was
exported from (``exported_from``), which marks it; it cannot be resumed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from pydantic import ValidationError

from pynq_mnist.atomic import atomic_path
from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.host_training.training.config.schema import message
from pynq_mnist.host_training.training.search.costs import COSTS
from pynq_mnist.host_training.training.search.front import ACCURACY, pareto_front
from pynq_mnist.host_training.training.search.settings import Settings
from pynq_mnist.outputs import OutputKind

SETTINGS = "search.json"
#: What ``tune --out`` may name: a new or empty folder, or a search (its settings file).
SEARCH_OUTPUT = OutputKind("design search", (SETTINGS,))
TUNER = "tuner"
FRONT = "front.json"
PLOT = "plots/front.png"
LOGS = "state/logs"


#: What identifies the dataset across machines (its path may differ on each).
DATASET_KEYS = ("class_names", "train", "test")


def dataset_identity(data) -> dict:
    """The recorded identity of a loaded :class:`pynq_mnist.mnist.Dataset`."""
    described = data.describe()
    return {key: described[key] for key in DATASET_KEYS}


def check_dataset(out: Path, data) -> None:
    """Refuse a dataset other than the one the search in ``out`` was started on."""
    saved = _read(Path(out) / SETTINGS, ()).get("dataset")
    if saved is None:
        raise ConfigError(f"{Path(out) / SETTINGS} records no dataset; was it edited by hand?")
    if dataset_identity(data) != saved:
        raise ConfigError(
            f"this dataset ({dataset_identity(data)}) is not the one the search in {out} "
            f"runs on ({saved}); pass the same --data"
        )


#: The key of ``front.json`` that marks an exported search: where it was exported from.
EXPORTED_FROM = "exported_from"


def _read(path: Path, keys: tuple[str, ...]) -> dict:
    """A search file's JSON object, which must hold ``keys``; else a :class:`ConfigError`
    that names the file (such a file was edited by hand or mixed up)."""
    try:
        doc = rd.read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); was it edited by hand?") from None
    missing = [k for k in keys if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}; was it edited by hand?")
    return doc


def is_exported(out: Path) -> bool:
    """Whether ``out`` holds an exported search (a live one has a ``front.json`` too,
    before keras-tuner has written anything)."""
    path = Path(out) / FRONT
    return path.is_file() and EXPORTED_FROM in _read(path, ())


def export(out: Path, dest: Path, origin: str | None = None) -> None:
    """Copy what ``train --from-search`` reads of the finished search in ``out`` to
    ``dest``, its ``front.json`` marked with ``origin`` (default: ``out``). Each file is
    written whole or not at all, ``front.json`` last: an interrupted export over an
    earlier one leaves a readable search."""
    out, dest = Path(out), Path(dest)
    if (dest / SETTINGS).is_file() and not is_exported(dest):
        raise ConfigError(f"{dest} holds a search of its own; export to another folder")
    for name in (SETTINGS, FRONT, PLOT):
        if not (out / name).is_file():
            raise ConfigError(f"{out} holds no finished search ({name} is missing)")
    for name in (PLOT, SETTINGS):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest / name) as tmp:
            shutil.copyfile(out / name, tmp)
    rd.write_json(dest / FRONT, read_front(out) | {EXPORTED_FROM: origin or str(out)})


def _differences(saved: dict, doc: dict) -> list[str]:
    """The keys (one level down in a mapping: ``settings.algorithm``) where two differ."""
    out = []
    for key, value in doc.items():
        old = saved.get(key)
        if old == value:
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            out += [f"{key}.{sub}" for sub in value if old.get(sub) != value[sub]] or [key]
        else:
            out.append(key)
    return out


def write_settings(
    out: Path, config: dict, settings: Settings, command: str, dataset: dict
) -> None:
    """Record what is searched; refuse a SEARCH_DIR that holds a different search, or
    an exported one (its tuner state is gone)."""
    if is_exported(out):
        raise ConfigError(
            f"{out} holds an exported search (no tuner state), which cannot be resumed; "
            f"`pynq-mnist train --from-search {out} --max-...` picks from it. Use a new --out"
        )
    doc = {"config": config, "settings": settings.model_dump(mode="json"), "dataset": dataset}
    path = out / SETTINGS
    if path.is_file():
        saved = _read(path, ())
        # a search saved by an earlier version lacks later keys' defaults; one edited
        # by hand into an invalid one is left to differ, and the message says where
        with contextlib.suppress(KeyError, ValueError):
            saved["settings"] = Settings.model_validate(saved["settings"]).model_dump(mode="json")
        if {k: saved.get(k) for k in doc} != doc:
            differs = _differences(saved, doc)
            raise ConfigError(
                f"{out} holds a different search (differs in: {', '.join(differs)}); "
                "use a new --out, or the same command to resume"
            )
        return
    rd.write_json(path, doc | {"command": command})


def read_settings(out: Path) -> tuple[dict, Settings]:
    """The base configuration and settings of the search in ``out``."""
    path = Path(out) / SETTINGS
    if not path.is_file():
        raise ConfigError(f"{out} holds no design search ({SETTINGS} is missing)")
    doc = _read(path, ("config", "settings"))
    try:
        return doc["config"], Settings.model_validate(doc["settings"])
    except ValidationError as e:
        raise ConfigError(f"{path}: {message(e, 'settings')}") from None


def _last(metrics: dict, name: str) -> float | None:
    history = metrics.get("metrics", {}).get(name)
    if not history or not history.get("observations"):
        return None
    return float(history["observations"][-1]["value"][0])


#: What every trial record holds (a completed one also its accuracy and costs; a cost a
#: trial lacks is refused where a limit or the front needs it, :func:`front.pick`).
TRIAL_KEYS = {"trial_id", "status", "epochs", "values"}


def trials(out: Path) -> list[dict]:
    """Every trial keras-tuner recorded: id, status, epochs, values and, when done, results."""
    records = []
    for path in sorted((Path(out) / TUNER).glob("trial_*/trial.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # being rewritten right now; the next read gets it
        values = raw["hyperparameters"]["values"]
        record = {
            "trial_id": raw["trial_id"],
            "status": raw["status"],
            "epochs": int(values["tuner/epochs"]),
            "values": {k: v for k, v in values.items() if not k.startswith("tuner/")},
        }
        if raw["status"] == "COMPLETED":
            for name in (ACCURACY, *COSTS, "seconds"):
                value = _last(raw["metrics"], name)
                record[name] = int(value) if name in COSTS and value is not None else value
        records.append(record)
    return records


def recorded_trials(out: Path) -> list[dict]:
    """:func:`trials` of a search, live or exported (from its ``front.json``)."""
    if is_exported(out):
        return read_front(out)["trials"]
    if not (Path(out) / TUNER).is_dir():
        raise ConfigError(
            f"{out} holds neither keras-tuner's trials ({TUNER}/) nor an exported front "
            f"({FRONT} with {EXPORTED_FROM}): has its search started?"
        )
    return trials(out)


def full_length(records: list[dict], settings: Settings) -> list[dict]:
    """Completed trials trained for the full ``budget.max_epochs``: what fronts are made of."""
    return [
        r
        for r in records
        if r["status"] == "COMPLETED" and r["epochs"] == settings.budget.max_epochs
    ]


def front_document(out: Path, settings: Settings, progress: dict) -> dict:
    """``front.json``: all trials, the full-length front against ``settings.cost``, progress."""
    records = trials(out)
    eligible = full_length(records, settings)
    front = pareto_front(eligible, settings.cost)
    return {
        "arch": settings.arch,
        "cost": settings.cost,
        "split": "validation",
        "trials": records,
        "front": [p["trial_id"] for p in front],
        "progress": progress,
    }


def read_front(out: Path) -> dict:
    path = Path(out) / FRONT
    if not path.is_file():
        raise ConfigError(f"{out} holds no {FRONT}; run `pynq-mnist tune --out {out}` first")
    doc = _read(path, ("trials", "front"))
    for trial in doc["trials"]:
        done = isinstance(trial, dict) and trial.get("status") == "COMPLETED"
        need = TRIAL_KEYS | ({ACCURACY} if done else set())
        if not isinstance(trial, dict) or not need.issubset(trial):
            raise ConfigError(f"{path}: a trial lacks one of {sorted(need)}: {trial!r}")
    return doc
