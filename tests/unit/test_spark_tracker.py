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


# -- what survives Spark going away, and clean records (no JVM) ------------------------------------------------


def test_stop_timeout_is_checked_and_spark_context_stop_is_patched():
    from pyspark import SparkContext

    for bad in (-1, "10", True, float("nan"), float("inf")):
        with pytest.raises(TrackingError, match="stop_timeout must be a non-negative number"):
            modeldb.spark.autolog(stop_timeout=bad)
    before = SparkContext.__dict__["stop"]
    with modeldb.spark.autolog(stop_timeout=5) as handle:
        assert SparkContext.__dict__["stop"] is not before and handle.tracker.options.stop_timeout == 5.0
    assert SparkContext.__dict__["stop"] is before


def test_losses_make_one_warning_that_says_what_was_not_stored(caplog):
    import logging

    from modeldb.producers.spark.stopping import Losses, spark_gone

    losses = Losses()
    log = logging.getLogger("modeldb.spark.test")
    assert losses.report(log) is None
    losses.add("model", "PipelineModel m1", "the SparkContext was stopped")
    losses.add("frame", "randomSplit 0", "later reason")
    losses.add("predictions", "accuracy of model m1", "later reason")
    with caplog.at_level(logging.WARNING, "modeldb.spark.test"):
        text = losses.report(log)
        assert losses.report(log) is None  # reported once
    assert [r.getMessage() for r in caplog.records] == [text]
    assert "(the SparkContext was stopped)" in text and "files of 1 model(s) (PipelineModel m1)" in text
    assert "statistics and samples of 1 dataframe(s)" in text and "prediction rows of 1 evaluation(s)" in text
    assert spark_gone(None, None) == "the SparkContext was stopped"
    assert spark_gone(None, "spark.stop() came first") == "spark.stop() came first"


def test_a_drain_hurries_the_jobs_and_the_exit_waits_within_its_bound():
    import threading

    from modeldb.producers.autolog.deferred import Deferred

    deferred = Deferred("spark-test")
    seen, release = [], threading.Event()
    deferred.submit(lambda: (release.wait(5), seen.append(deferred.hurried)))
    assert not deferred.hurried and deferred.pending() == 1
    timer = threading.Timer(0.2, release.set)
    timer.start()
    assert deferred.drain(5) and seen == [True] and not deferred.hurried
    deferred.exit_timeout = 0.0
    deferred.submit(lambda: release.wait(5))
    deferred._drain_at_exit()  # does not wait past its bound


def test_a_failed_run_records_the_exceptions_text(monkeypatch):
    import sys

    from modeldb.producers.autolog.lifecycle import uncaught_error

    monkeypatch.delattr(sys, "last_type", raising=False)
    assert uncaught_error() is None
    monkeypatch.setattr(sys, "last_type", KeyError, raising=False)
    monkeypatch.setattr(sys, "last_value", KeyError("column 'salary' is not in the data"), raising=False)
    assert uncaught_error() == "KeyError: \"column 'salary' is not in the data\""


def test_no_uid_derived_defaults_and_no_placeholder_objective():
    from pyspark.ml.param.shared import HasInputCol, HasMaxIter, HasOutputCol

    class Encoder(HasInputCol, HasOutputCol, HasMaxIter):  # pure Python params: the default is uid + "__output"
        pass

    encoder = Encoder()
    encoder._set(inputCol="country_idx", maxIter=5)
    keys = {r["key"] for r in P.own_params(encoder)}
    assert encoder.getOutputCol() == f"{encoder.uid}__output"
    assert "outputCol" not in keys and {"inputCol", "maxIter"} <= keys
    assert {r["key"]: r["value"] for r in P.own_params(encoder._set(outputCol=f"{encoder.uid}__output"))}[
        "outputCol"] == f"{encoder.uid}__output"  # set by the user: kept

    class Summary:
        def __init__(self, history):
            self.objectiveHistory = history

    class Model:
        hasSummary = True

        def __init__(self, history):
            self.summary = Summary(history)

    assert P.objective_history(Model([0.0])) == []  # a tree ensemble's placeholder
    assert P.objective_history(Model([0.7, 0.5, 0.4])) == [0.7, 0.5, 0.4]


