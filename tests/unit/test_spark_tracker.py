"""The Spark tracker's pure parts: options, patching, schemas, lineage, params and prediction events (no JVM)."""
from __future__ import annotations

import pytest

pytest.importorskip("pyspark")

from pyspark.ml import base, evaluation, tuning  # noqa: E402
from pyspark.ml.linalg import DenseVector, SparseVector, VectorUDT  # noqa: E402
from pyspark.sql.classic import dataframe  # noqa: E402
from pyspark.sql.types import DoubleType, StringType, StructField, StructType  # noqa: E402

import modeldb.spark  # noqa: E402
from modeldb.core.exceptions import TrackingError  # noqa: E402
from modeldb.producers.spark import frames, predictions  # noqa: E402
from modeldb.producers.spark import params as P  # noqa: E402
from modeldb.producers.spark.stages import declared_inputs, derivation  # noqa: E402


@pytest.mark.parametrize("kwargs, message", [
    ({"experiment": " "}, "experiment must be a non-empty string"),
    ({"slice_columns": "country"}, "slice_columns takes a list"),
    ({"sample_rows": -1}, "sample_rows must be a non-negative integer"),
    ({"max_prediction_rows": 1.5}, "max_prediction_rows must be a non-negative integer"),
    ({"count_rows": "yes"}, "count_rows must be True or False"),
    ({"key_column": ""}, "key_column must be a column name"),
])
def test_autolog_rejects_bad_options_by_name(kwargs, message):
    with pytest.raises(TrackingError, match=message):
        modeldb.spark.autolog(**kwargs)


def test_autolog_patches_the_entry_points_and_disable_puts_them_back():
    targets = [(base.Estimator, "fit"), (base.Transformer, "transform"), (evaluation.Evaluator, "evaluate"),
               (dataframe.DataFrame, "randomSplit"), (tuning, "_parallelFitTasks")]
    before = [owner.__dict__[name] for owner, name in targets]
    with modeldb.spark.autolog(log_models=False) as handle:
        assert handle.tracker is not None and handle.options.log_models is False
        assert all(owner.__dict__[name] is not b for (owner, name), b in zip(targets, before))
        modeldb.spark.autolog(sample_rows=0)  # again: new options, patched once
        assert handle.tracker.options.sample_rows == 0
    assert [owner.__dict__[name] for owner, name in targets] == before
    assert modeldb.spark.autolog.__module__ == "modeldb.producers.spark"


def _vector_field(name: str, attrs: dict | None, size: int) -> StructField:
    meta = {"ml_attr": {"num_attrs": size, **({"attrs": attrs} if attrs else {})}}
    return StructField(name, VectorUDT(), metadata=meta)


class _Schema:
    def __init__(self, *fields):
        self.schema = StructType(list(fields))


def test_vector_slots_are_named_from_ml_attr_metadata():
    df = _Schema(StructField("age", DoubleType()), StructField("country", StringType()),
                 _vector_field("features", {"numeric": [{"idx": 0, "name": "age"}],
                                            "binary": [{"idx": 1, "name": "country_vec_US"},
                                                       {"idx": 2, "name": "country_vec_DE"}]}, 4),
                 _vector_field("probability", None, 2))
    assert frames.schema_columns(df) == [("age", "double"), ("country", "string"), ("features", "vector"),
                                         ("probability", "vector")]
    assert frames.vector_slots(df) == {"features": ["age", "country_vec_US", "country_vec_DE", "features[3]"],
                                       "probability": ["probability[0]", "probability[1]"]}


class _Stage:
    """Just enough of pyspark's Params API for the column helpers."""

    def __init__(self, **values):
        self.values = values

    def hasParam(self, name):
        return name in self.values

    def isDefined(self, name):
        return name in self.values

    def getOrDefault(self, name):
        return self.values[name]


def test_lineage_pairs_columns_and_traces_assembled_slots_to_their_input():
    indexer = _Stage(inputCols=["country", "plan"], outputCols=["country_idx", "plan_idx"])
    assert declared_inputs(indexer, ["age", "country", "plan"], with_label=False) == ["country", "plan"]
    assert derivation(indexer, ["country", "plan"], ["country_idx", "plan_idx"], {}) == {
        "country_idx": ["country"], "plan_idx": ["plan"]}
    assembler = _Stage(inputCols=["age", "country_vec"], outputCol="features")
    derived = derivation(assembler, ["age", "country_vec"], ["features"],
                          {"features": ["age", "country_vec_US", "country_vec_DE"]})
    assert derived == {"features": ["age", "country_vec"], "age": ["age"], "country_vec_US": ["country_vec"],
                       "country_vec_DE": ["country_vec"]}
    model = _Stage(featuresCol="features", labelCol="churned")
    assert declared_inputs(model, ["features", "churned", "age"], with_label=True) == ["features", "churned"]
    assert declared_inputs(_Stage(), ["a", "b"], with_label=False) == ["a", "b"]


def test_param_names_are_stable_across_sessions():
    class Stage:
        def __init__(self, uid):
            self.uid = uid

    class LogisticRegression(Stage):
        pass

    class Pipeline:
        def __init__(self, stages):
            self._stages = stages

        def getStages(self):
            return self._stages

    class Param:
        def __init__(self, parent, name):
            self.parent, self.name = parent, name

    a, b, c = LogisticRegression("LogisticRegression_1f2e"), Stage("Stage_aa"), Stage("Stage_bb")
    assert P.stage_names([a, b, c]) == {"LogisticRegression_1f2e": "LogisticRegression", "Stage_aa": "Stage",
                                        "Stage_bb": "Stage_2"}
    records = P.param_map_records(Pipeline([b, a]), {Param(a.uid, "regParam"): 0.1, Param(b.uid, "k"): 3})
    assert [(r["key"], r["type"], r["value"]) for r in records] == [
        ("LogisticRegression__regParam", "float", "0.1"), ("Stage__k", "int", "3")]


def test_sample_values_are_plain_json():
    assert frames.plain(DenseVector([1.0, float("nan"), 2.5])) == [1.0, None, 2.5]
    assert frames.plain(SparseVector(3, {1: 4.0})) == [0.0, 4.0, 0.0]
    assert len(frames.plain(DenseVector(list(range(100))))) == frames.MAX_VECTOR_SAMPLE
    assert frames.plain(float("inf")) is None and frames.plain("US") == "US"
    assert frames.digest("plan", [("a", 1)]) == frames.digest("plan", [("a", 1)]) != frames.digest("plan", [])


def test_prediction_rows_and_their_event_ids():
    rows = [{"k": "-12", "p": 1.0, "y": 0.0, "s0": "US"}, {"k": "7", "p": 0.0, "y": None, "s0": None}]
    built = list(predictions.build_rows(rows, ["country"]))
    assert built[0] == {"key": "-12", "prediction": "1.0", "prediction_num": 1.0, "label": "0.0", "label_num": 0.0,
                        "slice_values": {"country": "US"}}
    assert built[1]["label"] is None and built[1]["slice_values"] == {"country": ""}
    assert [len(c) for c in predictions.chunks(iter(range(2500)), 1000)] == [1000, 1000, 500]
    # A retried task writes the same ids, so the warehouse keeps one copy.
    assert predictions.event_id("run", "m", "d", 3, 0) == predictions.event_id("run", "m", "d", 3, 0)
    assert predictions.event_id("run", "m", "d", 3, 0) != predictions.event_id("run", "m", "d", 3, 1)
    assert len(predictions.event_id("x")) == 32
