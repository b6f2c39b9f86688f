"""The drill-down: what each stage adds to one sampled row, and how the trackers record it (no services)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeldb.dashboard.summary import drilldown_caption, drilldown_rows
from modeldb.producers.sklearn import data as D
from modeldb.warehouse.queries.pipelines import row_drilldown, sample_trace, trace_keys

SOURCE = {"age": 52, "country": "US", "churned": 1.0}


def _spark_like():
    """A split, then StringIndexer → OneHotEncoder → VectorAssembler → LogisticRegression on the test side,
    as the Spark tracker records it: every output keeps the source columns and appends its own."""
    indexed = {**SOURCE, "country_idx": 0.0}
    encoded = {**indexed, "country_vec": {"US": 1.0, "DE": 0.0}}
    assembled = {**encoded, "features": {"age": 52.0, "country_vec_US": 1.0, "country_vec_DE": 0.0}}
    scored = {**assembled, "rawPrediction": [-1.5, 1.5], "probability": [0.18, 0.82], "prediction": 1.0}
    steps = [("split", "randomSplit", ["src"], ["train", "test"]),
             ("transform", "StringIndexerModel", ["test"], ["d1"]),
             ("transform", "OneHotEncoderModel", ["d1"], ["d2"]),
             ("transform", "VectorAssembler", ["d2"], ["d3"]),
             ("transform", "LogisticRegressionModel", ["d3"], ["d4"]),
             ("transform", "PipelineModel", ["test"], ["d4"])]  # the composite: nothing of its own
    actions = pd.DataFrame({"action": [s[0] for s in steps], "operator_class": [s[1] for s in steps],
                            "input_dataframe_ids": [s[2] for s in steps],
                            "output_dataframe_ids": [s[3] for s in steps]})
    samples = {"src": {"k9": {**SOURCE, "age": 30}}, "train": {"k9": {**SOURCE, "age": 30}}, "test": {"k1": SOURCE},
               "d1": {"k1": indexed}, "d2": {"k1": encoded}, "d3": {"k1": assembled}, "d4": {"k1": scored}}
    frames = pd.DataFrame({"dataframe_id": list(samples), "sample": list(samples.values())})
    return sample_trace(actions, frames)


def test_each_value_comes_with_the_stage_that_produced_it():
    drill = row_drilldown(_spark_like(), "k1").set_index("column")
    assert drill.loc["age", "stage"] == "source" and drill.loc["country", "kind"] == "source"  # via the split
    assert drill.loc["country_idx", "stage"] == "2 · transform StringIndexerModel"
    assert drill.loc["country_idx", "kind"] == "derived"
    assert drill.loc["country_vec[US]", "value"] == 1.0 and drill.loc["country_vec[US]", "kind"] == "vector slot"
    assert drill.loc["features[country_vec_US]", "stage"] == "4 · transform VectorAssembler"
    assert drill.loc["probability[1]", "kind"] == "probability" and drill.loc["probability[1]", "value"] == 0.82
    assert drill.loc["rawPrediction[0]", "kind"] == "score"
    assert drill.loc["prediction", "kind"] == "prediction"
    assert drill.loc["prediction", "stage"] == "5 · transform LogisticRegressionModel"  # not the PipelineModel
    assert drill.index.is_unique  # source columns repeated by every stage are not repeated here


def test_a_changed_value_is_the_stage_s_and_the_source_value_stays():
    actions = pd.DataFrame({"action": ["fit_transform", "predict"], "operator_class": ["StandardScaler", "LogReg"],
                            "input_dataframe_ids": [["x"], ["s"]], "output_dataframe_ids": [["s"], ["p"]]})
    frames = pd.DataFrame({"dataframe_id": ["x", "s", "p"],
                           "sample": [{"0": {"age": 36, "plan": "pro"}}, {"0": {"age": -0.77}},
                                      {"0": {"prediction": 0}}]})
    drill = row_drilldown(sample_trace(actions, frames), "0")
    assert drill.values.tolist() == [["source", "age", 36, "source"], ["source", "plan", "pro", "source"],
                                     ["1 · fit_transform StandardScaler", "age", -0.77, "derived"],
                                     ["2 · predict LogReg", "prediction", 0, "prediction"]]


def test_keys_followed_furthest_come_first_and_inputs_no_stage_made_are_sources():
    trace = _spark_like()
    assert trace_keys(trace) == ["k1", "k9"]  # k1 reached the prediction, k9 stopped at the split
    assert row_drilldown(trace, "k9")["stage"].eq("source").all()
    assert row_drilldown(trace, "nope").empty
    label = pd.DataFrame({"action": ["fit"], "operator_class": ["LogReg"], "input_dataframe_ids": [["X", "y"]],
                          "output_dataframe_ids": [[]]})
    frames = pd.DataFrame({"dataframe_id": ["X", "y"], "sample": [{"3": {"a": 1}}, {"3": {"churned": 1}}]})
    assert list(row_drilldown(sample_trace(label, frames), "3")["column"]) == ["a", "churned"]  # the label too


def test_display_rows_are_text_and_the_caption_counts_what_was_added():
    drill = row_drilldown(_spark_like(), "k1")
    rows = drilldown_rows(drill)
    assert all(isinstance(r["value"], str) for r in rows)
    by_column = {r["column"]: r["value"] for r in rows}
    assert by_column["probability[1]"] == "0.82" and by_column["country"] == "US" and by_column["age"] == "52"
    caption = drilldown_caption(drill)
    assert caption.startswith("3 values from the source; ") and "added by 4 stages" in caption
    assert "1 prediction" in caption and "2 probabilities" in caption and "1 derived column" in caption


def test_a_wide_numeric_output_keeps_its_set_slots_in_the_sample():
    wide = np.zeros((3, D.MAX_SAMPLE_FIELDS + 30))
    wide[1, D.MAX_SAMPLE_FIELDS + 20] = 1.0  # a one-hot slot far to the right
    names = [f"cat__v{i}" for i in range(wide.shape[1])]
    rows = D.view(wide, "ndarray", names).rows(np.array([1]))
    assert rows == [{f"cat__v{D.MAX_SAMPLE_FIELDS + 20}": 1.0}]
    narrow = D.view(np.zeros((2, 3)), "ndarray", ["a", "b", "c"]).rows(np.array([0]))
    assert narrow == [{"a": 0.0, "b": 0.0, "c": 0.0}]  # a narrow one keeps every field, zeros too


def test_spark_samples_name_vector_slots_and_keep_what_the_stages_added():
    linalg = pytest.importorskip("pyspark.ml.linalg")
    from modeldb.producers.spark import frames

    dense, sparse = linalg.DenseVector([52.0, 1.0, 0.0]), linalg.SparseVector(3, {1: 1.0})
    named = ["age", "country_vec_US", "country_vec_DE"]
    assert frames.plain(dense, named) == {"age": 52.0, "country_vec_US": 1.0, "country_vec_DE": 0.0}
    assert frames.plain(sparse, named) == {"age": 0.0, "country_vec_US": 1.0, "country_vec_DE": 0.0}
    assert frames.plain(dense, ["too", "few"]) == [52.0, 1.0, 0.0]  # names that do not fit: by index
    long = linalg.SparseVector(1000, {700: 1.0})
    assert frames.plain(long, [f"v{i}" for i in range(1000)]) == {"v700": 1.0}  # the set slot, wherever it is

    wide = [f"c{i}" for i in range(frames.MAX_SAMPLE_FIELDS + 5)] + ["features", "prediction"]
    values = list(range(frames.MAX_SAMPLE_FIELDS + 5)) + [dense, 1.0]
    row = json.loads(frames.rows_json(wide, [(0, values)], {"features": named}, ["features", "prediction"])[0])
    assert len(row) == frames.MAX_SAMPLE_FIELDS and row["prediction"] == 1.0
    assert row["features"] == {"age": 52.0, "country_vec_US": 1.0, "country_vec_DE": 0.0}
