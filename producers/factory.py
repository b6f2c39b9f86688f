"""Pick the transport from the transport URI. Heavy clients are imported only when asked."""
from __future__ import annotations

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError
from modeldb.producers.base import Transport, Undeliverable


def make_transport(settings: Settings, on_undeliverable: Undeliverable) -> Transport:
    uri = settings.transport_uri
    if uri.scheme == "file":
        from modeldb.producers.file import FileTransport

        if not uri.path:
            raise ConfigError("MODELDB_TRANSPORT: file:// needs a path, e.g. file:///data/modeldb/events.log")
        transport = FileTransport(uri.path, on_undeliverable)
        transport.check()
        return transport
    if uri.scheme == "kafka":
        try:
            import confluent_kafka  # noqa: F401
        except ImportError:  # pragma: no cover - it is a pinned dependency
            raise ConfigError("kafka:// needs confluent-kafka: pip install confluent-kafka") from None
        from modeldb.producers.kafka import KafkaTransport

        if not uri.hosts:
            raise ConfigError("MODELDB_TRANSPORT: kafka:// needs at least one broker, e.g. kafka://localhost:9092/modeldb.events")
        return KafkaTransport(uri, settings.kafka_security, on_undeliverable, settings.delivery_timeout_s)
    raise ConfigError(f"MODELDB_TRANSPORT: no transport for {uri.scheme}://")
