"""A data scientist's script, as a separate process: logs runs at a steady pace through the public API.

    python -m tests.integration.loadgen PROJECT RUNS STEPS PAUSE_S [FIRST]

Every value is a function of the run and step numbers, so a test knows each
answer without trusting the warehouse: run ``i`` has params ``i`` and ``C``,
a ``loss`` curve of ``STEPS`` steps and a final ``acc``. ``FIRST`` (default 0)
is the first run's number, so a second load can add runs FIRST… to a project. The transport comes
from ``MODELDB_TRANSPORT``; broker outages spill to disk as usual. It prints
one JSON line at the end: runs logged and events still undelivered.
"""
from __future__ import annotations

import json
import sys
import time

import modeldb


def loss(i: int, step: int) -> float:
    return round(1.0 / (1 + step) + i / 1000, 6)


def acc(i: int) -> float:
    return round(0.5 + (i * 37 % 100) / 200, 6)


def c_of(i: int) -> float:
    return [0.01, 0.1, 1.0, 10.0][i % 4]


def events_per_run(steps: int) -> int:
    return 1 + 2 + steps + 1 + 1  # RunStarted, two params, the curve, acc, RunEnded


def main(project: str, runs: int, steps: int, pause_s: float, first: int = 0) -> None:
    modeldb.init(project=project, experiment="load")
    for i in range(first, first + runs):
        with modeldb.start_run(name=f"run-{i:04d}"):
            modeldb.log_params({"i": i, "C": c_of(i)})
            for step in range(steps):
                modeldb.log_metric("loss", loss(i, step), step=step)
            modeldb.log_metric("acc", acc(i))
        time.sleep(pause_s)
    pending = modeldb.flush()
    print(json.dumps({"runs": runs, "undelivered": pending}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 0)
