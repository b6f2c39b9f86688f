"""Dead letters: events that could not be decoded or validated, with the reason.

Embedded mode writes JSON lines to ``<home>/deadletter.jsonl``; the Kafka
processors produce to ``<topic>.dlq`` with the reason and the source
partition and offset as headers. Both keep the original bytes, so a fixed
processor can take them back: ``modeldb dlq list|show|retry``.

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
from typing import Any, Iterator

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError, DecodeError


def letter(data: bytes, reason: str, source: str, partition: int, offset: int) -> dict[str, Any]:
    return {"ts": time.time(), "reason": reason, "source": source, "partition": partition, "offset": offset,
            "size": len(data), "original_b64": base64.b64encode(data).decode()}


@dataclass
class Letter:
    id: str  # "partition:offset" on the dead-letter topic, or the line number of the file
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


class FileDeadLetters:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def where(self) -> str:
        return str(self.path)

    def write(self, letters: list[dict[str, Any]]) -> None:
        if not letters:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(item) + "\n" for item in letters))
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


class KafkaDeadLetters:
    """The ``<topic>.dlq`` topic, read from its first record to its end."""

    def __init__(self, settings: Settings):
        from modeldb.stream_processors.kafka_runner import topic_of

        self.settings = settings
        self.topic = topic_of(settings) + ".dlq"

    @property
    def where(self) -> str:
        return self.topic

    def _consumer(self) -> Any:
        import uuid

        from confluent_kafka import Consumer

        from modeldb.stream_processors.kafka_runner import kafka_conf

        return Consumer(kafka_conf(self.settings, **{"group.id": f"modeldb-dlq-{uuid.uuid4().hex[:8]}",
                                                     "enable.auto.commit": False}))

    def _ends(self, consumer: Any) -> dict[int, tuple[int, int]]:
        from modeldb.stream_processors.kafka_runner import watermarks

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
                headers = {k: (v or b"").decode(errors="replace") for k, v in (message.headers() or [])}
                yield Letter(f"{partition}:{offset}", message.timestamp()[1] / 1000.0, headers.get("reason", ""),
                             headers.get("source_topic", ""), int(headers.get("source_partition", -1) or -1),
                             int(headers.get("source_offset", -1) or -1), message.value() or b"", message.key())
        finally:
            consumer.close()

    def resend(self, settings: Settings, letters: list[Letter]) -> int:
        """Produce the originals to the event topic again, with their original key (the run id)."""
        from confluent_kafka import Producer

        from modeldb.core.exceptions import TransportError
        from modeldb.stream_processors.kafka_runner import kafka_conf, topic_of

        producer = Producer(kafka_conf(settings, acks="all", **{"enable.idempotence": True}))
        failures: list[str] = []
        for item in letters:
            producer.produce(topic_of(settings), value=item.original, key=item.key,
                             headers={"retried_from": f"{self.topic}:{item.id}".encode()},
                             on_delivery=lambda err, _m: err is not None and failures.append(str(err)))
        if producer.flush(30) or failures:
            raise TransportError(f"could not re-send {len(letters)} dead letter(s): {failures[:1] or 'timed out'}")
        return len(letters)


def store(settings: Settings) -> FileDeadLetters | KafkaDeadLetters:
    """The dead letters of the configured transport."""
    scheme = settings.transport_uri.scheme
    if scheme == "kafka":
        return KafkaDeadLetters(settings)
    if scheme == "file":
        return FileDeadLetters(settings.deadletter_path)
    raise ConfigError(f"no dead letters for transport {scheme}://")
