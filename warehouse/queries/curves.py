"""Metric curves of many runs at any length, downsampled on the server without losing spikes.

A curve is a metric's points over steps (or event time) for one run and model. However many
points it has, ClickHouse splits each series' x range into ``buckets`` equal buckets and returns,
per bucket, its lowest and its highest point, each at the x where it happened. So a series never
sends more than ``2 × buckets`` points, a one-step spike (or dip) is always among them, and a
bucket holding more than the two points it sends is marked as downsampled (``n`` > 2).

Reads group by ``(run_id, model_id, step)`` with argMax over ``ver`` (the event time): a
redelivered point, still a second row before ClickHouse merges it away, is counted once. Only
points on all rows (``slice = ''``) and finite values are drawn. One statement per call, however
many runs; the x axis is chosen from a fixed set, never from text.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import metric_params, render

BUCKETS = 500
MAX_BUCKETS = 5_000
MAX_SERIES = 50
AXES = {"step": "step", "time": "ts"}  # x axis -> the metrics column it reads
POINT_COLUMNS = ["run_id", "model_id", "x", "value", "n", "bucket"]
SERIES_COLUMNS = ["run_id", "model_id", "points", "drawn", "buckets", "downsampled", "x_first", "x_last"]

_SQL = """
SELECT run_id, model_id, bucket, count() AS n,
       argMin(x, value) AS x_low, min(value) AS low,
       argMax(x, value) AS x_high, max(value) AS high
FROM (
    SELECT run_id, model_id, x, value,
           intDiv((x - lo) * %(buckets)s, greatest(hi - lo + 1, 1)) AS bucket
    FROM (
        SELECT run_id, model_id, {x} AS x, value
        FROM (
            SELECT run_id, model_id, step, argMax(value, ver) AS value, argMax(ts, ver) AS ts
            FROM {db}.metrics
            WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND slice = ''
              AND run_id IN (SELECT arrayJoin(%(runs)s))
            GROUP BY run_id, model_id, step
        ) AS deduplicated
        WHERE isFinite(value)
    ) AS points
    ANY LEFT JOIN (
        SELECT run_id, model_id, min({x}) AS lo, max({x}) AS hi
        FROM {db}.metrics
        WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND slice = ''
          AND run_id IN (SELECT arrayJoin(%(runs)s)) AND isFinite(value)
        GROUP BY run_id, model_id
    ) AS ranges USING run_id, model_id
) AS bucketed
GROUP BY run_id, model_id, bucket
ORDER BY run_id, model_id, bucket"""


def curve_sql(x: str = "step") -> str:
    """The downsampling statement for an x axis (``step`` or ``time``), with its %(name)s parameters unbound."""
    if x not in AXES:
        raise ValueError(f"x must be one of {', '.join(AXES)}, got {x!r}")
    return _SQL.replace("{x}", AXES[x])


def curves(warehouse: Warehouse, project: str, metric: str, run_ids: Iterable[str], *, x: str = "step",
           buckets: int = BUCKETS) -> tuple[Any, Any]:
    """``(points, series)`` of ``metric`` for each run (and each model it was logged for), downsampled.

    ``points``: run_id, model_id, x (a step, or the point's event time in microseconds), value,
    n (points in its bucket: above 2, the bucket was downsampled) and bucket, in x order; at most
    ``2 × buckets`` rows per series. ``series``: one row per series with its points in the
    warehouse, how many are drawn, the buckets used and whether it was downsampled.
    """
    import pandas as pd

    runs = sorted({str(r) for r in run_ids if r})
    if not runs:
        raise ValueError("choose at least one run")
    if len(runs) > MAX_SERIES:
        raise ValueError(f"at most {MAX_SERIES} runs at once, got {len(runs)}")
    if not isinstance(buckets, int) or isinstance(buckets, bool) or not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1..{MAX_BUCKETS}, got {buckets!r}")
    frame = warehouse.query(render(curve_sql(x), warehouse), {
        "project": project, **metric_params(metric), "runs": runs, "buckets": int(buckets)}).to_pandas()
    rows = []
    for r in frame.itertuples(index=False):
        low = (r.run_id, r.model_id, int(r.x_low), float(r.low), int(r.n), int(r.bucket))
        high = (r.run_id, r.model_id, int(r.x_high), float(r.high), int(r.n), int(r.bucket))
        if r.x_low == r.x_high:
            rows.append(low)
        else:
            rows += sorted((low, high), key=lambda p: p[2])
    points = pd.DataFrame(rows, columns=POINT_COLUMNS)
    if points.empty:
        return points, pd.DataFrame(columns=SERIES_COLUMNS)
    grouped = points.groupby(["run_id", "model_id"], sort=True)
    per_bucket = frame.groupby(["run_id", "model_id"], sort=True)
    series = pd.DataFrame({
        "points": per_bucket["n"].sum(), "drawn": grouped.size(), "buckets": per_bucket.size(),
        "downsampled": per_bucket["n"].max() > 2, "x_first": grouped["x"].min(), "x_last": grouped["x"].max(),
    }).reset_index()
    return points, series[SERIES_COLUMNS]


_RUNS_WITH = """
SELECT run_id, name, metric_steps[indexOf(metric_keys, %(metric)s)] AS last_step
FROM {db}.current_runs
WHERE project = %(project)s AND has(metric_keys, %(metric)s)
ORDER BY last_step > 0 DESC, started_ts DESC, run_id
LIMIT %(limit)s"""


def runs_with_metric(warehouse: Warehouse, project: str, metric: str, limit: int = 200) -> Any:
    """The runs that have ``metric`` (those with a history first, then the newest): run_id, name, last_step."""
    return warehouse.query(render(_RUNS_WITH, warehouse), {"project": project, **metric_params(metric),
                                                           "limit": int(limit)}).to_pandas()
