"""What a running processor tells the world: structured log records and heartbeats.

Every processor (Faust, confluent, local runner, rebuild) counts with one
``Meter`` and reports the same figures two ways:

- structured log records on the ``modeldb.processor`` logger, one line each,
  as ``key=value`` text or as JSON (``MODELDB_LOG_FORMAT=json``), so a log
  shipper can index them;
- a heartbeat row in the warehouse's ``_processors`` table every few seconds,
  which ``modeldb status`` reads to show each worker's health and rate.

A heartbeat that cannot be written (the warehouse is down) is skipped: the
processor's own retry loop is what handles an unavailable warehouse.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from modeldb.core.exceptions import ModelDBError
from modeldb.warehouse.base import Warehouse

log = logging.getLogger("modeldb.processor")

HEARTBEAT_S = 5.0
COLUMNS = ("worker", "group_name", "engine", "source", "state", "started", "events", "dead", "batches", "rate",
           "newest_ts", "partitions", "updated", "ver")


def _now_us() -> int:
    return time.time_ns() // 1000


class StructuredFormatter(logging.Formatter):
    """One record per line: ``ts level event key=value…``, or a JSON object."""

    def __init__(self, fmt: str = "text"):
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        if self.json:
            body = {"ts": ts, "level": record.levelname.lower(), "logger": record.name,
                    "event": getattr(record, "event", None) or record.getMessage(), **fields}
            if record.exc_info:
                body["error"] = self.formatException(record.exc_info)
            return json.dumps(body, default=str)
        event = getattr(record, "event", None)
        text = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        head = f"{ts} {record.levelname.lower():<7} {event or record.getMessage()}"
        line = f"{head} {text}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    text = str(value)
    return json.dumps(text) if (not text or any(c in text for c in ' ="\n')) else text


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Route ``modeldb.processor`` records to stderr in the chosen format (idempotent)."""
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter(fmt))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def emit(event: str, level: int = logging.INFO, exc_info: Any = None, **fields: Any) -> None:
    """Log one structured record: an event name and its fields."""
    log.log(level, event, extra={"event": event, "fields": fields}, exc_info=exc_info)


class Meter:
    """A worker's running figures; ``tick`` returns them when a heartbeat is due."""

    def __init__(self, engine: str, group: str, source: str, warehouse: Warehouse | None = None,
                 interval_s: float = HEARTBEAT_S):
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.engine, self.group, self.source = engine, group, source
        self.warehouse = warehouse
        self.interval_s = interval_s
        self.started = _now_us()
        self.events = self.dead = self.batches = 0
        self.newest_ts = 0
        self.state = "running"
        self.partitions: list[str] = []
        self.rate = 0.0
        self._mark = (time.monotonic(), 0)
        self._last_beat = 0.0

    def batch(self, events: int, dead: int, newest_ts: int = 0) -> None:
        self.events += events
        self.dead += dead
        self.batches += 1
        self.newest_ts = max(self.newest_ts, newest_ts)

    def waiting(self, retry_in_s: float) -> None:
        """The warehouse is unavailable: say so now, in the log and in a heartbeat."""
        self.state = "waiting"
        emit("warehouse_unavailable", logging.WARNING, retry_in_s=round(retry_in_s, 1), worker=self.worker)
        self.tick(force=True)

    def recovered(self) -> bool:
        """A write went through: if the worker was waiting, it is running again (True)."""
        if self.state == "running":
            return False
        self.state = "running"
        emit("warehouse_back", worker=self.worker)
        return True

    def figures(self) -> dict[str, Any]:
        now = time.monotonic()
        since, counted = self._mark
        if now - since >= 1.0:
            self.rate = (self.events - counted) / (now - since)
            self._mark = (now, self.events)
        age = (_now_us() - self.newest_ts) / 1e6 if self.newest_ts else None
        return {"worker": self.worker, "group": self.group, "engine": self.engine, "state": self.state,
                "events": self.events, "dead": self.dead, "batches": self.batches, "rate": round(self.rate, 1),
                "newest_age_s": None if age is None else round(age, 3), "partitions": len(self.partitions)}

    def tick(self, force: bool = False) -> bool:
        """Log progress and write a heartbeat if the interval has passed (or ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_beat < self.interval_s:
            return False
        self._last_beat = now
        figures = self.figures()
        emit("progress", **figures)
        self.heartbeat()
        return True

    def heartbeat(self) -> None:
        if self.warehouse is None:
            return
        now = _now_us()
        row = (self.worker, self.group, self.engine, self.source, self.state, self.started, self.events, self.dead,
               self.batches, float(self.rate), self.newest_ts, ",".join(self.partitions), now, time.time_ns())
        try:
            self.warehouse.insert("_processors", COLUMNS, [row])
        except ModelDBError as exc:  # the warehouse is down: the batch loop retries; the heartbeat just skips
            log.debug("heartbeat skipped: %s", exc)
