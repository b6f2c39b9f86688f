"""Batched metric points on every path (file log + chDB, Kafka + Faust, Kafka + confluent, into ClickHouse
18.16): each test counts what it logged or sent on its own, then compares with the warehouse, point by point."""
from __future__ import annotations

import io
from collections import Counter

import fastavro
import modeldb
from modeldb.core import codec
from modeldb.producers import tracking
from modeldb.core.events import envelope, producer_info
from modeldb.producers.batching import batch_event
from tests.integration.conftest import project_sql, unique


def points_of(pipeline) -> Counter:
    """Points per (metric, run name) in the warehouse, each stored point once (FINAL: redeliveries collapse)."""
    rows = project_sql(pipeline, "SELECT m.name, r.name, count() FROM {db}.metrics AS m FINAL "
                                 "INNER JOIN (SELECT run_id, name FROM {db}.current_runs WHERE project = %(p)s) AS r "
                                 "ON m.run_id = r.run_id WHERE m.project = %(p)s GROUP BY m.name, r.name")
    return Counter({(metric, run): n for metric, run, n in rows})


def latest(pipeline, run_name: str) -> dict[str, tuple[int, float]]:
    row = project_sql(pipeline, "SELECT metric_keys, metric_steps, metric_values FROM {db}.current_runs "
                                "WHERE project = %(p)s AND name = %(n)s", n=run_name)[0]
    return {k: (s, v) for k, s, v in zip(*row)}


def test_a_scripts_points_are_batched_on_the_wire_and_stored_exactly(pipeline):
    pipeline.project = unique("points")
    pipeline.init(pipeline.project)
    logged: Counter = Counter()
    with modeldb.start_run(name="sweep") as run:
        with tracking.emitter()._lock:  # the emitter's thread waits: the loop's points are all queued together
            for step in range(3000):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
                run.log_metric("acc", step / 3000, step=step)
                logged["loss", "sweep"] += 1
                logged["acc", "sweep"] += 1
        run.log_metric("acc", 0.25, step=10)  # a step logged again: both points are kept, in time order
        logged["acc", "sweep"] += 1
        run.log_curve("objective", [10.0 / (i + 1) for i in range(5000)], model_id="m-1")  # over MAX_POINTS
        logged["objective", "sweep"] += 5000
        run.log_metric("f1", 0.5, model_id="m-1", slice="country = 'US'")
        logged["f1", "sweep"] += 1
    with modeldb.start_run(name="small") as other:
        other.log_metric("acc", 0.75)
        logged["acc", "small"] += 1
    pipeline.settle()
    assert points_of(pipeline) == logged
    records = dict(project_sql(pipeline, "SELECT event_type, count() FROM {db}.events_raw FINAL "
                                         "WHERE project = %(p)s GROUP BY event_type"))
    assert 3 <= records["MetricsLogged"] <= 10  # two curve parts, and the loop's 6,000 points in rounds of 2,000
    state = latest(pipeline, "sweep")
    assert state["loss"] == (2999, 1.0 / 3000) and state["acc"] == (2999, 2999 / 3000)
    assert state["objective"] == (4999, 10.0 / 5000) and "f1" not in state  # a sliced point is not the run's
    history = project_sql(pipeline, "SELECT step, value FROM {db}.metrics FINAL WHERE project = %(p)s "
                                    "AND name = 'acc' AND step = 10 ORDER BY ts")
    assert history == [(10, 10 / 3000), (10, 0.25)]


def _v3(event: dict) -> bytes:
    """An event as a schema-v3 client writes it (no MetricsLogged in that schema)."""
    writer = codec.released_schemas()["v3"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, {**event, "schema_version": 3})
    return codec.MARKER + codec.schema_fingerprint(writer) + buf.getvalue()


def _events(project: str, run_id: str) -> tuple[list[bytes], int]:
    """One run's events from an old client and a new one: v3 points one by one, then points batched
    (MetricsLogged, v4 and later) by the current client."""
    producer = producer_info().as_record()
    seq = iter(range(10_000))

    def made(kind: str, payload: dict) -> dict:
        return envelope(kind, payload, project=project, experiment="mixed", run_id=run_id, seq=next(seq),
                        producer=producer)

    def point(step: int) -> dict:
        return made("MetricLogged", {"name": "loss", "value": 1.0 / (step + 1), "step": step, "model_id": None,
                                     "dataframe_id": None, "slice": "", "model_changed": False})

    start = made("RunStarted", {"name": "mixed", "parent_run_id": None, "branch_seq": None, "user": "u",
                                "source": "s.py", "tags": {}})
    old = [_v3(point(step)) for step in range(100)]
    batch = batch_event([point(step) for step in range(100, 1100)])
    batch.pop("_points")
    end = made("RunEnded", {"status": "FINISHED", "error": None, "duration_ms": 1.0})
    return [codec.encode(start), *old, codec.encode(batch), codec.encode(end)], 1100


def _publish(pipeline, values: list[bytes], run_id: str) -> None:
    if hasattr(pipeline, "topic"):
        pipeline.publish_raw(values, key=run_id.encode())
    else:
        pipeline.publish_raw(values)


def test_old_and_new_clients_mix_and_redelivered_batches_double_nothing(pipeline):
    pipeline.project = unique("mixed")
    run_id = unique("run")
    values, n = _events(pipeline.project, run_id)
    batch = values[101]
    assert codec.decode(batch)["event_type"] == "MetricsLogged" and len(codec.decode(batch)["payload"]["values"]) == 1000
    # Every record once, then the batch and an old point again (a redelivery), then the whole run again.
    _publish(pipeline, values + [batch, values[5], batch], run_id)
    _publish(pipeline, values, run_id)
    pipeline.settle()
    assert points_of(pipeline) == Counter({("loss", "mixed"): n})
    assert latest(pipeline, "mixed") == {"loss": (1099, 1.0 / 1100)}
    versions = dict(project_sql(pipeline, "SELECT schema_version, uniqExact(event_id) FROM {db}.events_raw "
                                          "WHERE project = %(p)s GROUP BY schema_version"))
    assert versions == {3: 100, codec.SCHEMA_VERSION: 3}  # the old client's points, the current client's rest
    steps = project_sql(pipeline, "SELECT groupArray(step) FROM (SELECT step FROM {db}.metrics FINAL "
                                  "WHERE project = %(p)s ORDER BY step)")[0][0]
    assert steps == list(range(n))
