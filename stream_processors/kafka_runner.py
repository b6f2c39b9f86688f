"""Kafka batch runner on confluent-kafka: the same materializer, without Faust's per-event cost.

Why it exists: on our 2-core machines a Faust agent that does nothing with its
events tops out at about 5,000 events/s (``bench/foundation.py`` measures it),
an order of magnitude below the goal of 50,000 events/s per processor. Faust
moves every message through several asyncio hops; this runner asks librdkafka
for a whole batch at once (``consume(num_messages, timeout)`` — the size and
time bounds) and works on it in one go.

Same guarantees as the Faust app: offsets are committed synchronously only
after the batch's rows are in the warehouse and its dead letters are on
``<topic>.dlq``; a crash or a rebalance replays the uncommitted batch, and the
idempotent tables give the same answers. One consumer group; run more workers
to share the partitions.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from modeldb.config import Settings
from modeldb.exceptions import DecodeError, TransportError
from modeldb.stream_processors.materializer import decode_and_validate, materialize
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.warehouse.base import Warehouse

log = logging.getLogger(__name__)


class KafkaBatchRunner:
    def __init__(self, settings: Settings, warehouse: Warehouse, group: str):
        uri = settings.transport_uri
        self.bootstrap = ",".join(f"{h}:{p}" for h, p in uri.hosts)
        self.topic = uri.path.strip("/") or "modeldb.events"
        self.settings = settings
        self.group = group
        self.sink = WarehouseSink(warehouse, max_retries=None)
        self.events = 0
        self.dead = 0

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        conf = {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.min.bytes": 1,
            "fetch.wait.max.ms": 100,
            "max.partition.fetch.bytes": 8 * 1024 * 1024,
            "queued.max.messages.kbytes": 256 * 1024,
            "client.id": "modeldb-processor",
            "log_level": 3,
        }
        conf.update(self.settings.kafka_security.librdkafka_config())
        return Consumer(conf)

    def _dlq_producer(self) -> Any:
        from confluent_kafka import Producer

        conf = {"bootstrap.servers": self.bootstrap, "acks": "all", "enable.idempotence": True, "log_level": 3}
        conf.update(self.settings.kafka_security.librdkafka_config())
        return Producer(conf)

    def run(self, stop: threading.Event, on_batch: Callable[[int, int, float], None] | None = None) -> None:
        consumer, dlq = self._consumer(), self._dlq_producer()
        consumer.subscribe([self.topic])
        try:
            while not stop.is_set():
                messages = consumer.consume(num_messages=self.settings.batch_size,
                                            timeout=self.settings.batch_seconds)
                if not messages:
                    continue
                started = time.perf_counter()
                good, dead = [], []
                for message in messages:
                    if message.error() is not None:
                        log.warning("kafka: %s", message.error())
                        continue
                    data = message.value()
                    try:
                        good.append((decode_and_validate(data), data))
                    except DecodeError as exc:
                        dead.append((message, str(exc)))
                self.sink.write(materialize(good))
                failures: list[str] = []
                for message, reason in dead:
                    dlq.produce(self.topic + ".dlq", value=message.value(), key=message.key(), headers={
                        "reason": reason.encode(), "source_topic": message.topic().encode(),
                        "source_partition": str(message.partition()).encode(),
                        "source_offset": str(message.offset()).encode()},
                        on_delivery=lambda err, _msg: err is not None and failures.append(str(err)))
                # Commit only once every dead letter is acknowledged by the broker; otherwise stop
                # uncommitted, and the batch is replayed.
                if dead and (dlq.flush(30) or failures):
                    raise TransportError(f"could not write {len(dead)} dead letter(s) to {self.topic}.dlq: "
                                         f"{failures[:1] or 'timed out'}")
                consumer.commit(asynchronous=False)
                self.events += len(good)
                self.dead += len(dead)
                if on_batch is not None:
                    on_batch(len(good), len(dead), time.perf_counter() - started)
        finally:
            consumer.close()
