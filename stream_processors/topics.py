"""Topic set-up shared by both Kafka processors: the event topic and its dead-letter topic.

Both keep every record forever (``retention.ms=-1``, ``retention.bytes=-1``):
the event topic is the source of truth that ``modeldb rebuild`` replays from
the first event, and a dead letter waits until someone retries it. A topic
that already exists is left as it is; ``modeldb status`` warns when its
retention would lose history.
"""
from __future__ import annotations

from modeldb.core.config import Settings

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def ensure_topics(settings: Settings, partitions: int = 8) -> None:
    """Create the event topic and its dead-letter topic if they are missing."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from modeldb.stream_processors.brokers import dead_letter_topic, kafka_conf, topic_of

    topic = topic_of(settings)
    admin = AdminClient(kafka_conf(settings))
    existing = admin.list_topics(timeout=10).topics
    wanted = [NewTopic(t, num_partitions=partitions, replication_factor=-1, config=dict(KEEP_FOREVER))
              for t in (topic, dead_letter_topic(settings)) if t not in existing]
    for future in admin.create_topics(wanted).values() if wanted else []:
        try:
            future.result(15)
        except Exception as exc:  # created concurrently by another worker
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
