"""Cluster mode on two real ClickHouse shards with ZooKeeper: the same answers as one node."""
from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_driver import Client

import modeldb
from modeldb.devtools import services
from modeldb.core.config import Settings
from modeldb.core.eventlog import EventLogWriter, frame, read_records
from modeldb.stream_processors.deadletter import FileDeadLetters
from modeldb.stream_processors.local import LocalRunner
from modeldb.warehouse.factory import connect
from tests.integration.conftest import unique
from tests.integration.test_queries import answers, log_project


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = services.start_clickhouse_cluster(tmp_path_factory.mktemp("cluster"), name="modeldb", shards=2)
    yield started[1:]
    for service in reversed(started):
        service.stop()


def materialize(log: Path, warehouse, home: Path) -> None:
    LocalRunner(log, warehouse, FileDeadLetters(home / "dead.jsonl")).catch_up()


def test_two_shards_answer_like_one_node(cluster, clickhouse, tmp_path):
    project, database = unique("cl"), unique("cldb")
    log = tmp_path / "events.log"
    modeldb.init(project=project, home=tmp_path, transport=f"file://{log}")
    runs = log_project()

    single = connect(Settings.load(env={}, home=tmp_path,
                                   warehouse=clickhouse.warehouse_uri(database)))
    sharded = connect(Settings.load(env={}, home=tmp_path, clickhouse_cluster="modeldb",
                                    warehouse=cluster[0].warehouse_uri(database)))
    materialize(log, single, tmp_path)
    materialize(log, sharded, tmp_path)
    # every event a second time: duplicates land on their first copy's shard and change no answer
    writer = EventLogWriter(log)
    writer.append(b"".join(frame(r.payload) for r in read_records(log)))
    writer.close()
    materialize(log, sharded, tmp_path)

    assert answers(sharded, project, runs) == answers(single, project, runs)
    per_shard = [Client("127.0.0.1", port=s.port).execute(
        f"SELECT uniqExact(run_id) FROM `{database}`.run_state_local WHERE project = %(p)s", {"p": project})[0][0]
        for s in cluster]
    assert all(n > 0 for n in per_shard), per_shard  # the runs were spread over both shards
    engines = dict(Client("127.0.0.1", port=cluster[1].port).execute(
        f"SELECT name, engine FROM system.tables WHERE database = '{database}' AND name LIKE 'metrics%'"))
    assert engines == {"metrics": "Distributed", "metrics_local": "ReplicatedReplacingMergeTree"}
    assert sharded.query(f"SELECT count() FROM `{database}`._migrations").scalar() >= 3
