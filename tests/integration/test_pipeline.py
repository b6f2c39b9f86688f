"""A run logged with the manual API reaches the warehouse on both paths, exactly once in every answer."""
from __future__ import annotations

import base64
import math

import modeldb
from modeldb.core import codec
from modeldb.warehouse import queries
from tests.integration.conftest import unique
from tests.unit.events_factory import unbatched


def log_training_run(name="baseline", parent=None):
    with modeldb.start_run(name=name, parent=parent, tags={"team": "risk"}) as run:
        run.log_params({"C": 0.5, "penalty": "l2", "max_iter": 100, "scaled": True})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"accuracy": 0.91, "f1": 0.88})
        run.set_tag("stage", "dev")
    return run


def answers(pipeline, project):
    wh = pipeline.warehouse
    runs = queries.RUNS.run(wh, project=project).rows
    return {
        "runs": sorted(runs),
        "best": queries.BEST_RUNS.run(wh, project=project, metric="accuracy", limit=10).rows,
        "params": [queries.RUN_PARAMS.run(wh, project=project, run_id=r[0]).rows for r in sorted(runs)],
        "history": [queries.METRIC_HISTORY.run(wh, project=project, metric="loss", run_id=r[0]).rows
                    for r in sorted(runs)],
        "metric_points": wh.query(
            f"SELECT count() FROM (SELECT DISTINCT event_id FROM `{wh.database}`.metrics WHERE project = %(p)s)",
            {"p": project}).scalar(),
    }


def test_a_run_arrives_with_params_metrics_steps_and_status(pipeline):
    project = unique("proj")
    pipeline.init(project)
    parent = log_training_run()
    child = log_training_run("branch", parent=parent)
    try:
        with modeldb.start_run(name="crashes") as failed:
            failed.log_param("C", 9.0)
            raise RuntimeError("diverged")
    except RuntimeError:
        pass
    pipeline.settle()

    got = answers(pipeline, project)
    by_name = {row[1]: row for row in got["runs"]}
    assert set(by_name) == {"baseline", "branch", "crashes"}
    assert by_name["baseline"][3] == "FINISHED" and by_name["crashes"][3] == "FAILED"
    assert by_name["branch"][4] == parent.run_id
    assert by_name["baseline"][0] == parent.run_id and by_name["branch"][0] == child.run_id
    params = queries.RUN_PARAMS.run(pipeline.warehouse, project=project, run_id=parent.run_id).rows
    assert params == [("C", "float", "0.5"), ("max_iter", "int", "100"), ("penalty", "str", "l2"),
                      ("scaled", "bool", "true")]
    history = queries.METRIC_HISTORY.run(pipeline.warehouse, project=project, metric="loss", run_id=parent.run_id).rows
    assert [(s, round(v, 6)) for s, v in history] == [(s, round(1.0 / (s + 1), 6)) for s in range(5)]
    best = got["best"]
    assert [round(r[2], 2) for r in best] == [0.91, 0.91]
    error = pipeline.warehouse.query(
        f"SELECT error FROM `{pipeline.warehouse.database}`.runs WHERE run_id = %(r)s AND event_type = 'RunEnded'",
        {"r": failed.run_id}).scalar()
    assert "RuntimeError: diverged" in error


def test_sending_the_same_events_twice_gives_the_same_answers(pipeline):
    project = unique("redeliver")
    pipeline.init(project)
    log_training_run()
    log_training_run("second")
    pipeline.settle()
    before = answers(pipeline, project)
    wh = pipeline.warehouse
    bodies = [base64.b64decode(b) for (b,) in wh.query(
        f"SELECT body FROM `{wh.database}`.events_raw WHERE project = %(p)s ORDER BY run_id, seq", {"p": project}).rows]
    # start, params, loss steps, metrics, tag, end: the points may travel in batches, so count them as logged
    assert len(unbatched(codec.decode(b) for b in bodies)) == 2 * (1 + 4 + 5 + 2 + 1 + 1)

    pipeline.publish_raw(bodies)
    pipeline.settle()
    raw_rows = wh.query(f"SELECT count() FROM `{wh.database}`.events_raw WHERE project = %(p)s", {"p": project}).scalar()
    assert raw_rows >= len(bodies)  # the duplicates arrived (until ClickHouse merges them away)
    assert answers(pipeline, project) == before


def test_poison_events_go_to_the_dead_letters_and_the_stream_goes_on(pipeline):
    project = unique("poison")
    pipeline.init(project)
    good = codec.encode(_event(project, "MetricLogged", {"name": "acc", "value": 0.5, "step": 0, "model_id": None,
                                                          "dataframe_id": None, "slice": ""}))
    unknown = good[:2] + b"\x01\x02\x03\x04\x05\x06\x07\x08" + good[10:]
    garbage = b"this is not avro at all"
    truncated = good[:14]
    pipeline.publish_raw([garbage, good, unknown, truncated])
    log_training_run()
    pipeline.settle()

    reasons = {value: reason for reason, value in pipeline.dead_letters()}
    assert "bad single-object marker" in reasons[garbage]
    assert "unknown schema fingerprint 0102030405060708" in reasons[unknown]
    assert "does not decode" in reasons[truncated]
    wh = pipeline.warehouse
    assert wh.query(f"SELECT count() FROM `{wh.database}`.metrics WHERE project = %(p)s AND name = 'acc'",
                    {"p": project}).scalar() == 1
    # the logged run, and the bare metric's run (no RunStarted: it still shows, unnamed)
    assert sorted(r[1] for r in queries.RUNS.run(wh, project=project).rows) == ["", "baseline"]


def test_non_finite_metrics_are_stored_and_ranking_skips_them(pipeline):
    project = unique("nan")
    pipeline.init(project)
    with modeldb.start_run(name="diverged") as bad:
        bad.log_metric("accuracy", float("nan"))
        bad.log_metric("loss", float("inf"))
    with modeldb.start_run(name="fine") as good:
        good.log_metric("accuracy", 0.8)
    pipeline.settle()
    wh = pipeline.warehouse
    stored = dict(wh.query(f"SELECT name, any(value) FROM `{wh.database}`.metrics WHERE run_id = %(r)s GROUP BY name",
                           {"r": bad.run_id}).rows)
    assert math.isnan(stored["accuracy"]) and stored["loss"] == math.inf
    best = queries.BEST_RUNS.run(wh, project=project, metric="accuracy", limit=5).rows
    assert [r[0] for r in best] == [good.run_id]


def _event(project, event_type, payload):
    from modeldb.core.events import envelope

    producer = {"host": "h", "pid": 1, "library": "modeldb", "library_version": "0", "framework": None,
                "framework_version": None}
    return envelope(event_type, payload, project=project, experiment="e", run_id=unique("run"), seq=0,
                    producer=producer)
