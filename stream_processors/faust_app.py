"""The Faust app: Kafka → the materializer → ClickHouse, as a consumer group.

Each agent iteration takes a batch with both a size and a time bound
(``take_events``). Faust acknowledges those events — and so can commit their
offsets — only after the loop body returned, that is after the rows were
inserted; a crash replays the batch, and the idempotent tables give the same
answers. Undecodable events go to ``<topic>.dlq`` with the reason and their
source partition and offset in the headers. Workers scale out by partitions;
the topic is keyed by run id, so each run's events stay in order.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from modeldb.config import Settings
from modeldb.exceptions import DecodeError
from modeldb.stream_processors.materializer import decode_and_validate, materialize
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.stream_processors.topics import ensure_topics

log = logging.getLogger(__name__)


def _credentials(settings: Settings) -> Any:
    """Faust's broker credentials from the same Kafka security settings the producer uses."""
    import ssl

    import faust

    sec = settings.kafka_security
    protocol = sec.protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=sec.ssl_ca_location or None)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=sec.sasl_username, password=sec.sasl_password.get(),
                                 mechanism=sec.sasl_mechanism or "PLAIN", ssl_context=context)


def create_app(settings: Settings, group: str = "modeldb-processor") -> Any:
    import faust
    from modeldb.warehouse.factory import connect

    uri = settings.transport_uri
    topic_name = uri.path.strip("/") or "modeldb.events"
    app = faust.App(
        group,
        broker=[f"kafka://{h}:{p}" for h, p in uri.hosts],
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        store="memory://",
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(4096, settings.batch_size * 2),
        producer_acks=-1,
        broker_credentials=_credentials(settings),
    )
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dlq = app.topic(topic_name + ".dlq", key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    state: dict[str, Any] = {}

    @app.agent(topic, name="materialize")
    async def materialize_agent(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        if "sink" not in state:
            warehouse = await loop.run_in_executor(None, lambda: connect(settings))
            state["sink"] = WarehouseSink(warehouse)
        sink: WarehouseSink = state["sink"]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            good, dead = [], []
            for event in events:
                data = event.value
                try:
                    good.append((decode_and_validate(data), data))
                except DecodeError as exc:
                    dead.append((event, data, str(exc)))
            rows = materialize(good)
            await loop.run_in_executor(None, sink.write, rows)
            for event, data, reason in dead:
                message = event.message
                await dlq.send(key=message.key, value=data, headers={
                    "reason": reason.encode(), "source_topic": message.topic.encode(),
                    "source_partition": str(message.partition).encode(),
                    "source_offset": str(message.offset).encode()})
            state["events"] = state.get("events", 0) + len(good)
            state["dead"] = state.get("dead", 0) + len(dead)

    @app.timer(interval=10.0)
    async def report() -> None:
        events = state.get("events", 0)
        if events != state.get("reported", 0):
            rate = (events - state.get("reported", 0)) / 10.0
            log.warning("materialized %d events so far (%.0f/s over 10s), %d dead letters",
                        events, rate, state.get("dead", 0))
            state["reported"] = events

    app.modeldb_state = state
    return app


def run_worker(settings: Settings, group: str = "modeldb-processor", loglevel: str = "warning") -> None:
    from faust import Worker

    ensure_topics(settings)
    app = create_app(settings, group)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
