"""The one batch pipeline every runner drives: decode → materialize → write → dead letters → commit.

A runner (the local runner over the file log, the Faust app, the confluent
``KafkaBatchRunner``, rebuild) only supplies three things:

- how to fetch a batch: it turns what it read into ``Raw`` records, each with
  its position (``source``, ``partition``) and ``end``, the position to commit
  once the record is written;
- how to commit positions: the ``commit`` callable, given the end position of
  every (source, partition) of the batch;
- how to wait while the warehouse is unavailable: the back-off of the
  ``WarehouseSink`` it hands over (a runner that must stop fetching meanwhile
  watches its meter's ``waiting`` state).

**The commit rule, stated once: a position is committed only after the batch
it covers is written** — its rows in the warehouse and its dead letters
durable. ``BatchPipeline.write`` is the only place that calls ``commit``, and
it does so after both. A crash anywhere before that replays the batch, and the
idempotent tables give the same answers (at-least-once delivery). A write that
fails raises before the commit, so nothing half-done is ever committed.

``prepare`` (decode and materialize) is pure CPU work and ``write`` is the
I/O, so a runner may prepare batch N+1 while batch N is written, as long as
it writes batches one at a time and in order.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterable, Iterator, NamedTuple

from modeldb.core.exceptions import DecodeError
from modeldb.stream_processors.current import CurrentState
from modeldb.stream_processors.deadletter import DeadLetterWriter, Letter, letter
from modeldb.stream_processors.materializer import STATE_TABLES, Rows, decode_and_validate, materialize
from modeldb.stream_processors.observe import Meter, emit
from modeldb.stream_processors.sink import WarehouseSink

Positions = dict[tuple[str, int], int]  # (source, partition) -> the position to commit


class Raw(NamedTuple):
    """One record as fetched, before decoding. ``Raw(...)`` costs about 0.5 µs; a runner's per-record
    path may build it as ``new_raw((value, source, partition, offset, end, key, error))`` instead."""

    value: bytes
    source: str  # the topic, or the file log's path
    partition: int
    offset: int  # where the record starts: a dead letter names it
    end: int  # the position to commit once this record is written (the next record's offset)
    key: bytes | None = None
    error: str | None = None  # found before decoding (a broken frame): the record is a dead letter as it is


# ``new_raw((value, source, partition, offset, end, key, error))``: a ``Raw`` from all seven fields
# in their order, at about the cost of a tuple (no Python-level ``__new__``).
new_raw: Callable[[tuple], Raw] = partial(tuple.__new__, Raw)


@dataclass
class Batch:
    """A prepared batch: its rows, its dead letters and the positions it covers."""

    rows: Rows
    letters: list[Letter]
    ends: Positions
    events: int = 0  # decoded events
    newest_ts: int = 0
    written: int = 0  # rows written, once ``write`` returned
    seconds: float = 0.0
    decoded: list = field(default_factory=list)  # the good events, for the current state's merge at write time

    @property
    def empty(self) -> bool:
        """No record at all: nothing to write, no position to move."""
        return not self.ends

    def absorb(self, later: "Batch") -> "Batch":
        """This batch's figures with a later one's added (``process`` writes big input in parts)."""
        self.letters += later.letters
        self.ends.update(later.ends)
        self.events += later.events
        self.written += later.written
        self.newest_ts = max(self.newest_ts, later.newest_ts)
        return self


def within_bytes(sizes: Iterable[int], limit: int) -> int:
    """How many leading records fit in ``limit`` bytes: at least one, so a big record still goes."""
    total = n = 0
    for size in sizes:
        total += size
        if n and total > limit:
            break
        n += 1
    return n


def parts_by_bytes(records: Iterable[Raw], limit: int) -> Iterator[list[Raw]]:
    """The records in order, cut into lists of at most ``limit`` bytes of values (at least one record each)."""
    part: list[Raw] = []
    size = 0
    for record in records:
        size += len(record[0])
        if part and size > limit:
            yield part
            part, size = [], len(record[0])
        part.append(record)
    if part:
        yield part


def fault_pause(seconds: float, events: int) -> None:
    """Fault injection for the crash tests (``MODELDB_FAULT_PAUSE_BEFORE_COMMIT_S``): sleep between
    writing a batch and committing it, after saying so in the log, so a test can kill the worker there."""
    if seconds:
        emit("written_not_committed", events=events, pause_s=seconds)
        time.sleep(seconds)


class BatchPipeline:
    def __init__(self, sink: WarehouseSink, commit: Callable[[Positions], None],
                 deadletters: DeadLetterWriter | None = None, meter: Meter | None = None,
                 tables: frozenset[str] | None = None, fault_pause_s: float = 0.0, log_dead_letters: bool = True,
                 max_bytes: int = 4 * 1024 ** 2):
        """``deadletters=None`` counts letters without writing them (a rebuild: they were written
        when the events first came); ``tables`` limits the rows to those tables (None: all)."""
        self.sink = sink
        self.commit = commit
        self.deadletters = deadletters
        self.meter = meter
        self.tables = tables
        self.fault_pause_s = fault_pause_s
        self.log_dead_letters = log_dead_letters
        self.max_bytes = max_bytes  # ``process``'s parts: a record can be a batch of thousands of points
        # The current-state rows are merged at write time (they need the state the warehouse holds);
        # the runner calls ``state.forget()`` when its partitions move.
        self.state = CurrentState(sink.warehouse) if tables is None or tables & STATE_TABLES else None

    def prepare(self, records: Iterable[Raw]) -> Batch:
        """Decode and validate every record, and materialize the good ones (no I/O)."""
        good, letters, ends = [], [], {}
        newest = 0
        for value, source, partition, offset, end, key, reason in records:  # unpacked: the per-record hot path
            ends[(source, partition)] = end
            if reason is None:
                try:
                    event = decode_and_validate(value)
                except DecodeError as exc:
                    reason = str(exc)
                else:
                    good.append((event, value))
                    if event["ts"] > newest:
                        newest = event["ts"]
                    continue
            letters.append(letter(value, reason, source, partition, offset, key))
        return Batch(materialize(good).only(self.tables), letters, ends, len(good), newest,
                     decoded=[event for event, _ in good])

    def write(self, batch: Batch) -> Batch:
        """Write the rows, then the dead letters, then commit the batch's positions: in that order
        only (see the module docstring). Raises, uncommitted, if a write fails."""
        if batch.empty:
            return batch
        try:
            if self.state is not None and batch.decoded:
                state = self.sink.retrying(lambda: self.state.rows(batch.decoded))  # it may read the warehouse
                batch.rows.update(state.only(self.tables))
            batch.written = self.sink.write(batch.rows)
        except BaseException:
            if self.state is not None:
                self.state.forget()  # what it merged may not be written: read it back next time
            raise
        if self.meter is not None:
            self.meter.recovered()
        if self.deadletters is not None:
            self.deadletters.write(batch.letters)
        fault_pause(self.fault_pause_s, batch.events)
        self.commit(batch.ends)
        if self.meter is not None:
            self.meter.batch(batch.events, len(batch.letters), batch.newest_ts)
        if batch.letters and self.log_dead_letters:
            emit("dead_letters", logging.WARNING, count=len(batch.letters), first_reason=batch.letters[0].reason[:200])
        return batch

    def process(self, records: Iterable[Raw]) -> Batch:
        """Prepare and write the records, in parts of at most ``max_bytes`` (each part written, then
        committed, in order); ``seconds`` is the time it all took."""
        start = time.perf_counter()
        batch: Batch | None = None
        for part in parts_by_bytes(records, self.max_bytes):
            done = self.write(self.prepare(part))
            batch = done if batch is None else batch.absorb(done)
        batch = batch or Batch(Rows(), [], {})
        batch.seconds = time.perf_counter() - start
        return batch
