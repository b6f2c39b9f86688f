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
under a supervisor that restarts it.

Each batch goes through the batch pipeline (``pipeline.py``) on an executor
thread, so the agent's event loop keeps heart-beating while it runs. Its
"commit" is the acknowledgement: Faust acknowledges the batch when the body
returns, and the body returns only after the pipeline wrote the batch's rows
and dead letters. Undecodable events go to ``<topic>.dlq`` with the reason and
their source partition and offset in the headers (``deadletter.py``). Workers
scale out by partitions; the topic is keyed by run id, so each run's events
stay in order.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from modeldb.core.config import Settings
from modeldb.stream_processors.brokers import topic_of
from modeldb.stream_processors.deadletter import KafkaDeadLetters
from modeldb.stream_processors.observe import Meter, emit
from modeldb.stream_processors.pipeline import BatchPipeline, Positions, Raw
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


def _app_options(settings: Settings) -> dict[str, Any]:
    uri = settings.transport_uri
    return dict(
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


def _acknowledged_on_return(ends: Positions) -> None:
    """The pipeline's commit step for Faust: nothing to do here. ``take_events`` acknowledges the
    batch once the agent body returns, which it does only after ``BatchPipeline.write``."""


class _Worker:
    """One Faust worker's state: its meter, and the pipeline made once the warehouse is connected."""

    def __init__(self, settings: Settings, group: str, topic: str):
        self.settings, self.group, self.topic = settings, group, topic
        self.meter = Meter("faust", group, topic)
        self.pipeline: BatchPipeline | None = None

    def waiting(self, seconds: float) -> None:  # the sink's back-off, on an executor thread: the agent stops consuming
        self.meter.waiting(seconds)
        time.sleep(seconds)

    def assigned(self, partitions: Any) -> None:
        self.meter.partitions = sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions if tp.topic == self.topic)
        if self.pipeline is not None and self.pipeline.state is not None:
            self.pipeline.state.forget()  # runs taken over (or given away): read them back before writing
        emit("assigned", worker=self.meter.worker,
             partitions=",".join(p.split("[")[1][:-1] for p in self.meter.partitions))

    def start(self) -> BatchPipeline:
        """Connect the warehouse (on an executor thread) and make the pipeline."""
        from modeldb.warehouse.factory import connect

        warehouse = connect(self.settings)
        self.meter.warehouse = warehouse
        self.pipeline = BatchPipeline(WarehouseSink(warehouse, max_retries=None, sleep=self.waiting),
                                      _acknowledged_on_return, KafkaDeadLetters(self.settings), self.meter,
                                      fault_pause_s=self.settings.fault_pause_before_commit_s,
                                      max_bytes=self.settings.batch_bytes)
        emit("started", worker=self.meter.worker, engine="faust", group=self.group, topic=self.topic,
             batch_size=self.settings.batch_size, batch_seconds=self.settings.batch_seconds)
        return self.pipeline

    async def materialize(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        pipeline = self.pipeline or await loop.run_in_executor(None, self.start)
        async for events in stream.take_events(self.settings.batch_size, within=self.settings.batch_seconds):
            records = [_raw(event) for event in events]
            try:
                await loop.run_in_executor(None, pipeline.process, records)
            except asyncio.CancelledError:
                emit("stopping_mid_batch", logging.WARNING,
                     detail="exiting before the batch is acknowledged; it will be replayed")
                os._exit(0)
            except BaseException:
                emit("batch_failed", logging.CRITICAL, exc_info=True,
                     detail="exiting before the batch is acknowledged so it is replayed")
                os._exit(70)

    def stopped(self) -> None:
        self.meter.state = "stopped"
        self.meter.tick(force=True)
        emit("stopped", worker=self.meter.worker, events=self.meter.events, dead=self.meter.dead)


def _raw(event: Any) -> Raw:
    message = event.message
    return Raw(event.value, message.topic, message.partition, message.offset, message.offset + 1, message.key)


def create_app(settings: Settings, group: str = "modeldb-processor") -> Any:
    import faust

    topic_name = topic_of(settings)
    app = faust.App(group, **_app_options(settings))
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    worker = _Worker(settings, group, topic_name)

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        worker.assigned(assigned)

    @app.agent(topic, name="materialize")
    async def materialize_agent(stream: Any) -> None:
        await worker.materialize(stream)

    @app.timer(interval=1.0)
    async def report() -> None:
        await asyncio.get_running_loop().run_in_executor(None, worker.meter.tick)

    @app.on_before_shutdown.connect
    async def stopped(sender: Any, **_: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, worker.stopped)

    app.modeldb_meter = worker.meter
    return app


def run_worker(settings: Settings, group: str = "modeldb-processor", loglevel: str = "warning") -> None:
    from faust import Worker

    from modeldb.stream_processors.observe import configure_logging

    ensure_topics(settings)
    app = create_app(settings, group)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    configure_logging(settings.log_format)  # after Faust's own logging set-up, which would replace our handler
    worker.execute_from_commandline()
