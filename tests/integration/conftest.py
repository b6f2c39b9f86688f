"""Real services for the integration tier, started once per session.

Kafka (KRaft, Apache jars from Maven Central) and Debian's clickhouse-server run
on free loopback ports in a temporary directory and are stopped at the end.
chDB allows one data directory per process, so the whole session shares one
chDB directory and each test gets its own database or project.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import modeldb
from modeldb.devtools import services
from modeldb.core.config import Settings
from modeldb.core.eventlog import EventLogWriter, frame
from modeldb.stream_processors.deadletter import FileDeadLetters
from modeldb.stream_processors.local import LocalRunner
from modeldb.warehouse.factory import connect

MODELDB = str(Path(sys.executable).with_name("modeldb"))


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory):
    service = services.start_clickhouse(tmp_path_factory.mktemp("clickhouse"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    service = services.start_kafka(tmp_path_factory.mktemp("kafka"))
    yield service
    modeldb.init(home=tmp_path_factory.mktemp("after_kafka"))  # close any Kafka emitter before the broker goes
    service.stop()


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("chdb")


def cli_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
    env.update(values)
    return env


def run_cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([MODELDB, *args], capture_output=True, text=True, timeout=timeout, env=cli_env(**env))


class EmbeddedPipeline:
    """file event log → local runner → chDB, all in this process."""

    name = "file+chdb"

    def __init__(self, home: Path, chdb_dir: Path):
        database = unique("emb")
        self.settings = Settings.load(env={}, home=home, warehouse=f"chdb://{chdb_dir}?database={database}")
        self.warehouse = connect(self.settings)
        self.runner = LocalRunner(Path(self.settings.transport_uri.path), self.warehouse,
                                  FileDeadLetters(self.settings.deadletter_path))

    def init(self, project: str, **overrides) -> None:
        modeldb.init(project=project, home=self.settings.home, transport=self.settings.transport,
                     warehouse=self.settings.warehouse, **overrides)

    def publish_raw(self, values: list[bytes]) -> None:
        writer = EventLogWriter(Path(self.settings.transport_uri.path))
        writer.append(b"".join(frame(v) for v in values))
        writer.sync()
        writer.close()

    def settle(self, timeout: float = 60) -> None:
        modeldb.flush()
        self.runner.catch_up()

    def dead_letters(self) -> list[tuple[str, bytes]]:
        return [(d["reason"], base64.b64decode(d["original_b64"])) for d in self.runner.deadletters.read()]

    def close(self) -> None:
        pass


class KafkaPipeline:
    """Kafka → a real `modeldb process` worker subprocess (Faust or confluent engine) → ClickHouse server."""

    def __init__(self, home: Path, kafka: services.Service, clickhouse: services.Service, engine: str = "faust"):
        self.name = f"kafka+{engine}+clickhouse"
        self.topic = unique("events")
        self.group = unique("group")
        database = unique("kdb")
        self.bootstrap = f"127.0.0.1:{kafka.port}"
        self.settings = Settings.load(env={}, home=home, transport=f"kafka://{self.bootstrap}/{self.topic}",
                                      warehouse=clickhouse.warehouse_uri(database),
                                      consumer_group=self.group)
        self.warehouse = connect(self.settings)
        from modeldb.stream_processors.topics import ensure_topics

        ensure_topics(self.settings, partitions=4)
        self.log = open(home / "worker.log", "ab")
        self.worker = subprocess.Popen(
            [MODELDB, "process"], stdout=self.log, stderr=subprocess.STDOUT, cwd=home,
            env=cli_env(MODELDB_HOME=str(home), MODELDB_TRANSPORT=self.settings.transport,
                        MODELDB_WAREHOUSE=self.settings.warehouse, MODELDB_CONSUMER_GROUP=self.group,
                        MODELDB_BATCH_SECONDS="0.2", MODELDB_PROCESSOR_ENGINE=engine))
        self.home = home

    def init(self, project: str, **overrides) -> None:
        modeldb.init(project=project, home=self.settings.home, transport=self.settings.transport,
                     warehouse=self.settings.warehouse, **overrides)

    def publish_raw(self, values: list[bytes], key: bytes = b"raw") -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap})
        for value in values:
            producer.produce(self.topic, value=value, key=key)
        assert producer.flush(30) == 0

    def lag(self) -> int:
        """Events on the topic not yet committed by the worker's group (-1 while the group is forming)."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                             "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            parts = [TopicPartition(self.topic, p) for p in meta.partitions]
            try:
                committed = consumer.committed(parts, timeout=10)
            except KafkaException:  # e.g. NOT_COORDINATOR while __consumer_offsets is created
                return -1
            lag = 0
            for tp in committed:
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                lag += high - max(tp.offset, 0)
            return lag
        finally:
            consumer.close()

    def settle(self, timeout: float = 90) -> None:
        """Wait until the worker has materialized and committed everything on the topic."""
        assert modeldb.flush() == 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.worker.poll() is None, f"worker died:\n{(self.home / 'worker.log').read_text()[-3000:]}"
            if self.lag() == 0:
                return
            time.sleep(0.3)
        raise AssertionError(f"worker still lagging after {timeout}s:\n{(self.home / 'worker.log').read_text()[-3000:]}")

    def dead_letters(self) -> list[tuple[str, bytes]]:
        from confluent_kafka import Consumer

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": unique("dlq-reader"),
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([self.topic + ".dlq"])
        out, idle = [], 0
        try:
            while idle < 6:
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    idle += 1
                    continue
                headers = dict(msg.headers() or [])
                out.append((headers[b"reason".decode()].decode() if "reason" in headers else "", msg.value()))
        finally:
            consumer.close()
        return out

    def close(self) -> None:
        self.worker.terminate()
        try:
            self.worker.wait(20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
        self.log.close()


@pytest.fixture(scope="session")
def embedded_pipeline(tmp_path_factory, chdb_dir):
    pipeline = EmbeddedPipeline(tmp_path_factory.mktemp("embedded"), chdb_dir)
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def kafka_pipeline(tmp_path_factory, kafka, clickhouse):
    pipeline = KafkaPipeline(tmp_path_factory.mktemp("kafka_pipeline"), kafka, clickhouse, "faust")
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def confluent_pipeline(tmp_path_factory, kafka, clickhouse):
    pipeline = KafkaPipeline(tmp_path_factory.mktemp("confluent_pipeline"), kafka, clickhouse, "confluent")
    yield pipeline
    pipeline.close()


PIPELINES = {"file+chdb": "embedded_pipeline", "kafka+faust+clickhouse": "kafka_pipeline",
             "kafka+confluent+clickhouse": "confluent_pipeline"}


TRACKED_PATHS = {"file+chdb": "embedded_pipeline", "kafka+clickhouse": "kafka_pipeline"}


def autologged(request, prefix: str, tracker, experiment: str):
    """A tracker test's pipeline (``request.param`` names the path) with a fresh project and ``tracker``'s autolog on.

    A generator for a fixture to ``yield from``: autolog is switched off and everything flushed afterwards.
    """
    pipeline = request.getfixturevalue(TRACKED_PATHS[request.param])
    pipeline.project = unique(prefix)
    pipeline.init(pipeline.project)
    tracker.autolog(experiment=experiment)
    yield pipeline
    tracker.disable()
    modeldb.flush()


def project_sql(pipeline, text: str, **params) -> list[tuple]:
    """Rows of ``text`` on the pipeline's warehouse: ``{db}`` is its database, ``%(p)s`` its project."""
    wh = pipeline.warehouse
    return wh.query(text.replace("{db}", f"`{wh.database}`"), {"p": pipeline.project, **params}).rows


@pytest.fixture(params=list(PIPELINES))
def pipeline(request):
    name = PIPELINES[request.param]
    yield request.getfixturevalue(name)
    modeldb.flush()


@pytest.fixture(params=["chdb", "clickhouse"])
def warehouse(request, chdb_dir):
    database = unique("wh")
    if request.param == "chdb":
        settings = Settings.load(env={}, home=chdb_dir.parent, warehouse=f"chdb://{chdb_dir}?database={database}")
    else:
        ch = request.getfixturevalue("clickhouse")
        settings = Settings.load(env={}, home=chdb_dir.parent,
                                 warehouse=ch.warehouse_uri(database))
    wh = connect(settings)
    yield wh
    wh.close()
