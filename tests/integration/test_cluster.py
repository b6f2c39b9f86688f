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


def shard_counts(clickhouse, run_ids: list[str]) -> list[int]:
    """How many of ``run_ids`` the sharding key (``cityHash64(run_id)`` modulo the two shards' equal
    weights) sends to each shard."""
    remainders = Client("127.0.0.1", port=clickhouse.port).execute(
        "SELECT modulo(cityHash64(arrayJoin(%(ids)s)), 2)", {"ids": run_ids})
    return [sum(1 for (r,) in remainders if r == shard) for shard in (0, 1)]


def spread_over_both_shards(clickhouse, runs: dict) -> None:
    """Run ids are random, and six of them all land on one shard one time in 32: add runs until the
    sharding key puts some on each shard, so that the test proves the spread whatever ids came out."""
    for k in range(64):
        if min(shard_counts(clickhouse, [run.run_id for run in runs.values()])) > 0:
            break
        with modeldb.start_run(name=f"spread-{k}") as run:
            run.log_param("k", k)
        runs[run.name] = run
    modeldb.flush()


def test_two_shards_answer_like_one_node(cluster, clickhouse, tmp_path):
    project, database = unique("cl"), unique("cldb")
    log = tmp_path / "events.log"
    modeldb.init(project=project, home=tmp_path, transport=f"file://{log}")
    runs = log_project()
    spread_over_both_shards(clickhouse, runs)

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
    every_run = [r for (r,) in single.query(
        f"SELECT DISTINCT run_id FROM `{database}`.run_state WHERE project = %(p)s", {"p": project}).rows]
    assert per_shard == shard_counts(clickhouse, every_run) and min(per_shard) > 0  # each run on its key's shard
    engines = dict(Client("127.0.0.1", port=cluster[1].port).execute(
        f"SELECT name, engine FROM system.tables WHERE database = '{database}' AND name LIKE 'metrics%'"))
    assert engines == {"metrics": "Distributed", "metrics_local": "ReplicatedReplacingMergeTree"}
    assert sharded.query(f"SELECT count() FROM `{database}`._migrations").scalar() >= 3
