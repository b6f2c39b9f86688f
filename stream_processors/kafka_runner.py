"""Kafka batch runner on confluent-kafka: the same materializer, without Faust's per-event cost.

Why it exists: on our 2-core machines a Faust agent that does nothing with its
events tops out at about 5,000 events/s (``bench/foundation.py`` measures it),
an order of magnitude below the goal of 50,000 events/s per processor. Faust
moves every message through several asyncio hops; this runner asks librdkafka
for a whole batch at once (``consume(num_messages, timeout)`` — the size and
time bounds) and works on it in one go.

It drives the batch pipeline (``pipeline.py``): this module fetches batches,
commits offsets, and pauses fetching while the warehouse is down.

Guarantees:

- **Commit after insert** (the pipeline's rule). A batch's offsets (explicit,
  per partition) are committed synchronously only after its rows are in the
  warehouse and its dead letters are acknowledged on ``<topic>.dlq``. A crash
  anywhere replays the uncommitted batch, and the idempotent tables give the
  same answers.
- **Backpressure.** While the warehouse is unavailable the sink retries with
  backoff; meanwhile the runner pauses its partitions and keeps polling, so it
  stays in the group, fetches nothing new, and buffers at most what librdkafka
  had already prefetched (bounded by ``queued.max.messages.kbytes``).
- **Scale-out.** One consumer group; more workers share the partitions and
  rebalance when one joins or leaves. A batch whose partitions were taken away
  meanwhile is already written; it commits only the partitions it still owns,
  and the new owner replays the rest, which changes no answer. A commit that
  fails (a broker restarting) is retried with the next batch or when idle.
- **Stop.** SIGTERM finishes the batch in flight and commits it; if the
  warehouse is down at that moment, the worker stops without committing it,
  and the batch is replayed.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from modeldb.core.config import Settings
from modeldb.stream_processors.brokers import kafka_conf, kafka_error_text, topic_of, watermarks
from modeldb.stream_processors.deadletter import KafkaDeadLetters
from modeldb.stream_processors.observe import Meter, emit
from modeldb.stream_processors.pipeline import BatchPipeline, Positions, Raw, new_raw, within_bytes
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.warehouse.base import Warehouse

log = logging.getLogger(__name__)

# A batch in the making is written once a poll this long returns nothing: a trickle (one run logging
# now and then) waits this, not batch_seconds, and a load, whose polls never come back empty, still
# fills whole batches. It leaves room for the producers' linger (producers/kafka.py) in the latency.
QUIET_S = 0.05

# Moved to ``brokers``; still importable from here.
__all__ = ["KafkaBatchRunner", "StoppedWaiting", "kafka_conf", "kafka_error_text", "raw_records", "topic_of",
           "watermarks"]


def raw_records(messages: list) -> list[Raw]:
    """confluent-kafka messages as the pipeline's records. A message that is a consumer error
    (not a record) is logged and skipped: it has no offset to commit."""
    records = []
    for message in messages:
        if message.error() is not None:
            emit("kafka_error", logging.WARNING, error=str(message.error()))
            continue
        offset = message.offset()
        records.append(new_raw((message.value(), message.topic(), message.partition(), offset, offset + 1,
                                message.key(), None)))
    return records


class StoppedWaiting(Exception):
    """A stop request arrived while the writer waited for the warehouse."""


class KafkaBatchRunner:
    def __init__(self, settings: Settings, warehouse: Warehouse, group: str):
        self.topic = topic_of(settings)
        self.settings = settings
        self.group = group
        self.meter = Meter("confluent", group, self.topic, warehouse)
        self.sink = WarehouseSink(warehouse, max_retries=None, sleep=self._backoff)
        self.pipeline = BatchPipeline(self.sink, self._commit, KafkaDeadLetters(settings), self.meter,
                                      fault_pause_s=settings.fault_pause_before_commit_s, max_bytes=settings.batch_bytes)
        self._consumer: Any = None
        self._held: list[Any] = []  # messages polled while paused: the next batch starts with them
        self._uncommitted: dict[tuple[str, int], int] = {}  # offsets whose commit failed, to commit again
        self._stop = threading.Event()

    @property
    def events(self) -> int:
        return self.meter.events

    @property
    def dead(self) -> int:
        return self.meter.dead

    def _consumer_conf(self) -> dict[str, Any]:
        return kafka_conf(
            self.settings,
            **{"group.id": self.group,
               "enable.auto.commit": False,
               "auto.offset.reset": "earliest",
               "fetch.wait.max.ms": 100,
               "max.partition.fetch.bytes": 8 * 1024 * 1024,
               "queued.max.messages.kbytes": 64 * 1024,
               "session.timeout.ms": 10_000,
               "heartbeat.interval.ms": 2_000,
               "client.id": f"modeldb-processor-{self.meter.worker}"})

    def _on_assign(self, consumer: Any, partitions: list) -> None:
        if self.meter.state == "waiting":  # a rebalance during an outage: the new partitions wait too
            consumer.pause(partitions)
        self.meter.partitions = sorted(set(self.meter.partitions) | {f"{p.topic}[{p.partition}]" for p in partitions})
        if self.pipeline.state is not None:
            self.pipeline.state.forget()  # runs taken over: read them back before writing them
        emit("assigned", worker=self.meter.worker, partitions=",".join(f"{p.partition}" for p in partitions))

    def _on_revoke(self, consumer: Any, partitions: list) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self.meter.partitions = [p for p in self.meter.partitions
                                 if not any(p == f"{t}[{n}]" for t, n in gone)]
        self._held = [m for m in self._held if (m.topic(), m.partition()) not in gone]  # the new owner replays them
        if self.pipeline.state is not None:
            self.pipeline.state.forget()
        emit("revoked", worker=self.meter.worker, partitions=",".join(f"{p.partition}" for p in partitions))

    def _backoff(self, seconds: float) -> None:
        """The sink's back-off (on the writer thread); the main thread sees ``waiting`` and pauses fetching.
        A stop request ends the wait: the batch stays uncommitted and is replayed by the next owner."""
        self.meter.waiting(seconds)
        if self._stop.wait(seconds):
            raise StoppedWaiting("stopped while the warehouse was unavailable; the batch was not committed")

    def _await(self, consumer: Any, future: Future) -> None:
        """Wait for the previous batch's write and commit. While the warehouse is down, stop fetching
        but keep polling, so the group keeps this worker; what the poll returns is held for later."""
        paused = False
        try:
            while True:
                try:
                    return future.result(timeout=0.2)
                except FutureTimeout:
                    pass
                if self.meter.state == "waiting":
                    if not paused:
                        consumer.pause(consumer.assignment())
                        paused = True
                    message = consumer.poll(0.5)
                    if message is not None and message.error() is None:
                        self._held.append(message)
        finally:
            if paused:
                consumer.resume(consumer.assignment())

    def _fetch(self, consumer: Any, wanted: int, holding: bool) -> list:
        """Up to ``wanted`` records within ``batch_seconds``. A load fills whole batches; a trickle is
        written as soon as the topic is quiet for ``QUIET_S``, so its latency is about that, not
        ``batch_seconds`` (a poll that returns nothing while records are in hand ends the batch)."""
        deadline = time.monotonic() + self.settings.batch_seconds
        got: list = []
        while len(got) < wanted:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = consumer.consume(num_messages=wanted - len(got), timeout=min(QUIET_S, left))
            if not more and (got or holding):
                break
            got += more
        return got

    def run(self, stop: threading.Event) -> None:
        """Consume, decode and materialize batch N+1 while batch N is written and committed on a
        writer thread: ClickHouse works on one batch while Python decodes the next. Writes and
        commits stay in order, one at a time."""
        from confluent_kafka import Consumer

        self._stop = stop
        consumer = self._consumer = Consumer(self._consumer_conf())
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        emit("started", worker=self.meter.worker, engine="confluent", group=self.group, topic=self.topic,
             batch_size=self.settings.batch_size, batch_seconds=self.settings.batch_seconds)
        writer = ThreadPoolExecutor(1, thread_name_prefix="modeldb-writer")
        pending: Future | None = None
        # A batch holds tens of thousands of fresh dicts and tuples, so the automatic collector runs
        # over and over, on objects that are about to be freed by reference counting anyway (it cost
        # about a third of decoding). The processor makes no reference cycles of its own: collect
        # them once a minute instead.
        gc.freeze()
        gc.disable()
        collected = time.monotonic()
        try:
            while not stop.is_set():
                messages, self._held = self._held, []
                if len(messages) < self.settings.batch_size:
                    messages += self._fetch(consumer, self.settings.batch_size - len(messages), bool(messages))
                if messages:
                    fit = within_bytes((len(m.value() or b"") for m in messages), self.settings.batch_bytes)
                    messages, self._held = messages[:fit], messages[fit:]  # the rest start the next batch
                    batch = self.pipeline.prepare(raw_records(messages))
                    if pending is not None:
                        self._await(consumer, pending)
                    pending = writer.submit(self.pipeline.write, batch)
                elif pending is not None and pending.done():
                    pending.result()
                    pending = None
                elif pending is None and self._uncommitted:  # idle: retry a commit that failed earlier
                    self._commit({})
                if time.monotonic() - collected > 60:
                    gc.collect()
                    collected = time.monotonic()
                self.meter.tick()
            if pending is not None:  # a clean stop: the last batch is written and committed
                self._await(consumer, pending)
        except StoppedWaiting as exc:
            emit("stopped_uncommitted", logging.WARNING, detail=str(exc))
        finally:
            gc.enable()
            writer.shutdown(wait=True)
            self.meter.state = "stopped"
            self.meter.tick(force=True)
            emit("stopped", worker=self.meter.worker, events=self.meter.events, dead=self.meter.dead)
            consumer.close()
            self._consumer = None

    def _commit(self, ends: Positions) -> None:
        """Commit these offsets, and any that failed before, for the partitions this worker still owns.

        A partition that moved to another worker is left to it (it replays from the group's offset);
        committing it from here could move that offset backwards. A failed commit (e.g. the broker
        restarting) is kept and retried with the next batch, or when idle."""
        from confluent_kafka import KafkaException, TopicPartition

        offsets = {**self._uncommitted, **ends}
        if not offsets:
            return
        consumer = self._consumer
        owned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        mine = {key: offset for key, offset in offsets.items() if key in owned}
        self._uncommitted = {}
        if len(mine) < len(offsets):
            emit("commit_skipped", partitions=",".join(str(p) for (_, p) in offsets if (_, p) not in owned),
                 detail="partitions moved to another worker, which replays them")
        if not mine:
            return
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in mine.items()], asynchronous=False)
        except KafkaException as exc:  # the rows are written; commit again later (a replay would be harmless)
            self._uncommitted = mine
            emit("commit_failed", logging.WARNING, error=kafka_error_text(exc), retry="with the next batch or when idle")
