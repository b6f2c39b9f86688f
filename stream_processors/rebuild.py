"""Rebuild from the log: re-materialize a warehouse, or some tables, from the first event.

The event log (the Kafka topic, or the file log) is the source of truth; the
warehouse is derived from it. ``rebuild`` reads the whole log up to where it
ends when the rebuild starts, and writes the materializer's rows into a
target warehouse: an empty one (a new database or chDB directory, to switch
to once it has caught up) or the live one, limited to named tables (a new
derived table, or one whose materializer was fixed).

Both read through the batch pipeline (``pipeline.py``), like the live
processors. Dead letters are counted, not written again: the live processor
already put them in the dead-letter topic or file.

For Kafka, ``group`` commits each batch's offsets to that consumer group, so
``modeldb process --group <group>`` continues exactly where the rebuild ended,
and an interrupted rebuild resumes. The topic must keep every event for this
to cover all of history: ``ensure_topics`` creates it with ``retention.ms=-1``.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError
from modeldb.stream_processors.brokers import kafka_conf, topic_of, watermarks
from modeldb.stream_processors.kafka_runner import raw_records
from modeldb.stream_processors.local import LocalRunner, Stats
from modeldb.stream_processors.materializer import COLUMNS
from modeldb.stream_processors.pipeline import BatchPipeline, Positions
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.warehouse.base import Warehouse


@dataclass
class Rebuilt(Stats):
    """A runner's figures, plus where a rebuild picked up again."""
    resumed: int = 0  # records the group had already committed: the rebuild went on from there

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def check_tables(tables: list[str] | None) -> frozenset[str] | None:
    """The tables to fill, validated against the materializer's; None means all of them."""
    if not tables:
        return None
    unknown = sorted(set(tables) - set(COLUMNS))
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)}: the materializer fills "
                          f"{', '.join(sorted(COLUMNS))}")
    return frozenset(tables)


def kafka_backlog(settings: Settings) -> dict[int, tuple[int, int]]:
    """Each partition's (low, high) watermark now: what a rebuild will read."""
    from confluent_kafka import Consumer

    topic = topic_of(settings)
    consumer = Consumer(kafka_conf(settings, **{"group.id": f"modeldb-probe-{uuid.uuid4().hex[:8]}"}))
    try:
        found = watermarks(consumer, topic)
        if not found:
            raise ConfigError(f"topic {topic} not found on {settings.transport_uri.redacted}")
        return found
    finally:
        consumer.close()


def _resume(consumer: Any, topic: str, ends: dict[int, int], done: Rebuilt) -> dict[int, int]:
    """Where each partition starts: its first record, or the group's committed offset when resuming."""
    from confluent_kafka import TopicPartition

    starts = {p: -2 for p in ends}  # OFFSET_BEGINNING
    for tp in consumer.committed([TopicPartition(topic, p) for p in ends], timeout=15):
        if tp.offset >= 0:
            starts[tp.partition] = tp.offset
            done.resumed += min(tp.offset, ends[tp.partition])
    return starts


def rebuild_kafka(settings: Settings, target: Warehouse, tables: frozenset[str] | None = None,
                  group: str | None = None, progress: Callable[[int], None] | None = None) -> Rebuilt:
    """Read the topic from its first event to its end at the start, into ``target``."""
    from confluent_kafka import Consumer, TopicPartition

    topic = topic_of(settings)
    ends = {p: high for p, (low, high) in kafka_backlog(settings).items() if high > low}
    consumer = Consumer(kafka_conf(settings, **{
        "group.id": group or f"modeldb-rebuild-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "queued.max.messages.kbytes": 64 * 1024}))

    def commit(positions: Positions) -> None:  # to the group, if any: `modeldb process --group` goes on from there
        if group:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False)

    pipeline = BatchPipeline(WarehouseSink(target, max_retries=None), commit, tables=tables, log_dead_letters=False,
                             max_bytes=settings.batch_bytes)
    done = Rebuilt()
    started = time.perf_counter()
    try:
        starts = _resume(consumer, topic, ends, done) if group else {p: -2 for p in ends}
        pending = {p for p in ends if starts[p] < 0 or starts[p] < ends[p]}
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in pending])
        while pending:
            messages = [m for m in consumer.consume(settings.batch_size, timeout=1.0)
                        if m.error() is None and m.partition() in pending and m.offset() < ends[m.partition()]]
            if not messages:  # nothing left below the end offsets (e.g. gaps): ask where each partition is
                for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                    if tp.offset >= ends[tp.partition]:
                        pending.discard(tp.partition)
                continue
            batch = pipeline.process(raw_records(messages))
            for (_, partition), position in batch.ends.items():
                if position >= ends[partition]:
                    pending.discard(partition)
            done.events += batch.events
            done.dead += len(batch.letters)
            done.rows += batch.written
            if progress is not None:
                progress(len(messages))
    finally:
        consumer.close()
    done.seconds = time.perf_counter() - started
    return done


def rebuild_file(settings: Settings, target: Warehouse, tables: frozenset[str] | None = None,
                 progress: Callable[[int], None] | None = None) -> Rebuilt:
    """Read the file log from byte 0 into ``target`` (as the local runner does, with its own offsets)."""
    path = Path(settings.transport_uri.path)
    if not path.exists():
        raise ConfigError(f"no event log at {path}: nothing to rebuild from")
    # The live consumer name when filling everything (so `modeldb process` goes on from the end);
    # a fresh one for some tables, so the live runner's offsets are not touched.
    consumer = "local" if tables is None else f"rebuild-{uuid.uuid4().hex[:8]}"
    runner = LocalRunner.from_settings(settings, target, consumer=consumer, tables=tables, engine="rebuild",
                                       record_dead_letters=False, fault_pause_s=0.0)
    if tables is None and runner.committed_offset() >= path.stat().st_size:
        raise ConfigError(f"{target.description} already holds events of {path}, up to its end "
                          "(rebuild into an empty warehouse, or name the tables to refill with --table)")
    # A committed offset short of the end: an interrupted rebuild (or a lagging warehouse) goes on from it.
    done = Rebuilt()
    started = time.perf_counter()
    stats = runner.catch_up(lambda s: progress(s.events + s.dead) if progress is not None else None)
    done.add(stats)
    done.seconds = time.perf_counter() - started
    return done
