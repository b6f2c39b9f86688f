"""The embedded catch-up: on the default (file log + chDB), materialize the log before reading it.

On the embedded default nothing runs ``modeldb process`` in the background: the process that
reads the warehouse owns the chDB directory, so it materializes the file log's new events
itself before it answers. ``modeldb sql``, ``modeldb query``, ``modeldb.query.*``, the demo and
the dashboard all do it through this module, which is the one copy of that step:

- ``is_embedded(settings)``: whether reads must catch up first;
- ``catch_up(settings, warehouse, progress)``: materialize everything the warehouse has not seen
  yet, with the local runner, and return its ``Stats``;
- ``Keeper``: a background thread that keeps catching up every second (the dashboard).

Offsets live in the warehouse (see ``stream_processors/local.py``), so a catch-up is safe to
repeat and a second one right after the first does nothing. With Kafka or a ClickHouse server
the stream processor does this job, and readers only read.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ContextManager

from modeldb.core.config import Settings
from modeldb.warehouse.base import Warehouse

if TYPE_CHECKING:  # the runner is imported when a catch-up runs, so importing this module stays cheap
    from modeldb.stream_processors.local import LocalRunner, Stats

log = logging.getLogger(__name__)

OnBatch = Callable[["Stats"], None]
"""Called after each materialized batch with that batch's figures."""
Progress = Callable[[int], ContextManager["OnBatch | None"]]
"""Given the backlog in bytes, a context for the catch-up that yields a per-batch callback (or None)."""

__all__ = ["Keeper", "OnBatch", "Progress", "catch_up", "is_embedded"]


def is_embedded(settings: Settings) -> bool:
    """The embedded default: events in a local file log, the warehouse in this process (chDB)."""
    return settings.transport_uri.scheme == "file" and settings.warehouse_uri.scheme == "chdb"


def catch_up(settings: Settings, warehouse: Warehouse, progress: Progress | None = None) -> "Stats":
    """Materialize whatever the file log holds that ``warehouse`` has not seen yet.

    ``progress`` lets a caller report a long catch-up: it gets the backlog in bytes and returns a
    context manager that yields a per-batch callback, or None when the backlog is too small to
    bother (the CLI shows a progress bar above a megabyte).
    """
    runner = _runner(settings, warehouse)
    if progress is None:
        return runner.catch_up()
    with progress(runner.backlog_bytes()) as on_batch:
        return runner.catch_up(on_batch)


def _runner(settings: Settings, warehouse: Warehouse) -> "LocalRunner":
    from modeldb.stream_processors.local import LocalRunner

    return LocalRunner.from_settings(settings, warehouse)


@dataclass
class Keeper:
    """Keeps the embedded warehouse current in the background: new events are materialized every second.

    A failure does not stop it: the error is logged, kept in ``error`` for the reader to show, and the
    next round retries. ``events`` and ``last_batch`` say how much it materialized and when.
    """
    runner: LocalRunner
    interval_s: float = 1.0
    stopped: threading.Event = field(default_factory=threading.Event)
    events: int = 0
    last_batch: float = 0.0
    error: str = ""

    @classmethod
    def start(cls, settings: Settings, warehouse: Warehouse, interval_s: float = 1.0) -> "Keeper":
        """Catch up once, here (so the first answer is current), then keep catching up in a daemon thread."""
        runner = _runner(settings, warehouse)
        runner.catch_up()
        keeper = cls(runner, interval_s)
        threading.Thread(target=keeper._loop, name="modeldb-embedded-keeper", daemon=True).start()
        return keeper

    def stop(self) -> None:
        self.stopped.set()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                stats = self.runner.catch_up()
                if stats.batches:
                    self.events += stats.events
                    self.last_batch = time.time()
                self.error = ""
            except Exception as exc:  # keep the reader serving; it shows what is wrong
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("materializing the file log failed: %s", self.error)
            self.stopped.wait(self.interval_s)
