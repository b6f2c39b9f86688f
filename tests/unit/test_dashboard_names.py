"""Names instead of ids, and a view's state in its URL: the dashboard's pure parts (no Streamlit run, no services)."""
from __future__ import annotations

import pandas as pd
import pytest

from modeldb.dashboard import links
from modeldb.dashboard.summary import project_overview, table_order, with_names, with_times
from modeldb.warehouse.queries.names import _step_names, run_label, unique_labels


def test_stage_names_come_from_sklearns_steps_or_transformers():
    assert _step_names('[["prep", "ColumnTransformer"], ["clf", "LogisticRegression"]]', "") == ["prep", "clf"]
    assert _step_names("", '[["num", "StandardScaler", ["age"]], ["cat", "OneHotEncoder", ["plan"]]]') == \
        ["num", "cat"]
    assert _step_names("not json", "") == [] and _step_names("", "") == []


def test_labels_are_made_unique_only_where_runs_share_a_name():
    labels = unique_labels({"a" * 32: "baseline", "b" * 32: "baseline", "c" * 32: "tuned"})
    assert labels["c" * 32] == "tuned"
    assert labels["a" * 32] == "baseline (…aaaaaa)" and labels["b" * 32] == "baseline (…bbbbbb)"
    assert run_label("", "0123456789abcdef") == "unnamed …89abcdef" and run_label("x", "id") == "x"


def test_tables_lead_with_names_and_show_ids_only_when_asked():
    table = pd.DataFrame({"model_id": ["m1", "m2"], "run_id": ["r1", "r1"], "operator_class": ["Pipeline", "SVC"],
                          "parent_model_id": ["", "m1"], "metrics.f1": [0.5, None], "experiment": ["e", "e"]})
    names = pd.DataFrame({"model_id": ["m1", "m2"], "label": ["run-a", "run-a › clf"], "role": ["whole", "stage clf"],
                          "run_name": ["run-a", "run-a"]})
    named = with_names(table, names)
    assert named["model"].tolist() == ["run-a", "run-a › clf"] and named["role"].tolist() == ["whole", "stage clf"]
    assert table_order(named, ["metrics.f1"]) == ["model", "role", "operator_class", "metrics.f1", "run",
                                                  "experiment"]
    assert table_order(named, ["metrics.f1"], show_ids=True)[:4] == ["model", "model_id", "run_id",
                                                                      "parent_model_id"]
    unknown = with_names(table, names.iloc[:0])
    assert unknown["model"].tolist() == ["…m1", "…m2"]  # not in the warehouse (yet): the end of the id


def test_event_times_show_as_dates_not_microsecond_counts():
    table = pd.DataFrame({"model_id": ["m1"], "created_ts": [1_764_633_600_123_456]})
    shown = with_times(table)
    assert shown["created_ts"][0] == pd.Timestamp("2025-12-02 00:00:00.123456", tz="UTC")
    assert with_times(pd.DataFrame({"model_id": []})).columns.tolist() == ["model_id"]


def test_the_projects_table_says_who_holds_the_best_value_by_name():
    projects = pd.DataFrame({"project": ["p"], "experiments": [1], "runs": [1], "models": [1],
                             "last_activity": ["2026-01-01 10:00:00"]})
    best = pd.DataFrame([("p", "accuracy", 1, 0.9, "f" * 32, 0.9, "f" * 32)],
                        columns=["project", "metric", "models", "max_value", "max_model", "min_value", "min_model"])
    activity = pd.DataFrame({"project": ["p"], "hour": ["2026-01-01 10:00:00"], "runs": [1]})
    assert project_overview(projects, best, activity, {"f" * 32: "tuned · Pipeline"})["held_by"][0] == \
        "tuned · Pipeline"
    assert project_overview(projects, best, activity)["held_by"][0] == "…" + "f" * 8


@pytest.mark.parametrize("kind, value, url", [("str", "params.C", ["params.C"]), ("int", 3, ["3"]),
                                              ("bool", True, ["1"]), ("bool", False, ["0"]),
                                              ("list", ["a", "b"], ["a", "b"]), ("list", [], [""])])
def test_url_values_round_trip(kind, value, url):
    assert links._encode(value, kind) == url
    assert links._decode(url, kind) == value


def test_url_values_the_page_cannot_show_fall_back_to_the_default():
    assert links._valid("gone", "str", "first", ["first", "second"], None) == "first"
    assert links._valid(["b", "gone", "b"], "list", [], ["a", "b"], None) == ["b"]
    assert links._valid(99, "int", 1, None, (1, 4)) == 4
    assert links._valid("yes", "bool", False, None, None) is False
    with pytest.raises(ValueError):
        links._decode(["x"], "int")
