"""Real pyspark.ml scripts, written as people write them, run as their own processes under autolog.

Each script (``spark_scripts/``) ends the way scripts do: ``spark.stop()``, leaving ``with
SparkSession…``, an uncaught exception, or Spark going away first. The warehouse is checked
against what the script did, counted independently: models stored and loadable with equal
predictions, frames, stage indexes, folds, metrics linked to their models, prediction rows.
Every test runs on both paths: the file log with chDB, and Kafka with ClickHouse.
"""
from __future__ import annotations

import re

import pytest

from tests.integration.conftest import TRACKED_PATHS
from tests.integration.spark_scripts.common import customers_pdf
from tests.integration.spark_scripts.harness import (check_references, check_stored, models, run_script,
                                                     same_predictions, stages_of)

pytest.importorskip("pyspark")

UID = re.compile(r"[A-Za-z]+_[0-9a-f]{12}")  # a stage's random uid (OneHotEncoder_b59b3c0d1e2f)


@pytest.fixture(scope="module")
def spark():
    from modeldb.devtools.demo_spark import spark_session

    session = spark_session("modeldb-script-tests", master="local[1]")
    yield session
    session.stop()


@pytest.fixture(params=list(TRACKED_PATHS))
def path(request):
    return request.getfixturevalue(TRACKED_PATHS[request.param])


