"""Topic set-up shared by both Kafka processors: the event topic and its dead-letter topic."""
from __future__ import annotations

from modeldb.config import Settings


def ensure_topics(settings: Settings, partitions: int = 8) -> None:
    """Create the event topic and its dead-letter topic if they are missing."""
    from confluent_kafka.admin import AdminClient, NewTopic

    uri = settings.transport_uri
    bootstrap = ",".join(f"{h}:{p}" for h, p in uri.hosts)
    topic = uri.path.strip("/") or "modeldb.events"
    admin = AdminClient({"bootstrap.servers": bootstrap, **settings.kafka_security.librdkafka_config()})
    existing = admin.list_topics(timeout=10).topics
    wanted = [NewTopic(t, num_partitions=partitions, replication_factor=-1)
              for t in (topic, topic + ".dlq") if t not in existing]
    for future in admin.create_topics(wanted).values() if wanted else []:
        try:
            future.result(15)
        except Exception as exc:  # created concurrently by another worker
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
