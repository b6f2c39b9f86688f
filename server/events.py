"""Writes become ModelDB events: the server's one emitter, with our client's guarantees.

Each MLflow write is turned into events of our contract (``RunStarted``, ``RunEnded``,
``ParamLogged``/``ParamsLogged``, ``MetricLogged``, ``TagSet``) and queued on an ``Emitter`` of the
configured transport, the same as our own client's: the file log on the embedded default, Kafka
otherwise; idempotent event ids (uuid7), at-least-once delivery, and a spill to disk when the
broker is down (``modeldb replay`` sends it later).

Times. A run's start and end are the client's ``start_time`` and ``end_time``, a metric point's
time is its ``timestamp`` (milliseconds, as microseconds); every other event is stamped with the
server's clock. Versions break ties by seq: one counter for the whole process, a batch of points
taking consecutive seqs, so no two events of a run share one.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from modeldb.core.config import Settings
from modeldb.core.events import envelope, now_micros, producer_info
from modeldb.producers.emitter import Emitter
from modeldb.producers.factory import make_transport
from modeldb.producers.spill import SpillLog

_PRODUCER = producer_info("mlflow", "2.0").as_record()  # the MLflow REST API this server speaks


@dataclass(frozen=True)
class Target:
    """Where a run's events go: its project (the MLflow experiment), our experiment field, its id."""
    project: str
    experiment: str
    run_id: str


class Writer:
    def __init__(self, settings: Settings):
        self.emitter = Emitter(lambda on_undeliverable: make_transport(settings, on_undeliverable),
                               SpillLog(settings.spill_path), settings.exit_flush_timeout_s)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.newest: dict[str, int] = {}  # run id -> the newest event time written (µs): reads wait for it

    def _seqs(self, n: int) -> int:
        with self._lock:
            first = next(self._seq)
            for _ in range(n - 1):
                next(self._seq)
        return first

    def emit(self, target: Target, event_type: str, payload: dict[str, Any], ts: int | None = None,
             span: int = 1) -> None:
        event = envelope(event_type, payload, project=target.project, experiment=target.experiment,
                         run_id=target.run_id, seq=self._seqs(span), producer=_PRODUCER)
        if ts is not None:
            event["ts"] = ts
        self._note(target.run_id, event["ts"])
        self.emitter.emit(event)

    def points(self, target: Target, points: Iterable[tuple[str, float, int, int]]) -> None:
        """Metric points ``(key, value, step, timestamp in ms)``, each a MetricLogged event (the
        emitter sends a run's points queued together as one batch)."""
        for name, value, step, timestamp in points:
            self.emit(target, "MetricLogged", {"name": name, "value": value, "step": step, "model_id": None,
                                               "dataframe_id": None, "slice": "", "model_changed": False},
                      ts=timestamp * 1000)

    def params(self, target: Target, records: list[dict[str, Any]]) -> None:
        if len(records) == 1:
            self.emit(target, "ParamLogged", {"param": records[0]})
        elif records:
            self.emit(target, "ParamsLogged", {"params": records}, span=len(records))

    def tag(self, target: Target, key: str, value: str) -> None:
        self.emit(target, "TagSet", {"key": key, "value": value})

    def _note(self, run_id: str, ts: int) -> None:
        if ts > self.newest.get(run_id, 0):
            self.newest[run_id] = ts

    def flush(self, timeout: float = 30.0) -> int:
        """Hand every event to the transport and wait for it to be written; returns how many are pending."""
        return self.emitter.flush(timeout)

    def close(self) -> None:
        self.emitter.close()


def param_record(key: str, value: str) -> dict[str, Any]:
    """An MLflow param: its text as given (type str), with its number where the text is one, so that
    ``params_num['alpha'] > 0.1`` works on runs logged through MLflow as on our own."""
    try:
        number: float | None = float(value)
    except ValueError:
        number = None
    if number is not None and number != number and value.strip().lower() != "nan":
        number = None
    return {"key": key, "type": "str", "value": value, "num": number}


def now_ms() -> int:
    return now_micros() // 1000