def by_class(found: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for model_id, m in sorted(found.items()):
        out.setdefault(m["cls"], []).append(model_id)
    return out


def ran_cleanly(path, script: str, tmp_path) -> tuple:
    """A script that ran to its end with no warning: the run, its checked frame references, its models
    by id and by class."""
    ran = run_script(path, script, tmp_path)
    assert ran.returncode == 0, ran.stderr[-4000:]
    assert ran.warnings() == []
    frames = check_references(ran)
    found = models(ran)
    return ran, frames, found, by_class(found)


def run_ended(ran) -> list[tuple]:
    return ran.sql("SELECT status, error FROM {db}.runs FINAL WHERE project = %(p)s AND event_type = 'RunEnded'")


def check_clean_params(ran) -> None:
    values = [v for (vs,) in ran.sql("SELECT param_values FROM {db}.actions WHERE project = %(p)s") for v in vs]
    assert values and not [v for v in values if UID.search(v)]


def test_random_forest_ending_in_index_to_string(path, spark, tmp_path):
    ran, _, found, classes = ran_cleanly(path, "random_forest.py", tmp_path)
    facts = ran.facts
    assert {k: len(v) for k, v in classes.items()} == {"StringIndexerModel": 2, "PipelineModel": 1,
                                                       "OneHotEncoderModel": 1, "RandomForestClassificationModel": 1}
    assert all(m["uri"] for m in found.values())
    check_stored(ran, found)
    (pipe_id,) = classes["PipelineModel"]
    same_predictions(pipe_id, spark.createDataFrame(customers_pdf()), facts["predictions"])

    assert [s[:3] for s in stages_of(ran, found[pipe_id]["action"])] == [
        (0, "StringIndexerModel", "transform"), (1, "StringIndexer", "fit"), (1, "StringIndexerModel", "transform"),
        (2, "OneHotEncoder", "fit"), (2, "OneHotEncoderModel", "transform"), (3, "VectorAssembler", "transform"),
        (4, "RandomForestClassifier", "fit")]
    scored = ran.sql("SELECT action_id FROM {db}.actions WHERE project = %(p)s AND action = 'transform' "
                     "AND operator_class = 'PipelineModel'")[0][0]
    assert [s[0] for s in stages_of(ran, scored)] == [0, 1, 2, 3, 4, 5]
    sides = dict(ran.sql("SELECT source, n_rows FROM {db}.dataframes WHERE project = %(p)s "
                         "AND source LIKE 'randomSplit %%'"))
    assert sides == {"randomSplit 0": facts["n_train"], "randomSplit 1": facts["n_test"]}
    assert ran.sql("SELECT count() FROM {db}.dataframes WHERE project = %(p)s AND source = 'input'") == [(1,)]

    # The metrics on predictions.select("prediction", "label") and on a renamed, filtered copy belong to the
    # pipeline, and to the frame it scored.
    metrics = ran.sql("SELECT name, value, model_id, dataframe_id FROM {db}.metrics WHERE project = %(p)s "
                      "ORDER BY name")
    test_frame = ran.sql("SELECT output_dataframe_ids[1] FROM {db}.actions WHERE action_id = %(a)s", a=scored)[0][0]
    assert metrics == [("accuracy", pytest.approx(facts["accuracy"]), pipe_id, test_frame),
                       ("f1", pytest.approx(facts["f1"]), pipe_id, test_frame)]  # and no objective placeholder
    rows = ran.sql("""SELECT count(), uniqExact(key), uniqExact(model_id),
                             countIf(toFloat64OrNull(slice_values[indexOf(slice_keys, 'age')]) > 60),
                             countIf(slice_values[indexOf(slice_keys, 'country')] IN ('US', 'DE', 'FR', 'JP'))
                      FROM {db}.predictions FINAL WHERE project = %(p)s""")
    n_test = facts["n_test"]
    assert rows == [(n_test, n_test, 1, facts["over_60"], n_test)]
    check_clean_params(ran)
    assert run_ended(ran) == [("FINISHED", "")]


def test_cross_validator_and_train_validation_split_over_a_pipeline(path, spark, tmp_path):
    ran, frames, found, classes = ran_cleanly(path, "search.py", tmp_path)
    facts = ran.facts
    assert {k: len(v) for k, v in classes.items()} == {
        "CrossValidatorModel": 1, "TrainValidationSplitModel": 1, "PipelineModel": 2, "StringIndexerModel": 2,
        "OneHotEncoderModel": 2, "LogisticRegressionModel": 2}
    assert all(m["uri"] for m in found.values())
    check_stored(ran, found)
    (cv_id,), (tvs_id,) = classes["CrossValidatorModel"], classes["TrainValidationSplitModel"]
    best = {found[m]["parent"]: m for m in classes["PipelineModel"]}
    assert set(best) == {cv_id, tvs_id}
    data = spark.createDataFrame(customers_pdf(600, seed=1)).withColumnRenamed("churned", "label")
    same_predictions(cv_id, data, facts["predictions"])
    same_predictions(best[cv_id], data, facts["predictions"])

    for search in (cv_id, tvs_id):  # the refit's stages carry their index
        assert [s[:3] for s in stages_of(ran, found[best[search]]["action"])] == [
            (0, "StringIndexer", "fit"), (0, "StringIndexerModel", "transform"), (1, "OneHotEncoder", "fit"),
            (1, "OneHotEncoderModel", "transform"), (2, "VectorAssembler", "transform"),
            (3, "LogisticRegression", "fit")]
        assert {found[s[3]]["parent"] for s in stages_of(ran, found[best[search]]["action"]) if s[2] == "fit"} \
            == {best[search]}

    folds = ran.sql("""SELECT model_id, fold, train_dataframe_id, test_dataframe_id, score_names, score_values
                       FROM {db}.cv_folds FINAL WHERE project = %(p)s ORDER BY operator_class, fold""")
    assert [(f[0], f[1]) for f in folds] == [(cv_id, 0), (cv_id, 1), (cv_id, 2), (tvs_id, 0)]
    for f in folds:
        assert f[4] == ["areaUnderROC[0]", "areaUnderROC[1]"] and f[2] in frames and f[3] in frames
    means = [sum(f[5][i] for f in folds[:3]) / 3 for i in range(2)]
    assert means == pytest.approx(facts["cv_metrics"]) and folds[3][5] == pytest.approx(facts["tvs_metrics"])
    sides = ran.sql("SELECT source, n_rows FROM {db}.dataframes WHERE project = %(p)s AND source LIKE '%% fold %%'"
                    " ORDER BY source")
    assert len(sides) == 8 and all(n == -1 for _, n in sides)  # seen without a pass over the data

    # cvModel.transform is its best model's, with the same lineage; metrics on both go to the best models.
    top = ran.sql("""SELECT operator_class, model_id, action_id FROM {db}.actions WHERE project = %(p)s
                     AND action = 'transform' AND parent_action_id = '' ORDER BY seq""")
    assert [t[:2] for t in top] == [("PipelineModel", best[cv_id]), ("PipelineModel", best[tvs_id])]
    for _, _, action_id in top:
        sources = {r[0] for r in ran.sql("SELECT src FROM {db}.lineage WHERE project = %(p)s AND kind = 'action' "
                                         "AND action_id = %(a)s AND dst = 'prediction'", a=action_id)}
        assert sources == {"age", "income", "country"}
    aucs = dict(ran.sql("SELECT model_id, value FROM {db}.metrics WHERE project = %(p)s AND name = 'areaUnderROC'"))
    assert aucs == {best[cv_id]: pytest.approx(facts["auc"]), best[tvs_id]: pytest.approx(facts["tvs_auc"])}
    rows = ran.sql("SELECT model_id, count() FROM {db}.predictions FINAL WHERE project = %(p)s GROUP BY model_id")
    assert dict(rows) == {best[cv_id]: facts["n_test"], best[tvs_id]: facts["n_test"]}
    assert run_ended(ran) == [("FINISHED", "")]


def test_featurizer_only_jobs_in_a_with_block(path, spark, tmp_path):
    ran, _, found, classes = ran_cleanly(path, "featurizers.py", tmp_path)
    facts = ran.facts
    assert {k: len(v) for k, v in classes.items()} == {"PipelineModel": 1, "IDFModel": 1, "StringIndexerModel": 1,
                                                       "OneHotEncoderModel": 1, "PCAModel": 1}
    assert all(m["uri"] for m in found.values())
    check_stored(ran, found)
    (text_id,), (idf_id,) = classes["PipelineModel"], classes["IDFModel"]
    assert found[idf_id]["parent"] == text_id
    assert [s[:3] for s in stages_of(ran, found[text_id]["action"])] == [
        (0, "Tokenizer", "transform"), (1, "HashingTF", "transform"), (2, "IDF", "fit")]
    sources = dict(ran.sql("SELECT n_rows, count() FROM {db}.dataframes WHERE project = %(p)s "
                           "AND source = 'input' GROUP BY n_rows"))
    assert sources == {3: 1, facts["n_people"]: 1}
    # Every slot of the assembled one-hot vector, not the first 20.
    (pca_id,) = classes["PCAModel"]
    slots = ran.sql("SELECT count() FROM {db}.lineage WHERE project = %(p)s AND kind = 'model' AND model_id = %(m)s "
                    "AND src = 'city'", m=pca_id)
    assert facts["cities"] > 21 and slots == [(facts["cities"] - 1,)]
    assert ran.sql("SELECT count() FROM {db}.metrics WHERE project = %(p)s") == [(0,)]
    check_clean_params(ran)
    assert run_ended(ran) == [("FINISHED", "")]


def test_a_script_that_fails_part_way(path, spark, tmp_path):
    ran = run_script(path, "fails_partway.py", tmp_path)
    error = "KeyError: \"column 'salary' is not in the data\""
    assert ran.returncode == 1 and error in ran.stderr
    assert ran.warnings() == []
    facts = ran.facts
    check_references(ran)
    assert run_ended(ran) == [("FAILED", error)]
    found = models(ran)
    classes = by_class(found)
    assert {k: len(v) for k, v in classes.items()} == {"PipelineModel": 1, "StringIndexerModel": 2,
                                                       "LogisticRegressionModel": 1}
    check_stored(ran, found)
    (first,) = classes["PipelineModel"]
    orphan = [m for m in classes["StringIndexerModel"] if not found[m]["uri"]]
    assert len(orphan) == 1 and found[orphan[0]]["parent"] == ""
    assert found[orphan[0]]["notes"] == [f"not stored: the Pipeline.fit it was part of failed ({error})"]
    same_predictions(first, spark.createDataFrame(customers_pdf(500, seed=4)), facts["predictions"])

    failed = ran.sql("SELECT action_id, model_id FROM {db}.actions WHERE project = %(p)s AND action = 'fit' "
                     "AND operator_class = 'Pipeline' AND parent_action_id = '' ORDER BY seq")
    assert [f[1] for f in failed] == [first, ""]
    notes = ran.sql("SELECT text FROM {db}.annotations WHERE project = %(p)s AND target_id = %(a)s", a=failed[1][0])
    assert notes == [(f"failed: {error}",)]
    assert [s[:3] for s in stages_of(ran, failed[1][0])] == [(0, "StringIndexer", "fit"),
                                                             (0, "StringIndexerModel", "transform")]
    # The pipeline ends in a SQLTransformer: its metric and prediction rows still find the model.
    assert ran.sql("SELECT name, model_id FROM {db}.metrics WHERE project = %(p)s AND name = 'f1'") == [("f1", first)]
    rows = ran.sql("SELECT model_id, count() FROM {db}.predictions FINAL WHERE project = %(p)s GROUP BY model_id")
    assert rows == [(first, facts["n_test"])]


@pytest.mark.parametrize("mode", ["bound", "killed"])
def test_spark_gone_before_the_tracker_is_done(path, spark, tmp_path, mode):
    ran = run_script(path, "spark_gone.py", tmp_path, mode)
    assert ran.returncode == 0, ran.stderr[-4000:]
    (warning,) = ran.warnings()  # one warning that says what was not stored
    assert "Spark could no longer run the tracker's work" in warning and "files of 1 model(s)" in warning
    assert "prediction rows of 1 evaluation(s)" in warning
    check_references(ran)
    found = models(ran)
    classes = by_class(found)
    assert {k: len(v) for k, v in classes.items()} == {"PipelineModel": 1, "StringIndexerModel": 1,
                                                       "LogisticRegressionModel": 1}
    assert not any(m["uri"] for m in found.values())
    check_stored(ran, found)  # every one says why it has no files
    (pipe_id,) = classes["PipelineModel"]
    assert found[pipe_id]["notes"][0].startswith("model files not written: ")
    assert [s[:3] for s in stages_of(ran, found[pipe_id]["action"])] == [
        (0, "StringIndexer", "fit"), (0, "StringIndexerModel", "transform"), (1, "VectorAssembler", "transform"),
        (2, "LogisticRegression", "fit")]
    metrics = ran.sql("SELECT name, value, model_id FROM {db}.metrics WHERE project = %(p)s AND name != 'objective'")
    assert metrics == [("areaUnderROC", pytest.approx(ran.facts["auc"]), pipe_id)]
    assert ran.sql("SELECT count() FROM {db}.actions WHERE project = %(p)s AND action = 'split'") == [(1,)]
    assert ran.sql("SELECT count() FROM {db}.predictions WHERE project = %(p)s") == [(0,)]
    assert run_ended(ran) == [("FINISHED", "")]
