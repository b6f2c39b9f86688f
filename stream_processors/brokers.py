"""Kafka client basics shared by everything here that talks to the brokers.

The confluent runner, the Faust app's dead letters, rebuild, topic set-up and
``modeldb status`` all read the same three things from the settings: the
librdkafka configuration (brokers and security), the event topic (the
transport URI's path, else ``modeldb.core.config.DEFAULT_TOPIC``) and its
dead-letter topic (``<topic>.dlq``). They live here once, so no runner
imports another runner for them.
"""
from __future__ import annotations

from typing import Any

from modeldb.core.config import DEFAULT_TOPIC, Settings


def kafka_conf(settings: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka settings for the configured brokers and security, plus ``extra``."""
    uri = settings.transport_uri
    conf = {"bootstrap.servers": ",".join(f"{h}:{p}" for h, p in uri.hosts), "log_level": 3}
    conf.update(settings.kafka_security.librdkafka_config())
    conf.update(extra)
    return conf


def topic_of(settings: Settings) -> str:
    """The event topic: the transport URI's path, or the default topic."""
    return settings.transport_uri.path.strip("/") or DEFAULT_TOPIC


def dead_letter_topic(settings: Settings) -> str:
    return topic_of(settings) + ".dlq"


def watermarks(consumer: Any, topic: str, timeout: float = 15) -> dict[int, tuple[int, int]] | None:
    """Each partition's (low, high) offsets, or None if the topic does not exist."""
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        return None
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in sorted(meta.partitions)}


def kafka_error_text(exc: BaseException) -> str:
    """The readable part of a confluent-kafka exception (its KafkaError's text)."""
    error = exc.args[0] if exc.args else exc
    return error.str() if hasattr(error, "str") else str(error)
