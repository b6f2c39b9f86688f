"""The figures behind ``modeldb status``: lag, rate, freshness, dead letters and health.

Each part is gathered on its own and reports its own failure, so a status
check on a half-broken installation still shows what works and names what
does not.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from modeldb.core.config import Settings
from modeldb.core.exceptions import ModelDBError
from modeldb.stream_processors.brokers import kafka_error_text
from modeldb.stream_processors.observe import HEARTBEAT_S

STALE_S = 3 * HEARTBEAT_S
WORKERS_SINCE_S = 3600


def gather(settings: Settings, group: str | None = None) -> dict[str, Any]:
    group = group or settings.consumer_group
    status: dict[str, Any] = {"transport": settings.transport_uri.redacted, "warehouse": settings.warehouse_uri.redacted,
                              "group": group, "problems": []}
    if settings.transport_uri.scheme == "kafka":
        _kafka(settings, group, status)
    else:
        group = status["group"] = "local"
    warehouse = _warehouse(settings, status)
    if settings.transport_uri.scheme == "file" and warehouse is not None:
        _file_log(settings, warehouse, status)
    if status.get("broker_health", {"ok": True})["ok"]:
        _dead_letters(settings, status)
    else:
        status["dead_letters"] = None  # on the broker that is down
    if warehouse is not None:
        # In embedded mode every reader materializes what it needs first, so no worker is needed.
        _workers(warehouse, group, status, needed=settings.transport_uri.scheme == "kafka")
    return status


def _problem(status: dict[str, Any], text: str) -> None:
    status["problems"].append(text)


def _warehouse(settings: Settings, status: dict[str, Any]) -> Any:
    from modeldb.warehouse.factory import connect

    started = time.perf_counter()
    try:
        warehouse = connect(settings, migrate=False)
        version = warehouse.query("SELECT version()").scalar()
        db = warehouse.database
        newest = warehouse.query(f"SELECT max(ts), count(), (SELECT count() FROM `{db}`.metrics) FROM `{db}`.events_raw")
    except ModelDBError as exc:
        text = str(exc)
        if "UNKNOWN_TABLE" in text or "doesn't exist" in text:
            text = "no ModelDB tables yet: run `modeldb migrate`, or start a processor (it migrates)"
        status["warehouse_health"] = {"ok": False, "error": text}
        _problem(status, f"warehouse: {text}")
        return None
    newest_ts, rows, points = newest.rows[0]
    status["warehouse_health"] = {"ok": True, "version": str(version),
                                  "ms": round((time.perf_counter() - started) * 1000, 1)}
    status["events_stored"] = int(rows)
    status["metric_points_stored"] = int(points)  # an event can carry thousands of points (MetricsLogged)
    status["newest_event_age_s"] = round(time.time() - int(newest_ts) / 1e6, 3) if newest_ts else None
    return warehouse


def _kafka(settings: Settings, group: str, status: dict[str, Any]) -> None:
    import uuid

    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource

    from modeldb.stream_processors.brokers import kafka_conf, topic_of

    topic = topic_of(settings)
    status["topic"] = topic
    probe = Consumer(kafka_conf(settings, **{"group.id": group, "enable.auto.commit": False,
                                             "client.id": f"modeldb-status-{uuid.uuid4().hex[:6]}"}))
    try:
        meta = probe.list_topics(timeout=10)
        status["broker_health"] = {"ok": True, "brokers": len(meta.brokers)}
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            _problem(status, f"topic {topic} does not exist yet (a processor creates it when it starts)")
            status["partitions"] = []
            return
        parts = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        committed = probe.committed(parts, timeout=10)
        rows = []
        for tp in committed:
            low, high = probe.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            done = tp.offset if tp.offset >= 0 else low
            rows.append({"partition": tp.partition, "end": high, "committed": tp.offset if tp.offset >= 0 else None,
                         "lag": max(0, high - done)})
        status["partitions"] = rows
        status["lag"] = sum(r["lag"] for r in rows)
    except KafkaException as exc:
        error = kafka_error_text(exc)
        status["broker_health"] = {"ok": False, "error": error}
        _problem(status, f"broker: {error}")
        return
    finally:
        probe.close()
    admin = AdminClient(kafka_conf(settings))
    try:
        described = admin.describe_consumer_groups([group])[group].result(10)
        status["members"] = [{"client_id": m.client_id, "host": m.host,
                              "partitions": sorted(tp.partition for tp in (m.assignment.topic_partitions or []))}
                             for m in described.members]
        status["group_state"] = str(described.state).rsplit(".", 1)[-1]
        config = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
        entries = next(iter(config.values())).result(10)
        retention = entries["retention.ms"].value
        policy = entries["cleanup.policy"].value
        status["retention_ms"] = int(retention)
        retention_bytes = int(entries["retention.bytes"].value)
        if retention_bytes >= 0 and "compact" not in policy:
            _problem(status, f"topic {topic} deletes events beyond {retention_bytes:,} bytes per partition "
                             "(retention.bytes): `modeldb rebuild` can then no longer replay all of history")
        if int(retention) >= 0 and "compact" not in policy:
            _problem(status, f"topic {topic} deletes events after {int(retention) / 3.6e6:.0f} h "
                             "(retention.ms): `modeldb rebuild` can then no longer replay all of history")
    except Exception as exc:  # noqa: BLE001 - an admin API refusal must not hide the rest of the status
        status.setdefault("members", [])
        _problem(status, f"consumer group {group}: {exc}")


def _file_log(settings: Settings, warehouse: Any, status: dict[str, Any]) -> None:
    from modeldb.stream_processors.local import LocalRunner

    runner = LocalRunner.from_settings(settings, warehouse)
    path = Path(settings.transport_uri.path)
    size = path.stat().st_size if path.exists() else 0
    status["log_bytes"] = size
    status["lag_bytes"] = runner.backlog_bytes()
    if status["lag_bytes"]:
        _file_log_stall(path, runner.committed_offset(), status)


def _file_log_stall(path: Path, committed: int, status: dict[str, Any]) -> None:
    """A problem when the log cannot be read on from the committed offset: damage still ahead of
    the reader, or a frame that runs past the end and stays so (not a write in progress)."""
    from modeldb.core.eventlog import read_records

    for attempt in range(2):
        first = next(iter(read_records(path, committed, max_records=1)), None)
        if first is not None and first.error is not None:
            status["stalled_at"] = first.offset
            _problem(status, f"file log: {first.next_offset - first.offset:,} damaged byte(s) at offset "
                             f"{first.offset:,} ({first.error}); `modeldb process` moves them to the dead letters")
            return
        if first is not None:
            return  # readable: just not materialized yet
        if attempt == 0:
            time.sleep(0.5)  # a writer may be half-way through its frame
    status["stalled_at"] = committed
    size = path.stat().st_size if path.exists() else committed
    _problem(status, f"file log: stalled at offset {committed:,}: {size - committed:,} byte(s) hold a frame that "
                     "runs past the end of the log (damaged length or a torn write); they go to the dead "
                     "letters once a valid frame follows")


def _dead_letters(settings: Settings, status: dict[str, Any]) -> None:
    from modeldb.stream_processors.deadletter import store

    try:
        letters = store(settings)
        status["dead_letters"] = letters.count()
        status["dead_letters_at"] = letters.where
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        status["dead_letters"] = None
        error = kafka_error_text(exc)
        _problem(status, f"dead letters: {error}")


def _partition_numbers(text: str) -> str:
    """``topic[0],topic[3]`` → ``0,3`` (the topic is the status's own)."""
    return ",".join(part.rsplit("[", 1)[-1].rstrip("]") for part in text.split(",") if part)


def _workers(warehouse: Any, group: str, status: dict[str, Any], needed: bool) -> None:
    since = int((time.time() - WORKERS_SINCE_S) * 1e6)
    try:
        result = _heartbeats(warehouse, group, since)
    except ModelDBError as exc:  # e.g. a warehouse not migrated yet (status does not migrate)
        status["workers"] = []
        _problem(status, f"worker heartbeats: {exc}")
        return
    _summarize_workers(result, group, status, needed)


def _heartbeats(warehouse: Any, group: str, since: int) -> Any:
    return warehouse.query(
        f"SELECT worker, argMax(engine, ver), argMax(state, ver), argMax(events, ver), argMax(dead, ver), "
        f"argMax(rate, ver), argMax(newest_ts, ver), argMax(partitions, ver), max(updated) "
        f"FROM `{warehouse.database}`._processors WHERE group_name = %(g)s AND updated >= %(since)s "
        f"GROUP BY worker ORDER BY worker", {"g": group, "since": since})


def _summarize_workers(result: Any, group: str, status: dict[str, Any], needed: bool) -> None:
    now = time.time()
    workers = []
    for worker, engine, state, events, dead, rate, newest, partitions, updated in result.rows:
        age = now - int(updated) / 1e6
        health = state if state != "running" else ("ok" if age <= STALE_S else f"silent {age:.0f}s")
        workers.append({"worker": worker, "engine": engine, "health": health, "events": int(events),
                        "dead": int(dead), "rate": float(rate) if age <= STALE_S and state == "running" else 0.0,
                        "heartbeat_age_s": round(age, 1), "partitions": _partition_numbers(partitions) if state != "stopped" else ""})
        if health == "waiting":
            _problem(status, f"worker {worker}: waiting for the warehouse (not consuming)")
    status["workers"] = workers
    status["events_per_s"] = round(sum(w["rate"] for w in workers), 1)
    if needed and not any(w["health"] in ("ok", "waiting") for w in workers):
        _problem(status, f"no live processor in group {group} (start one with `modeldb process`)")
