"""The local runner: the file event log → the materializer → the warehouse.

It drives the batch pipeline (``pipeline.py``, where the commit rule lives):
this module only reads the log from the committed offset and commits offsets.
Offsets live in the warehouse itself (``_consumer_offsets``), committed only
after the batch's rows and dead letters are written. A crash anywhere replays
the batch, and the idempotent tables give the same answers. Because the offsets belong to
the warehouse, pointing at an empty warehouse re-materializes the whole log.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from modeldb.core.config import Settings
from modeldb.core.eventlog import read_records
from modeldb.stream_processors.deadletter import FileDeadLetters
from modeldb.stream_processors.observe import Meter
from modeldb.stream_processors.pipeline import BatchPipeline, Positions, new_raw
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.warehouse.base import Warehouse

log = logging.getLogger(__name__)


@dataclass
class Stats:
    events: int = 0
    rows: int = 0
    dead: int = 0
    batches: int = 0
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, other: "Stats") -> None:
        self.events += other.events
        self.rows += other.rows
        self.dead += other.dead
        self.batches += other.batches
        self.seconds += other.seconds
        self.reasons.extend(other.reasons[:10])


class LocalRunner:
    def __init__(self, log_path: Path, warehouse: Warehouse, deadletters: FileDeadLetters,
                 consumer: str = "local", batch_size: int = 5000, tables: frozenset[str] | None = None,
                 engine: str = "local", record_dead_letters: bool = True, fault_pause_s: float = 0.0,
                 batch_bytes: int = 4 * 1024 ** 2):
        self.log_path = Path(log_path)
        self.warehouse = warehouse
        self.sink = WarehouseSink(warehouse)
        self.deadletters = deadletters
        self.consumer = consumer
        self.batch_size = batch_size
        self.tables = tables  # only these tables (a rebuild of one derived table); None: all
        self.record_dead_letters = record_dead_letters  # a rebuild re-reads letters already written
        self.meter = Meter(engine, consumer, str(self.log_path), warehouse)
        self._offset: int | None = None
        self.pipeline = BatchPipeline(self.sink, self._commit, deadletters if record_dead_letters else None,
                                      self.meter, tables, fault_pause_s, log_dead_letters=False, max_bytes=batch_bytes)

    @classmethod
    def from_settings(cls, settings: Settings, warehouse: Warehouse, **options: Any) -> "LocalRunner":
        """The runner for the configured file log and dead-letter file."""
        options.setdefault("batch_size", settings.batch_size)
        options.setdefault("fault_pause_s", settings.fault_pause_before_commit_s)
        options.setdefault("batch_bytes", settings.batch_bytes)
        return cls(Path(settings.transport_uri.path), warehouse, FileDeadLetters(settings.deadletter_path), **options)

    @property
    def source(self) -> str:
        return str(self.log_path)

    def committed_offset(self) -> int:
        if self._offset is None:
            result = self.warehouse.query(
                f"SELECT max(offset) FROM `{self.warehouse.database}`._consumer_offsets "
                "WHERE consumer = %(c)s AND source = %(s)s", {"c": self.consumer, "s": self.source})
            self._offset = int(result.scalar() or 0)
        return self._offset

    def backlog_bytes(self) -> int:
        size = self.log_path.stat().st_size if self.log_path.exists() else 0
        return max(0, size - self.committed_offset())

    def _commit(self, ends: Positions) -> None:
        end = ends[(self.source, 0)]
        self.warehouse.insert("_consumer_offsets", ["consumer", "source", "offset", "ver"],
                              [(self.consumer, self.source, end, time.time_ns())])
        self._offset = end

    def run_once(self) -> Stats:
        """One batch of at most ``batch_size`` records from the committed offset, through the pipeline."""
        start = time.perf_counter()
        source = self.source
        records = (new_raw((r.payload, source, 0, r.offset, r.next_offset, None, r.error))
                   for r in read_records(self.log_path, self.committed_offset(), max_records=self.batch_size))
        batch = self.pipeline.process(records)
        if batch.empty:
            return Stats()
        return Stats(events=batch.events, rows=batch.written, dead=len(batch.letters), batches=1,
                     seconds=time.perf_counter() - start, reasons=[item.reason for item in batch.letters[:10]])

    def catch_up(self, progress: Callable[[Stats], None] | None = None) -> Stats:
        total = Stats()
        while True:
            stats = self.run_once()
            if not stats.batches:
                return total
            total.add(stats)
            if progress is not None:
                progress(stats)

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.5,
                    progress: Callable[[Stats], None] | None = None) -> Stats:
        total = Stats()

        def batch(stats: Stats) -> None:
            self.meter.tick()
            if progress is not None:
                progress(stats)

        try:
            while not stop.is_set():
                total.add(self.catch_up(batch))
                self.meter.tick()
                stop.wait(poll_interval)
        finally:
            self.meter.state = "stopped"
            self.meter.tick(force=True)
        return total