def test_model_lineage_covers_every_slot_and_refit_stages_are_found_by_uid():
    from types import SimpleNamespace

    from modeldb.producers.spark.stages import slot_lineage, stage_index

    slots = [f"city_vec_C{i:02d}" for i in range(300)]
    edges = slot_lineage(slots, lambda f: (("city", f"city > city_idx > city_vec > {f}"),))
    assert len(edges) == 300 and {e["src"] for e in edges} == {"city"}

    class Stage:
        def __init__(self, uid):
            self.uid = uid

    original = [Stage("StringIndexer_1"), Stage("LogisticRegression_2")]
    parent = SimpleNamespace(obj=SimpleNamespace(getStages=lambda: original))
    copy = Stage("LogisticRegression_2")  # the refit runs on a copy of the pipeline: same uid, other object
    no_models = SimpleNamespace(models=SimpleNamespace(get=lambda obj: None))
    assert stage_index(parent, original[0], no_models) == 0 and stage_index(parent, copy, no_models) == 1
    assert stage_index(parent, Stage("Other_3"), no_models) is None


def test_prediction_events_stay_bounded_with_many_slice_columns():
    assert predictions.rows_per_event(0) == predictions.ROWS_PER_EVENT
    assert predictions.rows_per_event(20) * (120 + 30 * 20) <= predictions.EVENT_BUDGET
    assert predictions.rows_per_event(10_000) == 50


class _Run:
    def __init__(self):
        self.events = []

    def emit_action(self, event_type, payload):
        self.events.append((event_type, dict(payload)))


def _part(index, model, model_id, parts=()):
    from modeldb.producers.spark.calls import Part

    return Part(index, model, model_id, {"model_id": model_id, "uri": "", "format": "", "parent_model_id": "w"},
                list(parts))


def test_a_part_never_points_into_a_whole_without_files():
    from types import SimpleNamespace

    from modeldb.producers.spark.storing import Storing

    class Tracker(Storing):
        options = SimpleNamespace(log_models=True)

    stage, best = object(), SimpleNamespace(stages=[])
    best.stages.append(stage)
    whole = SimpleNamespace(bestModel=best)
    run = _Run()
    Tracker()._link(run, whole, "w", [_part(None, best, "b", [_part(0, stage, "s")])], "Spark stopped", None)
    stored = [p for kind, p in run.events if kind == "ModelStored"]
    notes = {p["target_id"]: p["text"] for kind, p in run.events if kind == "Annotated"}
    assert [(p["model_id"], p["uri"]) for p in stored] == [("b", ""), ("s", "")]
    assert notes == {"b": "not stored: stored only as a part of w, whose files were not written (Spark stopped)",
                     "s": notes["s"]} and notes["s"].startswith("not stored: stored only as a part of b")


class _Plan:
    """Just enough of a DataFrame's JVM plan: its output attributes and its text."""

    def __init__(self, output, text=""):
        self._output, self._text = output, text

    def queryExecution(self):
        return self

    def analyzed(self):
        return self

    def output(self):
        return self

    def mkString(self, sep):
        return sep.join(self._output)

    def toString(self):
        return self._text


def _frame(output, text=""):
    from types import SimpleNamespace

    return SimpleNamespace(_jdf=_Plan(output, text))


def test_a_metric_follows_the_scored_column_through_projections_filters_and_renames():
    from modeldb.producers.spark.scored import Scored, output_ids

    scored = _frame(["id#0L", "age#1", "rawPrediction#127", "prediction#138"])
    assert output_ids(scored) == {"id": "0", "age": "1", "rawPrediction": "127", "prediction": "138"}
    memory = Scored()
    get = lambda evaluator, name: evaluator.get(name)  # noqa: E731
    assert memory.find(scored, {"predictionCol": "prediction"}, get) is None  # nothing remembered yet
    memory.remember(scored, "output", ["rawPrediction", "prediction"])
    projected = _frame(["prediction#138", "label#2"])  # predictions.select("prediction", "label").where(...)
    assert memory.find(projected, {"predictionCol": "prediction"}, get) == ("output", scored)
    raw = _frame(["rawPrediction#127", "label#2"])  # a binary evaluator reads rawPredictionCol
    assert memory.find(raw, {"rawPredictionCol": "rawPrediction"}, get) == ("output", scored)
    renamed = _frame(["pred#142", "label#2"], "Project [prediction#138 AS pred#142, label#2]\n+- Project ...")
    assert memory.find(renamed, {"predictionCol": "pred"}, get) == ("output", scored)
    other = _frame(["prediction#999"])
    assert memory.find(other, {"predictionCol": "prediction"}, get) is None
