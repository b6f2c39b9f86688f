"""The Faust app: Kafka → the materializer → ClickHouse, as a consumer group.

Each agent iteration takes a batch with both a size and a time bound
(``take_events``). Careful: faust-streaming acknowledges a ``take_events``
batch in a ``finally`` — also when the loop body raises or is cancelled — and
acknowledged offsets get committed. So the body never leaves with a batch
half-done: the sink retries forever while ClickHouse is unavailable (the worker
stops consuming meanwhile), and any other failure, or a stop request in the
middle of a batch, ends the process at once with ``os._exit`` — before the
acknowledgement. The batch is then replayed by whichever worker takes the
partition, and the idempotent tables give the same answers. Run the worker
under a supervisor that restarts it. Undecodable events go to ``<topic>.dlq`` with the reason and their
source partition and offset in the headers. Workers scale out by partitions;
the topic is keyed by run id, so each run's events stay in order.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from modeldb.core.config import Settings
from modeldb.core.exceptions import DecodeError
from modeldb.stream_processors.materializer import decode_and_validate, materialize
from modeldb.stream_processors.observe import Meter, emit
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
        # A worker that dies is noticed in 10 s, not Faust's default 60 s, so its partitions move on.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_credentials=_credentials(settings),
    )
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dlq = app.topic(topic_name + ".dlq", key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    state: dict[str, Any] = {}
    meter = Meter("faust", group, topic_name)

    def waiting(seconds: float) -> None:  # the sink's back-off, on an executor thread: the agent stops consuming
        meter.waiting(seconds)
        time.sleep(seconds)

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        meter.partitions = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned if tp.topic == topic_name)
        emit("assigned", worker=meter.worker, partitions=",".join(p.split("[")[1][:-1] for p in meter.partitions))

    @app.agent(topic, name="materialize")
    async def materialize_agent(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        if "sink" not in state:
            warehouse = await loop.run_in_executor(None, lambda: connect(settings))
            meter.warehouse = warehouse
            state["sink"] = WarehouseSink(warehouse, max_retries=None, sleep=waiting)
            emit("started", worker=meter.worker, engine="faust", group=group, topic=topic_name,
                 batch_size=settings.batch_size, batch_seconds=settings.batch_seconds)
        sink: WarehouseSink = state["sink"]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            try:
                good, dead, newest = await _process(loop, sink, events)
            except asyncio.CancelledError:
                emit("stopping_mid_batch", logging.WARNING,
                     detail="exiting before the batch is acknowledged; it will be replayed")
                os._exit(0)
            except BaseException:
                emit("batch_failed", logging.CRITICAL, exc_info=True,
                     detail="exiting before the batch is acknowledged so it is replayed")
                os._exit(70)
            meter.batch(good, dead, newest)
            if dead:
                emit("dead_letters", logging.WARNING, count=dead)

    async def _process(loop: Any, sink: WarehouseSink, events: list) -> tuple[int, int, int]:
        good, dead = [], []
        newest = 0
        for event in events:
            data = event.value
            try:
                decoded = decode_and_validate(data)
            except DecodeError as exc:
                dead.append((event, data, str(exc)))
                continue
            good.append((decoded, data))
            newest = max(newest, decoded["ts"])
        rows = materialize(good)
        await loop.run_in_executor(None, sink.write, rows)
        meter.recovered()
        deliveries = []
        for event, data, reason in dead:
            message = event.message
            deliveries.append(await dlq.send(key=message.key, value=data, headers={
                "reason": reason.encode(), "source_topic": message.topic.encode(),
                "source_partition": str(message.partition).encode(),
                "source_offset": str(message.offset).encode()}))
        for delivery in deliveries:  # wait until the dead letters are on the broker, not just buffered
            await delivery
        if settings.fault_pause_before_commit_s:
            emit("written_not_committed", events=len(good), pause_s=settings.fault_pause_before_commit_s)
            await asyncio.sleep(settings.fault_pause_before_commit_s)
        return len(good), len(dead), newest

    @app.timer(interval=1.0)
    async def report() -> None:
        await asyncio.get_running_loop().run_in_executor(None, meter.tick)

    @app.on_before_shutdown.connect
    async def stopped(sender: Any, **_: Any) -> None:
        meter.state = "stopped"
        await asyncio.get_running_loop().run_in_executor(None, lambda: meter.tick(force=True))
        emit("stopped", worker=meter.worker, events=meter.events, dead=meter.dead)

    app.modeldb_meter = meter
    return app


def run_worker(settings: Settings, group: str = "modeldb-processor", loglevel: str = "warning") -> None:
    from faust import Worker

    from modeldb.stream_processors.observe import configure_logging

    ensure_topics(settings)
    app = create_app(settings, group)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    configure_logging(settings.log_format)  # after Faust's own logging set-up, which would replace our handler
    worker.execute_from_commandline()
