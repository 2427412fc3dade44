"""``pynq-mnist tune``: the teacher, then a chief and N local workers, watched to the end.

The supervisor (this process) trains the teacher once into SEARCH_DIR, starts
the chief and the workers (:mod:`search.engine`) as child processes, and every
few seconds prints the trials done, the front so far and an estimate of the
time left, and rewrites ``front.json``. A local worker that dies is restarted
under the same ``KERASTUNER_TUNER_ID``, which gets it the trial it was running
(see :mod:`search.engine`); one that keeps dying stops the search with its log.
Killing the supervisor kills its children (Linux parent-death signal); the
same command then resumes: the teacher is found, the chief reloads the oracle.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pynq_mnist.errors import Failed
from pynq_mnist.host_training.training import run_dir as rd
from pynq_mnist.host_training.training.search import engine, layout
from pynq_mnist.host_training.training.search.front import ACCURACY, pareto_front
from pynq_mnist.host_training.training.search.settings import Settings

POLL_S = 2.0
#: tuner id -> pid of the local chief and workers, rewritten at every (re)start.
PIDS = "state/pids.json"
#: Restarts of one local worker before the search gives up on it.
MAX_RESTARTS = 2


class SearchFailed(Failed, RuntimeError):
    """A search process failed; the message names its log."""


def log(message: str) -> None:
    print(f"[tune] {message}", flush=True)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the supervisor dies (prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class Process:
    """One chief or worker child process, with its log file."""

    def __init__(self, tuner_id: str, out: Path, address: tuple[str, int], data: str | None):
        self.tuner_id, self.out, self.address, self.data = tuner_id, out, address, data
        self.restarts = 0
        self.log_path = out / layout.LOGS / f"{tuner_id}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = os.environ | {
            engine.TUNER_ID: self.tuner_id,
            engine.ORACLE_IP: self.address[0],
            engine.ORACLE_PORT: str(self.address[1]),
        }
        cmd = [sys.executable, "-m", engine.__name__, str(self.out)]
        cmd += ["--data", self.data] if self.data else []
        with open(self.log_path, "a") as f:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=f, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )

    def poll(self) -> int | None:
        return self.proc.poll()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait(self, seconds: float) -> None:
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            log(f"{self.tuner_id} did not exit after the search ended; stopping it")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _running_trials(out: Path) -> dict[str, str]:
    """tuner id -> trial id, from the chief's saved oracle."""
    path = out / layout.TUNER / "oracle.json"
    try:
        return json.loads(path.read_text()).get("ongoing_trials", {})
    except (OSError, json.JSONDecodeError):
        return {}


def progress(out: Path, settings: Settings, workers: int, started: float) -> dict:
    """Trials done of those planned, and the time left if the pace holds (an estimate)."""
    done = [r for r in layout.trials(out) if r["status"] == "COMPLETED"]
    plan = engine.planned_epochs(settings)
    epochs_done = sum(r["epochs"] for r in done)
    seconds = sum(r["seconds"] or 0.0 for r in done)
    left = max(0, sum(plan) - epochs_done)
    return {
        "trials_done": len(done),
        "trials_planned": len(plan),
        "epochs_done": epochs_done,
        "epochs_planned": sum(plan),
        "elapsed_seconds_this_call": time.time() - started,
        "estimated_seconds_left": (
            left * seconds / epochs_done / max(1, workers) if epochs_done else None
        ),
    }


def _summary(doc: dict, cost: str) -> str:
    p = doc["progress"]
    by_id = {t["trial_id"]: t for t in doc["trials"]}
    front = ", ".join(
        f"{by_id[i][cost]}:{by_id[i][ACCURACY]:.4f}" for i in doc["front"]
    )  # fmt: skip
    left = p["estimated_seconds_left"]
    eta = "unknown" if left is None else f"~{left / 60:.1f} min (estimate)"
    return (
        f"{p['trials_done']}/{p['trials_planned']} trials, {p['epochs_done']}/"
        f"{p['epochs_planned']} epochs; front ({cost}:val_accuracy) [{front}]; left {eta}"
    )


def write_front(out: Path, settings: Settings, doc: dict) -> None:
    """``front.json`` and the front's plot, from a :func:`layout.front_document`."""
    from pynq_mnist.host_training.training import plots

    rd.write_json(out / layout.FRONT, doc)
    completed = [t for t in doc["trials"] if t["status"] == "COMPLETED"]
    full = layout.full_length(completed, settings)
    plots.search_front(
        completed,
        pareto_front(full, settings.cost),
        settings.cost,
        settings.budget.max_epochs,
        doc["references"],
        out / layout.PLOT,
        limit=getattr(settings.limits, settings.cost),
    )


def supervise(
    out: Path,
    settings: Settings,
    workers: int,
    bind: str,
    port: int,
    data: str | None,
    references: list[dict],
) -> dict:
    """Run the chief and ``workers`` local workers until the search ends; ``front.json``."""
    started = time.time()
    address = (bind, port or free_port(bind))
    connect = ("127.0.0.1" if bind == "0.0.0.0" else bind, address[1])
    chief = Process(engine.CHIEF, out, address, data)
    crew = [Process(f"worker{i}", out, connect, data) for i in range(workers)]
    log(
        f"chief on {address[0]}:{address[1]}, {workers} local worker(s); logs in {out / layout.LOGS}"
    )
    last = None

    def document() -> dict:
        prog = progress(out, settings, workers, started)
        return layout.front_document(out, settings, prog) | {"references": references}

    def record_pids() -> None:
        rd.write_json(out / PIDS, {p.tuner_id: p.proc.pid for p in (chief, *crew)})

    try:
        chief.start()
        for w in crew:
            w.start()
        record_pids()
        while True:
            time.sleep(POLL_S)
            if chief.poll() not in (None, 0):
                raise SearchFailed(f"the chief failed (log {chief.log_path}):\n{chief.tail()}")
            for w in crew:
                code = w.poll()
                if code in (None, 0):
                    continue
                if w.restarts >= MAX_RESTARTS:
                    raise SearchFailed(
                        f"{w.tuner_id} died {w.restarts + 1} times (log {w.log_path}):\n{w.tail()}"
                    )
                trial = _running_trials(out).get(w.tuner_id)
                log(
                    f"{w.tuner_id} died (exit {code}) while running trial {trial}; "
                    "restarted under the same id, which reruns that trial"
                )
                w.restarts += 1
                w.start()
                record_pids()
            doc = document()
            line = _summary(doc, settings.cost)
            if line != last:  # a trial ended: rewrite the front
                write_front(out, settings, doc)
                log(line)
                last = line
            if chief.poll() == 0:
                # the chief ends once every worker was told to stop; give them a moment
                for w in crew:
                    w.wait(30)
                break
    finally:
        for p in (*crew, chief):
            p.stop()
    doc = document()
    write_front(out, settings, doc)
    log(f"done: {_summary(doc, settings.cost)} -> {out / layout.FRONT}")
    return doc
