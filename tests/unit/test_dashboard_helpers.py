"""The dashboard's pure parts: shaping answers, charts, graphs, pipeline alignment (no Streamlit run, no services)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from modeldb.dashboard import charts, graphs
from modeldb.dashboard.summary import (activity_series, lower_is_better, main_metric, params_by_interest,
                                       project_overview, stage_table, table_order, trace_rows)
from modeldb.warehouse.queries.pipelines import align, sample_trace


def _metrics(rows):
    return pd.DataFrame(rows, columns=["project", "metric", "models", "max_value", "max_model", "min_value",
                                       "min_model"])


def test_main_metric_prefers_well_known_names_then_coverage():
    assert main_metric(_metrics([("p", "f1", 3, 0.9, "a", 0.1, "b"),
                                 ("p", "accuracy", 1, 0.8, "c", 0.7, "d")])) == "accuracy"  # names come canonical
    assert main_metric(_metrics([("p", "custom_a", 2, 1, "a", 0, "b"), ("p", "custom_b", 5, 1, "a", 0, "b")])) \
        == "custom_b"
    assert main_metric(_metrics([])) is None
    assert lower_is_better("val_loss") and lower_is_better("mean_squared_error") and not lower_is_better("r2")


def test_project_overview_takes_the_best_side_of_the_main_metric():
    projects = pd.DataFrame({"project": ["a", "b"], "experiments": [1, 2], "runs": [3, 4], "models": [5, 6],
                             "last_activity": ["2026-01-01 10:00:00", "2026-01-02 10:00:00"]})
    best = _metrics([("a", "accuracy", 5, 0.9, "model-a-best", 0.5, "model-a-worst"),
                     ("b", "rmse", 6, 9.0, "model-b-worst", 1.5, "model-b-best")])
    activity = pd.DataFrame({"project": ["a", "a", "b"],
                             "hour": ["2026-01-01 08:00:00", "2026-01-01 10:00:00", "2026-01-02 10:00:00"],
                             "runs": [2, 1, 4]})
    rows = project_overview(projects, best, activity).set_index("project")
    assert rows.loc["a", "best_value"] == 0.9 and rows.loc["a", "best_model"] == "model-a-best"
    assert rows.loc["b", "best_value"] == 1.5 and rows.loc["b", "best_model"] == "model-b-best"
    assert rows.loc["a", "activity"] == [2, 0, 1]  # hourly, the empty hour filled
    assert rows.loc["b", "activity"] == [0, 4]  # one point still draws a line


def test_activity_goes_daily_over_more_than_two_days():
    activity = pd.DataFrame({"hour": ["2026-01-01 08:00:00", "2026-01-01 09:00:00", "2026-01-05 10:00:00"],
                             "runs": [1, 2, 3]})
    assert activity_series(activity) == [3, 0, 0, 0, 3]
    assert activity_series(activity.iloc[:0]) == []


def test_params_that_vary_come_first_and_columns_are_ordered():
    keys = pd.DataFrame({"kind": ["param", "param", "param", "metric"],
                         "key": ["verbose", "C", "seed", "acc"],
                         "models": [100, 40, 100, 100], "distinct_values": [2, 40, 1, 90],
                         "field": ["params.verbose", "params.C", "params.seed", "metrics.acc"]})
    every, varying = params_by_interest(keys)
    assert every == ["params.seed", "params.verbose", "params.C"]
    assert varying == ["params.C", "params.verbose"]  # the swept C first; a constant seed not at all
    table = pd.DataFrame(columns=["model_id", "run_id", "experiment", "operator_class", "metrics.acc"])
    assert table_order(table, ["metrics.acc"])[:3] == ["operator_class", "metrics.acc", "experiment"]


def _actions():
    return pd.DataFrame({
        "action_id": ["a1", "a2", "a3"], "seq": [1, 2, 3], "action": ["fit", "fit_transform", "fit"],
        "operator_class": ["Pipeline", "StandardScaler", "LogisticRegression"], "model_id": ["m", "m1", "m2"],
        "parent_action_id": ["", "a1", "a1"], "stage_index": [-1, 0, 1],
        "input_dataframe_ids": [["d0"], ["d0"], ["d1"]], "output_dataframe_ids": [[], ["d1"], []],
        "input_columns": [["x", "y"], ["x", "y"], ["x", "y"]], "output_columns": [[], ["x", "y"], []],
        "params": [{"steps": "[]"}, {"with_mean": "true"}, {"C": "1.0"}], "duration_ms": [5.0, 1.0, 3.5],
        "run_id": ["r"] * 3})


def _frames():
    return pd.DataFrame({"dataframe_id": ["d0", "d1"], "n_rows": [100, 100], "n_columns": [2, 2],
                         "sample": [{"7": {"x": 1, "y": "a"}}, {"7": {"x": 0.5, "y": -1.0}}]})


def test_version_tree_quotes_labels():
    tree = pd.DataFrame({"run_id": ["r1", "r2"], "name": ["base", 'bra"nch'], "parent_run_id": ["", "r1"],
                         "status": ["FINISHED", "FINISHED"], "selected": [False, True]})
    assert '"r1" -> "r2"' in graphs.version_tree(tree)


def test_stage_table_and_sample_trace_follow_the_rows():
    table = stage_table(_actions(), _frames())
    assert list(table["operator"]) == ["Pipeline", "StandardScaler", "LogisticRegression"]
    assert table.loc[1, "rows in"] == "100" and table.loc[1, "nested"] == "stage 0"
    trace = sample_trace(_actions(), _frames())
    assert set(trace["row_key"]) == {"7"} and list(trace["stage"]) == [1, 2]
    assert trace.iloc[-1]["values"] == {"x": 0.5, "y": -1.0}
    rows = trace_rows(trace)
    assert rows[0] == {"stage": 1, "operator": "fit Pipeline", "side": "input", "x": 1, "y": "a"}


def test_align_lines_up_stages_and_names_the_differences():
    other = _actions().assign(params=[{"steps": "[]"}, {"with_mean": "false"}, {"C": "1.0"}],
                              output_columns=[[], ["x"], []])
    aligned = align({"baseline": _actions(), "branch": other})
    assert list(aligned["stage"]) == [1, 2]  # the two stages of the pipeline
    assert aligned.loc[0, "params differ"] and aligned.loc[0, "columns differ"]
    assert "with_mean: true | false" in aligned.loc[0, "differences"]
    assert not aligned.loc[1, "params differ"] and not aligned.loc[1, "operator differ"]


@pytest.mark.parametrize("kind", charts.KINDS)
def test_chart_builder_makes_every_kind(kind):
    frame = pd.DataFrame({"x": [0.1, 1.0, 10.0], "y": [0.7, 0.8, 0.75], "color": ["a", "b", "a"],
                          "size": [1, 2, 3], "id": ["m1", "m2", "m3"]})
    spec = charts.builder(frame, kind, "params.C", "metrics.acc", "none").to_dict()
    assert spec["encoding"]["x"]["title"] == "C"
    faceted = charts.builder(frame.assign(facet=["p", "q", "p"]), kind, "params.C", "metrics.acc", "mean").to_dict()
    assert "facet" in faceted and json.dumps(faceted)
    with pytest.raises(ValueError, match="chart must be"):
        charts.builder(frame, "pie", "x", "y")


def test_parallel_coordinates_scale_each_axis_and_label_categories():
    frame = pd.DataFrame({"id": ["a", "b", "c"], "params.C": [0.1, 1.0, 10.0],
                          "params.penalty": ["l1", "l2", "l1"], "metrics.acc": [0.7, 0.9, 0.8]})
    chart = charts.parallel(frame, ["params.C", "params.penalty", "metrics.acc", "params.missing"], "metrics.acc")
    layers = chart.to_dict()["layer"]
    assert len(layers) == 3
    assert charts.parallel(frame.assign(**{"params.C": [None] * 3}), ["params.C"], "metrics.acc") is None


def test_differences_are_shaded():
    frame = pd.DataFrame({"item": ["C", "penalty"], "a": [1.0, "l2"], "b": [2.0, "l2"], "differs": [True, False]})
    html = charts.highlight_differences(frame).to_html()
    assert "#T_" in html and "_row0_col3 {\n  background-color: #ffe3b3" in html  # the differing row, every cell
    assert "_row1_col0" not in html.split("</style>")[0]  # the same row is not shaded
