"""Kafka down: logging goes on, events spill to disk, `modeldb replay` delivers every one."""
from __future__ import annotations

import time

import pytest

import modeldb
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.devtools import services
from modeldb.producers.spill import SpillLog
from tests.integration.conftest import run_cli, unique
from tests.unit.events_factory import unbatched


def logged(records) -> list[dict]:
    """The events as logged: a batch of points counts as its points (``unbatched``)."""
    return unbatched(codec.decode(r) for r in records)


def spilled(home) -> list[dict]:
    return logged(r.payload for r in read_records(home / "spill" / "events.log", max_records=10**9) if r.error is None)


def topic_events(bootstrap, topic, expect, timeout=60):
    """Logged events on the topic (batches expanded), until ``expect`` of them or the timeout."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"), "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    out, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(out) < expect:
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                out += logged([msg.value()])
    finally:
        consumer.close()
    return out


def test_an_unreachable_broker_spills_every_event(tmp_path):
    port = services.free_port()
    modeldb.init(project="down", home=tmp_path, transport=f"kafka://127.0.0.1:{port}/t",
                 delivery_timeout_s=1.0, exit_flush_timeout_s=1.0)
    started = time.perf_counter()
    with modeldb.start_run() as run:
        for step in range(200):
            run.log_metric("loss", step, step=step)
    logging_seconds = time.perf_counter() - started
    modeldb.init(project="down", home=tmp_path)  # closes the Kafka emitter: flush, purge, spill
    kept = spilled(tmp_path)
    assert len(kept) == 202 and [e["seq"] for e in kept] == list(range(202))  # every logged event, once
    assert logging_seconds < 5  # logging itself never waited on the missing broker (generous bound)


@pytest.fixture
def own_broker(tmp_path):
    broker = services.start_kafka(tmp_path / "broker", partitions=2)
    yield broker
    broker.stop()


def test_kill_the_broker_mid_run_then_replay_delivers_everything(own_broker, tmp_path):
    bootstrap = f"127.0.0.1:{own_broker.port}"
    topic = unique("t")
    home = tmp_path / "home"
    modeldb.init(project="kill", home=home, transport=f"kafka://{bootstrap}/{topic}",
                 delivery_timeout_s=3.0, exit_flush_timeout_s=2.0)
    with modeldb.start_run(name="survivor") as run:
        for step in range(300):
            run.log_metric("loss", step, step=step)
        assert modeldb.flush() == 0          # the first part is on the broker
        own_broker.kill()                    # SIGKILL, mid-run
        for step in range(300, 600):
            run.log_metric("loss", step, step=step)
    assert run.status == "FINISHED"
    modeldb.init(project="kill", home=home)  # process exit: flush, purge and spill what is left
    records = SpillLog(home / "spill" / "events.log").pending_count()
    assert records > 0 and spilled(home)

    restarted = services.restart(own_broker)
    try:
        result = run_cli("replay", MODELDB_HOME=str(home), MODELDB_TRANSPORT=f"kafka://{bootstrap}/{topic}")
        assert result.returncode == 0, result.stderr
        assert f"replayed {records:,} event(s)" in result.stderr
        assert SpillLog(home / "spill" / "events.log").pending_count() == 0
        events = topic_events(bootstrap, topic, expect=602)
        seqs = {e["seq"] for e in events if e["run_id"] == run.run_id}
        assert seqs == set(range(602))       # RunStarted, 600 metrics, RunEnded: none lost
    finally:
        restarted.stop()
