"""Dead letters: events that could not be decoded or validated, with the reason.

Embedded mode writes JSON lines to ``<home>/deadletter.jsonl``; the Kafka
processors produce to ``<topic>.dlq`` with the reason and the source
partition and offset as headers. Both keep the original bytes, so a fixed
processor can take them back: ``modeldb dlq list|show|retry``.

This module is the only one that writes or reads dead letters: the batch
pipeline hands a batch's letters to a store's ``write``, which returns only
once they are durable (fsynced to the file, or acknowledged by the broker),
because the batch's positions are committed right after.

A letter's status is worked out, not stored: does it decode with this code,
and is its event already in the warehouse? So retrying twice, or from two
machines, cannot lose or double anything (the tables are idempotent anyway).
"""
from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError, DecodeError, TransportError
from modeldb.stream_processors.brokers import dead_letter_topic, kafka_conf, topic_of, watermarks


@dataclass
class Letter:
    id: str  # "partition:offset" on the dead-letter topic, or the line number of the file ("" before it is written)
    ts: float
    reason: str
    source: str
    partition: int
    offset: int
    original: bytes
    key: bytes | None = None

    def decoded(self) -> tuple[dict[str, Any] | None, str]:
        """The event as this code decodes it now, or None and the reason it still does not."""
        from modeldb.stream_processors.materializer import decode_and_validate

        try:
            return decode_and_validate(self.original), ""
        except DecodeError as exc:
            return None, str(exc)


def letter(data: bytes, reason: str, source: str, partition: int, offset: int, key: bytes | None = None) -> Letter:
    """A new dead letter: ``data`` from ``source`` (a topic or the file log) at ``partition``/``offset``."""
    return Letter("", time.time(), reason, source, partition, offset, data, key)


class DeadLetterWriter(Protocol):
    def write(self, letters: list[Letter]) -> None:
        """Store the letters durably before returning; raise if that cannot be done."""


class FileDeadLetters:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def where(self) -> str:
        return str(self.path)

    def write(self, letters: list[Letter]) -> None:
        """Append the letters as JSON lines, fsynced before returning."""
        if not letters:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [{"ts": item.ts, "reason": item.reason, "source": item.source, "partition": item.partition,
                  "offset": item.offset, "size": len(item.original),
                  "original_b64": base64.b64encode(item.original).decode()} for item in letters]
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(line) + "\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def count(self) -> int:
        return len(self.read())

    def letters(self) -> Iterator[Letter]:
        for number, item in enumerate(self.read(), start=1):
            yield Letter(str(number), item["ts"], item["reason"], item["source"], item["partition"], item["offset"],
                         base64.b64decode(item["original_b64"]))

    def resend(self, settings: Settings, letters: list[Letter]) -> int:
        """Append the originals to the file event log, where the local runner reads them again."""
        from modeldb.core.eventlog import EventLogWriter, frame

        writer = EventLogWriter(Path(settings.transport_uri.path))
        try:
            writer.append(b"".join(frame(item.original) for item in letters))
            writer.sync()
        finally:
            writer.close()
        return len(letters)


def kafka_headers(item: Letter) -> dict[str, bytes]:
    """A dead letter's Kafka headers: the reason and where the original was (read back by ``_from_message``)."""
    return {"reason": item.reason.encode(), "source_topic": item.source.encode(),
            "source_partition": str(item.partition).encode(), "source_offset": str(item.offset).encode()}


def _from_message(message: Any) -> Letter:
    partition, offset = message.partition(), message.offset()
    headers = {k: (v or b"").decode(errors="replace") for k, v in (message.headers() or [])}
    return Letter(f"{partition}:{offset}", message.timestamp()[1] / 1000.0, headers.get("reason", ""),
                  headers.get("source_topic", ""), int(headers.get("source_partition", -1) or -1),
                  int(headers.get("source_offset", -1) or -1), message.value() or b"", message.key())


def _deliver(producer: Any, topic: str, messages: list[tuple[bytes, bytes | None, dict[str, bytes]]],
             what: str) -> None:
    """Produce (value, key, headers) messages and wait until the broker acknowledged every one."""
    failures: list[str] = []
    for value, key, headers in messages:
        producer.produce(topic, value=value, key=key, headers=headers,
                         on_delivery=lambda err, _msg: err is not None and failures.append(str(err)))
    if messages and (producer.flush(30) or failures):
        raise TransportError(f"could not {what} {len(messages)} dead letter(s) to {topic}: "
                             f"{failures[:1] or 'timed out'}")


def _producer(settings: Settings) -> Any:
    from confluent_kafka import Producer

    return Producer(kafka_conf(settings, acks="all", **{"enable.idempotence": True}))


class KafkaDeadLetters:
    """The ``<topic>.dlq`` topic: written by the Kafka processors, read from its first record to its end."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.topic = dead_letter_topic(settings)
        self._writer: Any = None  # the producer, made on the first write

    @property
    def where(self) -> str:
        return self.topic

    def write(self, letters: list[Letter]) -> None:
        """Produce the originals with their key and the reason headers; return once the broker has
        acknowledged every one (the batch is committed next), else raise ``TransportError``."""
        if not letters:
            return
        if self._writer is None:
            self._writer = _producer(self.settings)
        _deliver(self._writer, self.topic, [(item.original, item.key, kafka_headers(item)) for item in letters],
                 "write")

    def _consumer(self) -> Any:
        import uuid

        from confluent_kafka import Consumer

        return Consumer(kafka_conf(self.settings, **{"group.id": f"modeldb-dlq-{uuid.uuid4().hex[:8]}",
                                                     "enable.auto.commit": False}))

    def _ends(self, consumer: Any) -> dict[int, tuple[int, int]]:
        return watermarks(consumer, self.topic) or {}

    def count(self) -> int:
        consumer = self._consumer()
        try:
            return sum(high - low for low, high in self._ends(consumer).values())
        finally:
            consumer.close()

    def letters(self) -> Iterator[Letter]:
        from confluent_kafka import TopicPartition

        consumer = self._consumer()
        try:
            ends = {p: high for p, (low, high) in self._ends(consumer).items() if high > low}
            consumer.assign([TopicPartition(self.topic, p, -2) for p in ends])
            idle = 0
            while ends and idle < 10:
                message = consumer.poll(1.0)
                if message is None or message.error() is not None:
                    idle += 1
                    continue
                idle = 0
                partition, offset = message.partition(), message.offset()
                if offset >= ends.get(partition, 0):
                    continue
                if offset + 1 >= ends[partition]:
                    del ends[partition]
                yield _from_message(message)
        finally:
            consumer.close()

    def resend(self, settings: Settings, letters: list[Letter]) -> int:
        """Produce the originals to the event topic again, with their original key (the run id)."""
        _deliver(_producer(settings), topic_of(settings),
                 [(item.original, item.key, {"retried_from": f"{self.topic}:{item.id}".encode()}) for item in letters],
                 "re-send")
        return len(letters)


def store(settings: Settings) -> FileDeadLetters | KafkaDeadLetters:
    """The dead letters of the configured transport."""
    scheme = settings.transport_uri.scheme
    if scheme == "kafka":
        return KafkaDeadLetters(settings)
    if scheme == "file":
        return FileDeadLetters(settings.deadletter_path)
    raise ConfigError(f"no dead letters for transport {scheme}://")
