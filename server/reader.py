"""Reads come from the warehouse's current state, and see every write the server answered.

Read-your-writes. A client that logs and then reads (``log_param`` then ``get_run``) must see what
it logged. Before a read the server flushes its emitter, then:

* on the embedded default (file log + chDB, both in this process) it materializes the log's new
  events itself (``modeldb.embedded.catch_up``), so the read is exact;
* with a stream processor (Kafka, or a ClickHouse server), it waits until each run it reads has
  merged the newest event time the server wrote to it, polling every 20 ms for at most
  ``MODELDB_SERVER_READ_WAIT_S`` (10 s by default); past that it answers with what is there.

Rows become MLflow's JSON here (``run_json``). Tags under ``modeldb.`` that stand for MLflow
fields (a deletion, the datasets of ``log-inputs``) are shown as those fields, not as tags.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterable

from modeldb import embedded
from modeldb.core.config import Settings
from modeldb.server.events import Writer
from modeldb.server.protocol import metric_json
from modeldb.warehouse.factory import connect
from modeldb.warehouse.queries import mlflow_runs

INPUT_TAG = "modeldb.input."
HIDDEN = (mlflow_runs.LIFECYCLE_TAG,)
POLL_S = 0.02


class Reader:
    def __init__(self, settings: Settings, writer: Writer, wait_s: float = 10.0):
        self.settings = settings
        self.warehouse = connect(settings)
        self._writer = writer
        self._embedded = embedded.is_embedded(settings)
        self._wait_s = wait_s
        self._lock = threading.Lock()  # one read at a time: chDB's session, and the catch-up, are this process's

    def read(self, query: Callable[..., Any], *args: Any, runs: Iterable[str] = ()) -> Any:
        """``query(warehouse, *args)`` once the warehouse holds every write to ``runs`` (all runs, embedded)."""
        self._writer.flush()
        with self._lock:
            if self._embedded:
                embedded.catch_up(self.settings, self.warehouse)
            else:
                self._wait_for(list(runs))
            return query(self.warehouse, *args)

    def _wait_for(self, run_ids: list[str]) -> None:
        wanted = {run_id: self._writer.newest[run_id] for run_id in run_ids if run_id in self._writer.newest}
        deadline = time.monotonic() + self._wait_s
        while wanted:
            merged = mlflow_runs.written_up_to(self.warehouse, wanted)
            wanted = {run_id: ts for run_id, ts in wanted.items() if merged.get(run_id, 0) < ts}
            if not wanted or time.monotonic() > deadline:
                return
            time.sleep(POLL_S)

    def close(self) -> None:
        self.warehouse.close()


def tags_of(row: dict[str, Any]) -> dict[str, str]:
    return dict(zip(row["tag_keys"], row["tag_values"]))


def run_info(row: dict[str, Any], experiment_id: str) -> dict[str, Any]:
    tags = tags_of(row)
    info = {"run_id": row["run_id"], "run_uuid": row["run_id"], "experiment_id": experiment_id,
            "run_name": tags.get("mlflow.runName", row["name"]), "user_id": row["user"],
            "status": row["status"] or "RUNNING", "start_time": row["started_ts"] // 1000,
            "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{row['run_id']}/artifacts",
            "lifecycle_stage": tags.get(mlflow_runs.LIFECYCLE_TAG, "active")}
    if row["ended_ts"]:
        info["end_time"] = row["ended_ts"] // 1000
    return info


def run_json(row: dict[str, Any], experiment_id: str) -> dict[str, Any]:
    tags = tags_of(row)
    metrics = [{"key": name, "value": metric_json(value), "timestamp": (ver >> 12) // 1000, "step": step}
               for name, value, step, ver in zip(row["metric_names"], row["metric_values"], row["metric_steps"],
                                                 row["metric_vers"])]
    data = {"metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in zip(row["param_keys"], row["param_values"])],
            "tags": [{"key": k, "value": v} for k, v in tags.items() if not k.startswith(INPUT_TAG) and k not in HIDDEN]}
    inputs = [json.loads(v) for k, v in sorted(tags.items()) if k.startswith(INPUT_TAG)]
    return {"info": run_info(row, experiment_id), "data": data, "inputs": {"dataset_inputs": inputs}}
