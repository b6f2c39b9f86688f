"""Canonical metric names: scikit-learn's and Spark's names of one metric land on one key, the logged name kept."""
from __future__ import annotations

import random

from modeldb.core.metric_names import FAMILIES, aliases, canonical, logged_names, lower_is_better
from modeldb.stream_processors.current import CurrentState, RunState
from modeldb.stream_processors.materializer import COLUMNS
from modeldb.warehouse.ddl import migrations
from modeldb.warehouse.queries.base import metric_params
from modeldb.warehouse.queries.filters import compile_expression
from tests.unit.test_current_state import TS, decoded


def test_each_framework_name_maps_to_its_family():
    pairs = {"accuracy_score": "accuracy", "accuracy": "accuracy", "f1_score": "f1", "f1": "f1",
             "roc_auc_score": "roc_auc", "areaUnderROC": "roc_auc", "areaUnderPR": "pr_auc",
             "log_loss": "log_loss", "logLoss": "log_loss", "root_mean_squared_error": "rmse", "rmse": "rmse",
             "mean_absolute_error": "mae", "r2_score": "r2", "weightedPrecision": "precision",
             "recall_score": "recall", "f1_score_macro": "f1_macro", "precision_score_weighted": "precision_weighted"}
    assert {name: canonical(name) for name in pairs} == pairs
    assert canonical("my_custom_metric") == "my_custom_metric" and canonical("best_score") == "best_score"
    assert logged_names("accuracy_score") == ("accuracy", "accuracy_score") == logged_names("accuracy")
    assert set(logged_names("roc_auc")) == {"roc_auc", "roc_auc_score", "areaUnderROC"}
    assert metric_params("areaUnderROC")["metric"] == "roc_auc"


def test_no_two_families_claim_a_name_and_no_alias_is_a_canonical_name():
    names = [n for family in FAMILIES.values() for n in family.names]
    assert len(names) == len(set(names))
    assert not set(aliases()) & set(FAMILIES)


def test_losses_and_errors_rank_ascending():
    assert lower_is_better("logLoss") and lower_is_better("rmse") and lower_is_better("mean_absolute_error")
    assert lower_is_better("my_val_loss")  # not listed: by its suffix
    assert not lower_is_better("accuracy_score") and not lower_is_better("areaUnderROC")
    assert not lower_is_better("f1_score_macro")


def test_the_filter_language_finds_a_metric_by_any_name_of_its_family():
    for written in ("metrics.accuracy", "metrics.accuracy_score"):
        compiled = compile_expression(f"{written} > 0.8", "model")
        assert "indexOf(metric_keys, 'accuracy')" in compiled.sql and ("metric", "accuracy") in compiled.keys


def test_the_current_state_keeps_a_family_under_one_key_with_the_name_it_was_logged_under():
    events = [decoded("RunStarted", TS, 0, name="mixed"),
              decoded("MetricLogged", TS + 1, 1, name="accuracy_score", value=0.8, step=0, model_id=None, slice=""),
              decoded("MetricLogged", TS + 2, 2, name="accuracy", value=0.85, step=0, model_id=None, slice=""),
              decoded("MetricLogged", TS + 3, 3, name="areaUnderROC", value=0.9, step=0, model_id=None, slice="")]
    rows = []
    for order in range(3):
        shuffled = events[:]
        random.Random(order).shuffle(shuffled)
        rows.append(dict(zip(COLUMNS["run_state"], CurrentState(None).rows(shuffled)["run_state"][0])))
    row = rows[0]
    assert row["metric_keys"] == ["accuracy", "roc_auc"]
    assert row["metric_values"] == [0.85, 0.9]  # the newer point of the family wins
    assert row["metric_names"] == ["accuracy", "areaUnderROC"]
    assert all(r["metric_keys"] == row["metric_keys"] and r["metric_values"] == row["metric_values"] for r in rows)


def test_a_row_written_before_canonical_names_is_rekeyed_when_read_back():
    legacy = RunState("p", "r1", metrics={})
    legacy_row = list(legacy.row())
    at = COLUMNS["run_state"].index
    legacy_row[at("metric_keys")] = ["accuracy_score", "roc_auc_score"]
    legacy_row[at("metric_values")] = [0.7, 0.6]
    legacy_row[at("metric_steps")] = [0, 0]
    legacy_row[at("metric_vers")] = [5, 6]
    legacy_row[at("metric_names")] = []
    state = RunState.of_row(tuple(legacy_row))
    assert state.metrics == {"accuracy": (0, 5, 0.7, "accuracy_score"), "roc_auc": (0, 6, 0.6, "roc_auc_score")}


def test_the_migration_renders_the_mapping_from_the_one_table():
    statements = "\n".join(migrations()[8].render("db"))
    assert "{metric_" not in statements
    assert "'areaUnderROC'" in statements and "'roc_auc'" in statements


def test_a_metric_column_says_which_names_it_was_logged_under():
    import pandas as pd

    from modeldb.dashboard.summary import metric_help

    keys = pd.DataFrame({"kind": ["metric", "metric", "param"], "key": ["accuracy", "loss", "C"],
                         "field": ["metrics.accuracy", "metrics.loss", "params.C"],
                         "logged_as": [["accuracy", "accuracy_score"], ["loss"], ["C"]]})
    assert metric_help(keys) == {
        "metrics.accuracy": "metrics.accuracy: logged as accuracy, accuracy_score (one metric family, see the README)"}
