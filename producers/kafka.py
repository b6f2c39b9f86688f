"""Kafka transport through confluent-kafka (librdkafka).

Producer settings: idempotent, ``acks=all``, lz4 compression, a 50 ms linger
for batching (``LINGER_MS``), key = run id so each run's events stay in order on one partition.
Every record that fails — broker down past ``message.timeout.ms``, or still
queued at close — comes back through a delivery report and is handed to
``on_undeliverable`` (the emitter spills it to disk for ``modeldb replay``).

The librdkafka producer is created lazily, on first publish, so a tracker
object can be pickled to a Spark executor before it has one.
"""
from __future__ import annotations

import logging
from typing import Any

from modeldb.core.config import DEFAULT_TOPIC, KafkaSecurity, Uri
from modeldb.producers.base import Undeliverable

log = logging.getLogger(__name__)

# How long librdkafka gathers records into one request. At 5 ms, runs ended one after another
# (each ``Run.end`` hands its events over) went out in requests of a few records each, and the
# broker spent a quarter of a 2-core machine on them; 50 ms cut that by a third. The confluent
# worker's quiet cut (stream_processors/kafka_runner.py) keeps the latency to a queryable row low.
LINGER_MS = 50


class KafkaTransport:
    def __init__(self, uri: Uri, security: KafkaSecurity, on_undeliverable: Undeliverable,
                 delivery_timeout_s: float = 30.0):
        self.bootstrap = ",".join(f"{h}:{p}" for h, p in uri.hosts)
        self.topic = uri.path.strip("/") or DEFAULT_TOPIC
        self.description = f"kafka://{self.bootstrap}/{self.topic}"
        self._security = security
        self._on_undeliverable = on_undeliverable
        self._timeout_ms = int(delivery_timeout_s * 1000)
        self._producer: Any = None
        # partition -> the highest offset delivered there: a reader that must see this producer's
        # writes waits until the processors' group has committed past it (``modeldb server``).
        self.delivered: dict[int, int] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_producer"] = None
        return state

    def _config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": LINGER_MS,
            "message.timeout.ms": self._timeout_ms,
            "queue.buffering.max.messages": 1_000_000,
            "client.id": "modeldb-producer",
            # librdkafka logs every failed reconnect while the broker is down; the emitter
            # already warns once when it starts spilling, so only critical lines get through.
            "log_level": 2,
            "error_cb": self._on_error,
        }
        conf.update(self._security.librdkafka_config())
        return conf

    def _on_error(self, err: Any) -> None:
        log.debug("kafka producer: %s", err)

    def _get(self) -> Any:
        if self._producer is None:
            from confluent_kafka import Producer

            self._producer = Producer(self._config())
        return self._producer

    def _report(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._on_undeliverable(msg.key() or b"", msg.value(), f"kafka delivery failed: {err.str()}")
        elif msg.offset() > self.delivered.get(msg.partition(), -1):
            self.delivered[msg.partition()] = msg.offset()

    def publish(self, key: bytes, value: bytes) -> None:
        producer = self._get()
        try:
            producer.produce(self.topic, value=value, key=key, on_delivery=self._report)
        except BufferError:
            producer.poll(0.1)
            try:
                producer.produce(self.topic, value=value, key=key, on_delivery=self._report)
            except BufferError:
                self._on_undeliverable(key, value, "kafka producer queue full")
        producer.poll(0)

    def poll(self) -> None:
        if self._producer is not None:
            self._producer.poll(0)

    def flush(self, timeout: float) -> int:
        if self._producer is None:
            return 0
        return self._producer.flush(timeout)

    def close(self, timeout: float) -> None:
        if self._producer is None:
            return
        remaining = self._producer.flush(timeout)
        if remaining:
            # Whatever is still queued gets a delivery report with a purge error,
            # which hands it to on_undeliverable: nothing is lost at exit.
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.flush(1.0)
        self._producer = None
