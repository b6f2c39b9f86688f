"""A data scientist's script, as a separate process: logs runs at a steady pace through the public API.

    python -m tests.integration.loadgen PROJECT RUNS STEPS PAUSE_S [FIRST] [--until STOP_FILE]

Every value is a function of the run and step numbers, so a test knows each
answer without trusting the warehouse: run ``i`` has params ``i`` and ``C``,
a ``loss`` curve of ``STEPS`` steps and a final ``acc``. ``FIRST`` (default 0)
is the first run's number, so a second load can add runs FIRST… to a project.

With ``--until STOP_FILE`` the load has no fixed length: it logs at least
``RUNS`` runs and goes on until ``STOP_FILE`` exists (or the process that
started it is gone), finishing the run it is in. A test stops it once what it
waits for has happened, however fast or slow the machine is, and learns the
exact number of runs from the last line.

The transport comes from ``MODELDB_TRANSPORT``; broker outages spill to disk as
usual. It prints one JSON line at the end: runs logged and events still
undelivered.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import modeldb


def loss(i: int, step: int) -> float:
    return round(1.0 / (1 + step) + i / 1000, 6)


def acc(i: int) -> float:
    return round(0.5 + (i * 37 % 100) / 200, 6)


def c_of(i: int) -> float:
    return [0.01, 0.1, 1.0, 10.0][i % 4]


OTHER_EVENTS_PER_RUN = 1 + 2 + 1  # logged: RunStarted, two params, RunEnded
OTHER_RECORDS_PER_RUN = 1 + 1 + 1  # on the topic: RunStarted, one ParamsLogged with the two params, RunEnded


def points_per_run(steps: int) -> int:
    return steps + 1  # the loss curve and acc


def events_per_run(steps: int) -> int:
    """Events of a run when each metric point is its own event. The emitter may carry a run's points
    in fewer ``MetricsLogged`` batches, as they happened to be queued: count points, not events, then."""
    return OTHER_EVENTS_PER_RUN + points_per_run(steps)


def log_run(i: int, steps: int) -> None:
    with modeldb.start_run(name=f"run-{i:04d}"):
        modeldb.log_params({"i": i, "C": c_of(i)})
        for step in range(steps):
            modeldb.log_metric("loss", loss(i, step), step=step)
        modeldb.log_metric("acc", acc(i))


def main(project: str, runs: int, steps: int, pause_s: float, first: int = 0, until: Path | None = None) -> None:
    modeldb.init(project=project, experiment="load")
    parent = os.getppid()
    logged = 0
    while logged < runs or (until is not None and not until.exists() and os.getppid() == parent):
        log_run(first + logged, steps)
        logged += 1
        time.sleep(pause_s)
    pending = modeldb.flush()
    print(json.dumps({"runs": logged, "first": first, "undelivered": pending}), flush=True)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.loadgen")
    parser.add_argument("project")
    parser.add_argument("runs", type=int, help="runs to log (with --until: at least this many)")
    parser.add_argument("steps", type=int)
    parser.add_argument("pause_s", type=float)
    parser.add_argument("first", type=int, nargs="?", default=0)
    parser.add_argument("--until", type=Path, default=None, help="go on logging runs until this file exists")
    return parser.parse_args()


if __name__ == "__main__":
    a = _args()
    main(a.project, a.runs, a.steps, a.pause_s, a.first, a.until)
