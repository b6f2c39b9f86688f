"""Faults, with real processes and real services: every test counts events in and rows out.

The module runs its own Kafka broker and ClickHouse server, because tests here
stop and restart them. Workers are real `modeldb process` subprocesses and the
load comes from separate processes logging through the public API.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import pytest

from modeldb.core import codec
from modeldb.core.events import envelope, producer_info
from modeldb.stream_processors.materializer import COLUMNS
from tests.integration.conftest import MODELDB, unique
from tests.integration.state_check import assert_state_matches_events
from tests.integration.stream_harness import Services, Stream

ENGINES = ["confluent", "faust"]


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    services = Services(tmp_path_factory.mktemp("fault-services"))
    yield services
    services.stop()


@pytest.fixture
def stream_factory(svc, tmp_path):
    made: list[Stream] = []

    def make(engine: str = "confluent", **options) -> Stream:
        made.append(Stream(tmp_path, svc, engine, **options))
        return made[-1]

    yield make
    for stream in made:
        stream.close()


def status(stream: Stream) -> dict:
    result = subprocess.run([MODELDB, "status", "--json"], capture_output=True, text=True, timeout=60,
                            env=stream.env())
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("engine", ENGINES)
def test_sigkill_between_insert_and_commit_replays_the_batch_and_changes_no_answer(stream_factory, engine):
    stream = stream_factory(engine)
    project = unique("kill")
    stream.load(project, runs=30, steps=40)
    stream.finish_loads()
    # The first worker writes a batch, then sleeps before committing: that is where it is killed.
    # The events on the topic: the emitter may have carried several of a run's points in one event,
    # so they are counted there (stream.check below counts the runs' points exactly).
    total = len(stream.topic_events()[0])
    stream.start_worker("doomed", MODELDB_FAULT_PAUSE_BEFORE_COMMIT_S="30")
    stream.wait_log("doomed", "written_not_committed")
    stream.stop_worker("doomed", signal.SIGKILL)
    written = int(re.search(r"written_not_committed events=(\d+)", stream.log("doomed"))[1])
    assert written > 0 and stream.lag() == total  # its batch is in ClickHouse, and nothing is committed
    stream.start_worker("survivor")
    stream.settle()
    stream.check(project, runs=30, steps=40)
    # The survivor materialized every event again, the killed batch's included: it was replayed,
    # written twice, and every answer above is still exact.
    deadline, seen = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # its heartbeat (every 5 s) catches up with its last batch
        seen = next(w for w in status(stream)["workers"] if w["worker"].endswith(f":{stream.workers['survivor'].pid}"))
        if seen["events"] == total:
            break
        time.sleep(1)
    assert seen["events"] == total, seen


@pytest.mark.parametrize("engine", ENGINES)
def test_clickhouse_down_during_a_load_stops_consuming_then_resumes_by_itself(stream_factory, svc, engine):
    stream = stream_factory(engine)
    project = unique("chdown")
    stream.start_worker("w")
    stream.wait_log("w", "started")
    stream.load(project, runs=40, steps=30, pause_s=0.15)
    time.sleep(2)
    svc.clickhouse.stop()
    try:
        stream.wait_log("w", "warehouse_unavailable", timeout=60)
        time.sleep(5)
        backlog = stream.lag()
        assert backlog > 0  # consumed but not committed, or not consumed at all: either way, kept in Kafka
        assert stream.workers["w"].poll() is None
        figures = status(stream)  # what an operator sees meanwhile
        assert figures["warehouse_health"]["ok"] is False and figures["broker_health"]["ok"] is True
        assert len(figures["members"]) == 1 and figures["members"][0]["partitions"], figures  # still in the group
    finally:
        svc.restart("clickhouse")
    stream.finish_loads()
    stream.wait_log("w", "warehouse_back", timeout=120)
    stream.settle()
    stream.check(project, runs=40, steps=30)


def test_broker_restart_during_a_load_loses_nothing(stream_factory, svc):
    stream = stream_factory("confluent")
    project = unique("brokerdown")
    stream.start_worker("w")
    stream.wait_log("w", "assigned")
    stream.load(project, runs=40, steps=30, pause_s=0.15)
    time.sleep(2)
    svc.kafka.stop()
    time.sleep(4)
    svc.restart("kafka")
    stream.finish_loads()
    stream.settle()
    stream.check(project, runs=40, steps=30)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_worker_joins_during_a_load_then_the_first_leaves(stream_factory, engine):
    """The hand-off, proved by what the workers did rather than by how long the load lasts.

    The load is open-ended: it keeps logging runs (each keyed by its own run id, so they spread
    over every partition) until the test has seen each step happen, whatever the machine's
    speed: "a" materialized events; "b" joined, got partitions and materialized events of its
    own while "a" was still in the group; "a" left cleanly; "b" alone then committed past the
    offsets "a" left on every partition. Only then is the load stopped, and the check uses the
    exact number of runs it logged.
    """
    stream = stream_factory(engine)
    project = unique("scale")
    stream.start_worker("a")
    stream.wait_log("a", "assigned")
    loader = stream.load(project, runs=1, steps=30, pause_s=0.1, until_stopped=True)
    _wait_until(stream, loader, "a materialized events", lambda: _events_of(stream, "a") > 0)
    stream.start_worker("b")
    stream.wait_log("b", "assigned")
    members: list = []

    def split() -> bool:  # both in the group, the partitions split between them
        nonlocal members
        members = status(stream).get("members", [])
        return len(members) == 2 and all(m["partitions"] for m in members)

    _wait_until(stream, loader, "the group has two members with partitions", split, lambda: members)
    # The loader is still logging, and new runs land on b's partitions too: b takes part of the work.
    _wait_until(stream, loader, "b materialized events of its own while a was in the group",
                lambda: _events_of(stream, "b") > 0, lambda: status(stream)["workers"])
    assert stream.stop_worker("a") == 0  # a clean leave: finishes its batch, commits, leaves the group
    left = stream.committed()  # where a left every partition; from now on only b can move an offset
    assert left is not None
    now: dict = {}

    def b_took_over() -> bool:  # b alone owns the topic and has committed past a on every partition
        nonlocal now
        now = stream.committed() or {}
        members = status(stream).get("members", [])
        return len(members) == 1 and all(now.get(p, -1) > offset for p, offset in left.items())

    _wait_until(stream, loader, "b committed past a's offsets on every partition", b_took_over,
                lambda: {"left": left, "now": now})
    runs = stream.finish_loads()  # stops the load after its current run: the exact count of runs it logged
    stream.settle()
    stream.check(project, runs=runs, steps=30)
    figures = status(stream)
    by_pid = {w["worker"].rsplit(":", 1)[1]: w for w in figures["workers"]}
    assert by_pid[str(stream.workers["b"].pid)]["health"] == "ok"
    assert all(w["events"] > 0 for w in figures["workers"]), figures["workers"]  # both did work
    assert [w["health"] for w in figures["workers"]].count("stopped") == 1
    assert figures["lag"] == 0 and all(p["lag"] == 0 for p in figures["partitions"])
    assert figures["newest_event_age_s"] is not None and figures["warehouse_health"]["ok"]


def _events_of(stream: Stream, name: str) -> int:
    """Events the worker has materialized, as its last heartbeat says."""
    pid = f":{stream.workers[name].pid}"
    return next((w["events"] for w in status(stream)["workers"] if w["worker"].endswith(pid)), 0)


def _wait_until(stream: Stream, loader: subprocess.Popen, what: str, done, shown=lambda: None,
                timeout: float = 600) -> None:
    """Until ``done()``, while an open-ended loader keeps logging runs. The timeout only ends a test that
    would otherwise hang (a worker stuck); it never decides a pass, and the load does not run out meanwhile."""
    deadline = time.monotonic() + timeout
    while not done():
        for name, proc in stream.workers.items():
            assert proc.poll() is None, f"{name} died:\n{stream.log(name)[-3000:]}"
        if loader.poll() is not None:
            raise AssertionError(f"the loader exited before {what}: {loader.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what} in {timeout:.0f}s: {shown()}")
        time.sleep(0.5)


def test_poison_events_go_to_the_dead_letters_and_dlq_retry_resends_after_a_fix(stream_factory):
    from confluent_kafka import Producer

    stream = stream_factory("confluent")
    project = unique("poison")
    stream.start_worker("w")
    stream.wait_log("w", "assigned")
    producer = Producer({"bootstrap.servers": stream.bootstrap})
    good_before = _metric_events(project, 30)
    poison = [b"not avro at all", b"\xc3\x01" + b"\x07" * 8 + b"unknown schema",
              codec.current_header() + b"\xff\xff\xff"]
    for i, value in enumerate(good_before):
        producer.produce(stream.topic, value=value, key=b"r1")
        if i % 10 == 0:
            producer.produce(stream.topic, value=poison[i // 10], key=b"r1")
    # An event an older, buggy processor had refused: it sits in the dead letters, and decodes now.
    refused = _metric_events(project, 1, run_id="r2")[0]
    producer.produce(stream.topic + ".dlq", value=refused, key=b"r2",
                     headers={"reason": b"simulated bug in an older processor", "source_topic": stream.topic.encode(),
                              "source_partition": b"0", "source_offset": b"0"})
    assert producer.flush(30) == 0
    stream.settle()
    figures = stream.check_raw(project, expected=len(good_before))
    assert figures["poison"] == 3

    listed = _dlq(stream, "list", "--json")
    letters = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(letters) == 4
    reasons = " | ".join(item["reason"] for item in letters)
    assert "bad single-object marker" in reasons and "unknown schema fingerprint 0707070707070707" in reasons
    assert "does not decode" in reasons
    assert all(item["source"] == stream.topic and item["offset"] >= 0 for item in letters)
    assert [item["status"] for item in letters].count("ready to retry") == 1
    bad = next(item for item in letters if item["status"] == "undecodable")
    shown = _dlq(stream, "show", bad["id"])
    assert "still undecodable" in shown.stdout and bad["reason"][:30] in shown.stdout
    ready = next(item for item in letters if item["status"] == "ready to retry")
    assert '"event_type": "MetricLogged"' in _dlq(stream, "show", ready["id"]).stdout

    retried = _dlq(stream, "retry", check=False)
    assert retried.returncode == 1  # three are still undecodable, and are kept
    assert "re-sent 1 dead letter(s)" in retried.stderr and "3 still undecodable" in retried.stderr
    stream.settle()
    assert stream.check_raw(project, expected=len(good_before) + 1)["poison"] == 3
    after = [json.loads(line) for line in _dlq(stream, "list", "--json").stdout.splitlines() if line.strip()]
    assert [item["status"] for item in after].count("materialized") == 1


def test_rebuild_into_an_empty_warehouse_gives_the_same_answers(stream_factory, svc):
    stream = stream_factory("confluent")
    project = unique("rebuild")
    stream.start_worker("w")
    stream.load(project, runs=25, steps=20)
    stream.finish_loads()
    stream.settle()
    live = stream.check(project, runs=25, steps=20)
    target = unique("rebuilt")
    into = svc.clickhouse.warehouse_uri(target)
    result = subprocess.run([MODELDB, "rebuild", "--into", into, "--group", unique("rebuilt-group")],
                            capture_output=True, text=True, timeout=300, env=stream.env())
    assert result.returncode == 0, result.stderr
    assert f"rebuilt {live['events']:,} events" in result.stderr
    resumed = subprocess.run([MODELDB, "rebuild", "--into", into, "--group", stream.group], capture_output=True,
                             text=True, timeout=120, env=stream.env())
    assert resumed.returncode == 0 and f"had already committed {live['events']:,} record(s)" in resumed.stderr
    assert stream.answers(project, database=target) == stream.answers(project)
    wh = stream.warehouse()
    try:
        assert assert_state_matches_events(wh, target, project) == 25  # the rebuilt current state, from its events
        # Two databases at once: past the sandbox, which lets user SQL read only the warehouse's own database.
        for table in ("events_raw", "runs", "params", "metrics", "run_state", "model_state"):
            # (the current state's ver counts the writes, so it differs: compare the rows without it)
            columns = ", ".join(c for c in COLUMNS[table] if c != "ver") if table in COLUMNS else "*"
            count = f"SELECT count() FROM (SELECT DISTINCT {columns} FROM `{{db}}`.{table} FINAL)"
            assert (wh.query(count.format(db=target), readonly=False).scalar()
                    == wh.query(count.format(db=stream.database), readonly=False).scalar())
    finally:
        wh.close()


def test_old_and_new_schema_producers_share_one_topic(stream_factory):
    """A v1 producer (the released schema) and this version write one run each, interleaved."""
    import io

    import fastavro
    from confluent_kafka import Producer

    stream = stream_factory("confluent")
    project = unique("evolve")
    stream.start_worker("w")
    v1 = codec.released_schemas()["v1"]
    header = codec.MARKER + codec.schema_fingerprint(v1)
    producer = Producer({"bootstrap.servers": stream.bootstrap})
    old = _metric_events(project, 20, run_id="old", encode=False)
    new = _metric_events(project, 20, run_id="new")
    for old_event, new_value in zip(old, new):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, v1, old_event)
        producer.produce(stream.topic, value=header + body.getvalue(), key=b"old")
        producer.produce(stream.topic, value=new_value, key=b"new")
    assert producer.flush(30) == 0
    stream.settle()
    assert header != codec.current_header()
    figures = stream.check_raw(project, expected=40)
    assert figures["poison"] == 0
    wh = stream.warehouse()
    try:
        per_run = dict(wh.query(f"SELECT run_id, count() FROM (SELECT DISTINCT run_id, step FROM `{stream.database}`."
                                "metrics WHERE project = %(p)s) GROUP BY run_id", {"p": project}).rows)
    finally:
        wh.close()
    assert per_run == {"old": 20, "new": 20}


def _metric_events(project: str, n: int, run_id: str = "r1", encode: bool = True) -> list:
    events = [envelope("MetricLogged", {"name": "loss", "value": 1.0 / (i + 1), "step": i, "model_id": None,
                                        "dataframe_id": None, "slice": ""},
                       project=project, experiment="e", run_id=run_id, seq=i, producer=producer_info().as_record())
              for i in range(n)]
    return [codec.encode(e) for e in events] if encode else events


def _dlq(stream: Stream, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([MODELDB, "dlq", *args], capture_output=True, text=True, timeout=120, env=stream.env())
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_a_three_broker_cluster_loses_a_broker_while_runs_log_and_loses_nothing(svc, tmp_path):
    """KRaft, three combined nodes, replication factor 3, min.insync.replicas 2; one node is SIGKILLed."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource

    from modeldb.devtools import services

    nodes = services.start_kafka_cluster(tmp_path / "cluster", nodes=3)
    stream = None
    try:
        bootstrap = ",".join(f"127.0.0.1:{node.port}" for node in nodes)
        stream = Stream(tmp_path, svc, "confluent", bootstrap=bootstrap)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        deadline, topic, config = time.monotonic() + 60, None, None
        while time.monotonic() < deadline:  # a new topic reaches every broker's metadata a moment later
            try:
                topic = admin.list_topics(stream.topic, timeout=10).topics[stream.topic]
                config = next(iter(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, stream.topic)])
                                   .values())).result(10)
                if topic.partitions:
                    break
            except KafkaException:  # UNKNOWN_TOPIC_OR_PART from a broker that has not heard of it yet
                pass
            time.sleep(0.5)
        assert {len(p.replicas) for p in topic.partitions.values()} == {3}
        assert config["min.insync.replicas"].value == "2"
        project = unique("cluster")
        stream.start_worker("w")
        stream.wait_log("w", "assigned")
        stream.load(project, runs=40, steps=30, pause_s=0.15)
        time.sleep(2)
        leader = topic.partitions[0].leader  # a broker that leads a partition the worker is reading
        nodes[leader - 1].kill()
        stream.finish_loads()
        stream.settle()
        stream.check(project, runs=40, steps=30)
    finally:
        if stream is not None:
            stream.close()
        for node in nodes:
            node.stop()
