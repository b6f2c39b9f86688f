"""Curves downsampled on the server: the statement of ``warehouse/queries/curves.py`` on real chDB.

chDB allows one data directory per process, so the warehouse part runs in a child process of its
own (a fresh directory, the real DDL), which prints what the query answered. The series are
written with ``INSERT … SELECT FROM numbers(…)``: a million points in well under a second.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from modeldb.dashboard import charts
from modeldb.warehouse.queries.curves import curve_sql, curves

CHILD = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from modeldb.core.config import Settings
    from modeldb.warehouse.factory import connect
    from modeldb.warehouse.queries.curves import curves

    wh = connect(Settings.load(env={}, home=Path(sys.argv[1])))
    db = wh.database
    columns = "project, name, run_id, step, value, model_id, dataframe_id, slice, event_id, ts, ver"
    def series(run, n, value, ver=1):
        wh.execute(f"""INSERT INTO {db}.metrics ({columns})
            SELECT 'p', 'loss', '{run}', toInt64(number), {value}, '', '', '',
                   concat('{run}-', toString(number), '-', toString({ver})), toInt64(1700000000000000 + number * 1000),
                   toUInt64({ver})
            FROM numbers({n})""")
    # a million steps, one spike up and one dip down
    series("long", 1_000_000, "if(number = 654321, 50.0, if(number = 123457, -40.0, 1.0 / (1 + number)))")
    # a short curve, each point delivered twice (same event), and step 3 logged again later with a new value
    series("short", 10, "toFloat64(number)")
    series("short", 10, "toFloat64(number)")
    wh.execute(f"""INSERT INTO {db}.metrics ({columns}) VALUES
        ('p', 'loss', 'short', 3, 30.0, '', '', '', 'short-3-again', 1700000000009999, 5),
        ('p', 'loss', 'short', 4, nan, '', '', '', 'short-4-nan', 1700000000009999, 6),
        ('p', 'loss', 'short', 5, 555.0, '', '', 'country=US', 'short-5-slice', 1700000000009999, 7),
        ('p', 'other', 'short', 5, 555.0, '', '', '', 'short-other', 1700000000009999, 7)""")
    out = {}
    for x in ("step", "time"):
        points, summary = curves(wh, "p", "loss", ["long", "short", "missing"], x=x, buckets=500)
        out[x] = {"points": points.to_dict("list"), "series": summary.astype({"downsampled": int}).to_dict("list")}
    out["tiny"] = curves(wh, "p", "loss", ["long"], buckets=3)[1].to_dict("list")
    print("ANSWER" + json.dumps(out, default=str))
''')


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    home = tmp_path_factory.mktemp("curves")
    done = subprocess.run([sys.executable, "-c", CHILD, str(home)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("ANSWER"))
    return json.loads(line[len("ANSWER"):])


def _frames(answer: dict, x: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(answer[x]["points"]), pd.DataFrame(answer[x]["series"]).set_index("run_id")


def test_a_million_steps_come_back_as_at_most_two_points_per_bucket_with_the_spikes(answered):
    points, series = _frames(answered, "step")
    long = points[points["run_id"] == "long"]
    assert len(long) <= 2 * 500 and series.loc["long", "drawn"] == len(long)
    assert series.loc["long", "points"] == 1_000_000 and series.loc["long", "downsampled"] == 1
    assert series.loc["long", "buckets"] == 500
    spike = long.loc[long["value"].idxmax()]
    dip = long.loc[long["value"].idxmin()]
    assert (spike["x"], spike["value"]) == (654321, 50.0) and (dip["x"], dip["value"]) == (123457, -40.0)
    assert long["x"].is_monotonic_increasing and long["x"].iloc[0] == 0 and long["x"].iloc[-1] == 999_999
    assert (long["n"] == 2000).all()  # every bucket held 2,000 steps, of which 2 were sent


def test_duplicates_count_once_the_latest_value_wins_and_slices_and_nan_are_left_out(answered):
    points, series = _frames(answered, "step")
    short = points[points["run_id"] == "short"].set_index("x")["value"]
    assert series.loc["short", "points"] == 9 and series.loc["short", "downsampled"] == 0  # step 4 was NaN
    assert short.loc[3] == 30.0 and 4 not in short.index and short.loc[5] == 5.0  # not the slice's 555
    assert "missing" not in series.index


def test_time_on_the_x_axis_and_few_buckets(answered):
    points, series = _frames(answered, "time")
    long = points[points["run_id"] == "long"]
    assert len(long) <= 1000 and long["x"].min() == 1_700_000_000_000_000
    assert long["value"].max() == 50.0
    tiny = pd.DataFrame(answered["tiny"])
    assert tiny["buckets"].tolist() == [3] and tiny["drawn"].tolist() == [6]


def test_the_statement_takes_the_x_axis_from_a_fixed_set_only():
    assert "argMin(x, value)" in curve_sql("step") and " ts AS x" not in curve_sql("step")
    assert "ts AS x" in curve_sql("time")
    with pytest.raises(ValueError, match="x must be one of"):
        curve_sql("step; DROP TABLE metrics")
    with pytest.raises(ValueError, match="buckets"):
        curves(None, "p", "loss", ["r"], buckets=0)
    with pytest.raises(ValueError, match="at least one run"):
        curves(None, "p", "loss", [])


def test_smoothing_is_a_debiased_moving_average():
    assert charts.smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])
    assert charts.smooth([0.0, 10.0], 0.0) == [0.0, 10.0]
    smoothed = charts.smooth([0.0, 10.0, 10.0, 10.0], 0.5)
    assert smoothed[0] == 0.0 and 0 < smoothed[1] < smoothed[2] < smoothed[3] < 10
    with pytest.raises(ValueError):
        charts.smooth([1.0], 1.0)


def test_downsampled_spans_merge_neighbouring_buckets_and_the_chart_draws_them():
    points = pd.DataFrame({"series": ["a"] * 6 + ["b"] * 2, "x": [0, 9, 10, 19, 40, 49, 0, 1],
                           "value": [1.0, 2, 1, 2, 1, 2, 5, 6], "n": [10, 10, 10, 10, 10, 10, 1, 1],
                           "bucket": [0, 0, 1, 1, 4, 4, 0, 1]})
    spans = charts.downsampled_spans(points)
    assert spans.values.tolist() == [["a", 0, 19], ["a", 40, 49]]  # b kept every point: no band
    spec = charts.curves(points, "loss", log=True, smoothing=0.8).to_dict()
    assert len(spec["layer"]) == 3  # the bands, the raw line and the smoothed line
    assert any(layer.get("mark", {}).get("type") == "rect" for layer in spec["layer"])
