"""Reads come from the warehouse's current state, and see every write the server answered.

Read-your-writes. A client that logs and then reads (``log_param`` then ``get_run``) must see what
it logged. Before a read the server flushes its emitter, then:

* on the embedded default (file log + chDB, both in this process) it materializes the log's new
  events itself (``modeldb.embedded.catch_up``), so the read is exact;
* on Kafka, it waits until the processors' consumer group (``MODELDB_CONSUMER_GROUP``) has
  committed past the last offset the server's writes were delivered at, on each partition it wrote
  to. A worker commits only after the rows are in, so the read sees every write it answered;
* with the file log and a ClickHouse server (a ``modeldb process`` elsewhere), it waits until each
  run it reads has merged the newest event time the server wrote to it.

Either wait polls every 20 ms for at most 30 s; past that it answers with what is there and says
so in the log (a processor that is down or far behind).

Rows become MLflow's JSON here (``run_json``). Tags under ``modeldb.`` that stand for MLflow
fields (a deletion, the datasets of ``log-inputs``) are shown as those fields, not as tags.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Iterable

from modeldb import embedded
from modeldb.core.config import Settings
from modeldb.server.events import Writer
from modeldb.server.protocol import metric_json
from modeldb.stream_processors.brokers import kafka_conf, topic_of
from modeldb.warehouse.factory import connect
from modeldb.warehouse.queries import mlflow_runs

log = logging.getLogger(__name__)

INPUT_TAG = "modeldb.input."
HIDDEN = (mlflow_runs.LIFECYCLE_TAG,)
POLL_S = 0.02


class Reader:
    def __init__(self, settings: Settings, writer: Writer, wait_s: float = 30.0):
        self.settings = settings
        self.warehouse = connect(settings)
        self._writer = writer
        self._embedded = embedded.is_embedded(settings)
        self._wait_s = wait_s
        self._consumer: Any = None  # Kafka: reads the processors' committed offsets
        self._lock = threading.Lock()  # one read at a time: chDB's session, and the catch-up, are this process's
        self._turn = threading.Condition()  # catch-ups begun and done, shared by the readers waiting for one
        self._begun = self._done = 0
        self._running = False

    def read(self, query: Callable[..., Any], *args: Any, runs: Iterable[str] = ()) -> Any:
        """``query(warehouse, *args)`` once the warehouse holds every write the server answered."""
        self._writer.flush()
        if self._embedded:
            self._caught_up()
        with self._lock:
            if not self._embedded and self.settings.transport_uri.scheme == "kafka":
                self._wait(self._uncommitted)
            elif not self._embedded:
                wanted = {run_id: self._writer.newest[run_id] for run_id in runs if run_id in self._writer.newest}
                self._wait(lambda: self._unmerged(wanted))
            return query(self.warehouse, *args)

    def _caught_up(self) -> None:
        """Return once a catch-up that began after this call has finished: it holds every event
        flushed before. Concurrent readers share one: whoever finds none running runs the next, and
        the rest wait for it, so a catch-up (a dozen inserts into chDB, about 100 ms whatever their
        size) is paid once for all the reads that arrived meanwhile, not once each."""
        with self._turn:
            need = self._begun + 1
            while self._done < need:
                if self._running:
                    self._turn.wait()
                    continue
                self._running, self._begun = True, self._begun + 1
                mine, finished = self._begun, False
                self._turn.release()
                try:
                    with self._lock:
                        embedded.catch_up(self.settings, self.warehouse)
                    finished = True
                finally:
                    self._turn.acquire()
                    self._running = False
                    if finished:
                        self._done = mine
                    self._turn.notify_all()

    def _wait(self, behind: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self._wait_s
        while behind():
            if time.monotonic() > deadline:
                log.warning("modeldb server: the stream processors are more than %.0f s behind its writes; "
                            "answering with what the warehouse holds (is `modeldb process` running?)", self._wait_s)
                return
            time.sleep(POLL_S)

    def _unmerged(self, wanted: dict[str, int]) -> bool:
        if not wanted:
            return False
        merged = mlflow_runs.written_up_to(self.warehouse, wanted)
        return any(merged.get(run_id, 0) < ts for run_id, ts in wanted.items())

    def _uncommitted(self) -> bool:
        """Whether the processors' group has yet to commit an offset this server's writes were delivered at."""
        from confluent_kafka import TopicPartition

        delivered = dict(getattr(self._writer.emitter.transport, "delivered", {}))
        if not delivered:
            return False
        if self._consumer is None:
            from confluent_kafka import Consumer

            self._consumer = Consumer(kafka_conf(self.settings, **{
                "group.id": self.settings.consumer_group, "enable.auto.commit": False}))
        topic = topic_of(self.settings)
        committed = self._consumer.committed([TopicPartition(topic, part) for part in delivered], timeout=10)
        return any(tp.offset <= delivered[tp.partition] for tp in committed)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
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
