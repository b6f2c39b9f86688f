"""Real pyspark.ml work in a local[2] SparkSession, tracked by autolog, through to the warehouse on both paths.

file event log → chDB, and Kafka → Faust worker → ClickHouse server. One
SparkSession serves the whole module (start-up takes about ten seconds).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import modeldb
import modeldb.spark
from modeldb.warehouse import queries
from tests.integration.conftest import TRACKED_PATHS, autologged, cli_env, project_sql, unique

pyspark = pytest.importorskip("pyspark")
from pyspark.ml import Pipeline, PipelineModel  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import (BinaryClassificationEvaluator, MulticlassClassificationEvaluator,  # noqa: E402
                                   RegressionEvaluator)
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler  # noqa: E402
from pyspark.ml.regression import LinearRegression  # noqa: E402
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit  # noqa: E402

PATHS = TRACKED_PATHS


@pytest.fixture(scope="module")
def spark():
    from modeldb.devtools.demo_spark import spark_session

    session = spark_session("modeldb-tests")
    yield session
    session.stop()


@pytest.fixture(params=list(PATHS))
def sp(request, spark):
    """A pipeline with a fresh project and Spark autolog on."""
    yield from autologged(request, "spark", modeldb.spark, experiment="spark-tests")


def finish(pipeline) -> None:
    modeldb.spark.disable()  # waits for the statistics and prediction jobs, then ends the run
    pipeline.settle()


sql = project_sql


def customers(spark, n: int = 1500, seed: int = 0):
    rng = np.random.default_rng(seed)
    pdf = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50, 12, n).round(2),
        "country": rng.choice(["US", "DE", "FR", "JP"], n, p=[0.4, 0.2, 0.2, 0.2]),
        "plan": rng.choice(["basic", "pro"], n),
    })
    signal = pdf.age / 10 + (pdf.country == "US") * 2 + (pdf.plan == "pro") - pdf.income / 25
    pdf["churned"] = (signal + rng.normal(0, 1, n) > 4).astype(float)
    return spark.createDataFrame(pdf)


def churn_pipeline(reg: float = 0.0) -> Pipeline:
    return Pipeline(stages=[
        StringIndexer(inputCols=["country", "plan"], outputCols=["country_idx", "plan_idx"]),
        OneHotEncoder(inputCols=["country_idx", "plan_idx"], outputCols=["country_vec", "plan_vec"]),
        VectorAssembler(inputCols=["age", "income", "country_vec", "plan_vec"], outputCol="features"),
        LogisticRegression(labelCol="churned", regParam=reg, maxIter=50),
    ])


def test_pipeline_stages_lineage_slices_and_the_model_back(sp, spark):
    df = customers(spark)
    train, test = df.randomSplit([0.75, 0.25], seed=42)
    model = churn_pipeline().fit(train)
    scored = model.transform(test)
    accuracy = MulticlassClassificationEvaluator(labelCol="churned", metricName="accuracy").evaluate(scored)
    finish(sp)

    split = sql(sp, "SELECT param_keys, param_values, length(output_dataframe_ids) FROM {db}.actions "
                    "WHERE project = %(p)s AND action = 'split'")
    assert split == [(["weights", "seed"], ["[0.75, 0.25]", "42"], 2)]
    pipe_id, pipe_features = sql(sp, "SELECT model_id, feature_names FROM {db}.models WHERE project = %(p)s "
                                     "AND operator_class = 'PipelineModel'")[0]
    assert pipe_features == ["age", "income", "country", "plan"]
    fit = sql(sp, "SELECT action_id FROM {db}.actions WHERE project = %(p)s AND model_id = %(m)s AND action = 'fit'",
              m=pipe_id)[0][0]
    stages = sql(sp, """SELECT stage_index, operator_class, action, input_columns, output_columns FROM {db}.actions
                        WHERE project = %(p)s AND parent_action_id = %(a)s ORDER BY seq""", a=fit)
    assert [(s[0], s[1], s[2]) for s in stages] == [
        (0, "StringIndexer", "fit"), (0, "StringIndexerModel", "transform"), (1, "OneHotEncoder", "fit"),
        (1, "OneHotEncoderModel", "transform"), (2, "VectorAssembler", "transform"), (3, "LogisticRegression", "fit")]
    assert stages[1][3:] == (["country", "plan"], ["country_idx", "plan_idx"])
    assert stages[4][3:] == (["age", "income", "country_vec", "plan_vec"], ["features"])
    assert stages[5][3] == ["features", "churned"]
    keys = sql(sp, "SELECT param_keys, param_types, param_values FROM {db}.actions WHERE action_id = %(a)s", a=fit)[0]
    by_key = dict(zip(keys[0], zip(keys[1], keys[2])))
    assert by_key["LogisticRegression__regParam"] == ("float", "0.0")
    assert by_key["LogisticRegression__maxIter"] == ("int", "50")
    assert by_key["VectorAssembler__outputCol"] == ("str", "features")

    lr_id, lr_features = sql(sp, "SELECT model_id, feature_names FROM {db}.models WHERE project = %(p)s "
                                 "AND operator_class = 'LogisticRegressionModel'")[0]
    assert lr_features[:2] == ["age", "income"] and "country_vec_US" in lr_features and len(lr_features) == 6
    internals = sql(sp, "SELECT name, labels FROM {db}.model_internals WHERE project = %(p)s AND model_id = %(m)s",
                    m=lr_id)
    assert dict(internals)["coef_"] == lr_features
    history = sql(sp, "SELECT count(), min(step), max(step) FROM {db}.metrics WHERE project = %(p)s "
                      "AND name = 'objective' AND model_id = %(m)s", m=lr_id)[0]
    assert history[0] > 2 and history[1] == 0

    # Which models used column X: through StringIndexer → OneHotEncoder → VectorAssembler.
    users = queries.MODELS_USING_COLUMN.frame(sp.warehouse, project=sp.project, column="country")
    by_class = {row.operator_class: row for row in users.itertuples()}
    assert {"PipelineModel", "LogisticRegressionModel", "StringIndexerModel"} <= set(by_class)
    assert "country > country_idx > country_vec > country_vec_US" in by_class["LogisticRegressionModel"].paths
    assert "income" not in {row.operator_class for row in
                            queries.MODELS_USING_COLUMN.frame(sp.warehouse, project=sp.project,
                                                              column="churned").itertuples()}

    # Data: counts, statistics on the source, the same sampled rows followed through every stage.
    frames = {r[0]: r[1:] for r in sql(sp, """SELECT source, n_rows, fingerprint_method, sample_keys, column_names
                                              FROM {db}.dataframes WHERE project = %(p)s""")}
    n_train, n_test = train.count(), test.count()
    assert frames["randomSplit input"][:2] == (1500, "content")
    assert frames["randomSplit 0"][0] == n_train and frames["randomSplit 1"][0] == n_test
    test_keys = set(frames["randomSplit 1"][2])
    assert len(test_keys) == 5 and set(frames["PipelineModel.transform"][2] if "PipelineModel.transform" in frames
                                       else frames["LogisticRegressionModel.transform"][2]) == test_keys
    stats = dict(sql(sp, "SELECT name, distinct_approx FROM {db}.dataframe_columns WHERE project = %(p)s "
                         "AND dataframe_id IN (SELECT dataframe_id FROM {db}.dataframes WHERE project = %(p)s "
                         "AND source = 'randomSplit input')"))
    assert stats["country"] == 4 and stats["plan"] == 2

    # The best model overall and on a slice, from prediction rows logged once.
    best = queries.best_models(sp.warehouse, sp.project, "accuracy")
    assert best.model_id.tolist() == [pipe_id] and best.value[0] == pytest.approx(accuracy)
    us = queries.best_on_slice(sp.warehouse, sp.project, "country = 'US'")
    us_scored = scored.where("country = 'US'")
    us_accuracy = us_scored.where("prediction = churned").count() / us_scored.count()
    assert us.model_id.tolist() == [pipe_id] and us.rows[0] == us_scored.count()
    assert us.accuracy[0] == pytest.approx(us_accuracy)

    loaded = modeldb.load_model(pipe_id)
    assert isinstance(loaded, PipelineModel)
    again = loaded.transform(test).select("prediction").collect()
    assert again == scored.select("prediction").collect()
    assert type(modeldb.load_model(lr_id)).__name__ == "LogisticRegressionModel"


def test_cross_validator_candidates_folds_best_model_and_comparison(sp, spark):
    train, test = customers(spark, 1200, seed=1).randomSplit([0.8, 0.2], seed=3)
    lr = LogisticRegression(labelCol="churned", maxIter=30)
    pipe = Pipeline(stages=churn_pipeline().getStages()[:3] + [lr])
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.3]).addGrid(lr.elasticNetParam, [0.0, 1.0]).build()
    evaluator = BinaryClassificationEvaluator(labelCol="churned")
    cv = CrossValidator(estimator=pipe, estimatorParamMaps=grid, evaluator=evaluator, numFolds=3, parallelism=2,
                        seed=7)
    cv_model = cv.fit(train)
    baseline = churn_pipeline(reg=1.0).fit(train)
    auc_best = evaluator.evaluate(cv_model.transform(test))
    auc_base = evaluator.evaluate(baseline.transform(test))
    finish(sp)

    rows = sql(sp, """SELECT candidate, param_keys, param_values, mean_score, rank, length(fold_scores), is_best,
                             best_model_id FROM {db}.search_candidates WHERE project = %(p)s ORDER BY candidate""")
    assert len(rows) == 4
    assert rows[0][1] == ["LogisticRegression__elasticNetParam", "LogisticRegression__regParam"]
    assert [r[3] for r in rows] == pytest.approx(cv_model.avgMetrics)
    assert all(r[5] == 3 for r in rows)  # every fold's score
    best_index = int(np.argmax(cv_model.avgMetrics))
    assert [r[6] for r in rows] == [int(i == best_index) for i in range(4)] and rows[best_index][4] == 1
    best_id = rows[0][7]
    best = sql(sp, "SELECT operator_class, parent_model_id, feature_names FROM {db}.models WHERE model_id = %(m)s",
               m=best_id)[0]
    cv_id = sql(sp, "SELECT model_id FROM {db}.models WHERE project = %(p)s "
                    "AND operator_class = 'CrossValidatorModel'")[0][0]
    assert best[:2] == ("PipelineModel", cv_id) and best[2] == ["age", "income", "country", "plan"]
    # Only the refit of the best model is tracked as a model: the candidates' fits are its scores.
    assert sql(sp, "SELECT count() FROM {db}.models WHERE project = %(p)s "
                   "AND operator_class = 'LogisticRegressionModel'")[0][0] == 2

    top = queries.best_models(sp.warehouse, sp.project, "areaUnderROC")
    assert top.value.tolist() == pytest.approx(sorted([auc_best, auc_base], reverse=True))
    a, b = top.model_id.tolist()[:2]
    compared = queries.compare_models(sp.warehouse, sp.project, a, b)
    assert set(compared) == {"model", "params", "stages", "features", "metrics", "data"}
    differs = compared["params"].set_index("item").differs
    assert differs["LogisticRegression__regParam"] and not differs["VectorAssembler__outputCol"]
    assert type(modeldb.load_model(best_id)).__name__ == "PipelineModel"
    assert type(modeldb.load_model(cv_id)).__name__ == "CrossValidatorModel"


def test_regression_with_an_evaluator(sp, spark):
    rng = np.random.default_rng(5)
    pdf = pd.DataFrame({"rooms": rng.integers(1, 8, 600).astype(float), "area": rng.normal(80, 20, 600)})
    pdf["price"] = 30 * pdf.rooms + 2 * pdf.area + rng.normal(0, 5, 600)
    df = spark.createDataFrame(pdf)
    features = VectorAssembler(inputCols=["rooms", "area"], outputCol="features").transform(df)
    VectorAssembler(inputCols=["rooms", "area"], outputCol="features").transform(df).count()  # the same work again
    model = LinearRegression(labelCol="price", maxIter=20, solver="l-bfgs").fit(features)
    rmse = RegressionEvaluator(labelCol="price", metricName="rmse").evaluate(model.transform(features))
    ridge = LinearRegression(labelCol="price", maxIter=20, solver="l-bfgs")
    tvs = TrainValidationSplit(estimator=ridge, evaluator=RegressionEvaluator(labelCol="price"), trainRatio=0.7,
                               estimatorParamMaps=ParamGridBuilder().addGrid(ridge.regParam, [0.0, 10.0]).build(),
                               seed=2).fit(dataset=features)  # the dataset as a keyword works too
    finish(sp)

    model_id, names = sql(sp, "SELECT model_id, feature_names FROM {db}.models WHERE project = %(p)s "
                              "AND operator_class = 'LinearRegressionModel' AND parent_model_id = ''")[0]
    assert names == ["rooms", "area"]
    coef = dict((r[0], r[1]) for r in sql(sp, "SELECT name, values FROM {db}.model_internals "
                                              "WHERE model_id = %(m)s", m=model_id))
    assert coef["coef_"] == pytest.approx(list(model.coefficients), rel=1e-6)
    assert coef["intercept_"] == pytest.approx([model.intercept], rel=1e-6)
    best = queries.best_models(sp.warehouse, sp.project, "rmse")
    assert best.model_id.tolist() == [model_id] and best.value[0] == pytest.approx(rmse)
    lineage = sql(sp, "SELECT src, dst FROM {db}.lineage WHERE project = %(p)s AND kind = 'model' "
                      "AND model_id = %(m)s ORDER BY dst", m=model_id)
    assert lineage == [("area", "area"), ("rooms", "rooms")]
    assembled = sql(sp, "SELECT fingerprint_method, uniqExact(fingerprint), count() FROM {db}.dataframes "
                        "WHERE project = %(p)s AND source = 'VectorAssembler.transform' GROUP BY fingerprint_method")
    assert assembled == [("derived", 1, 2)]  # same input, same stage, same params: the same fingerprint
    candidates = sql(sp, "SELECT operator_class, param_values, mean_score, length(fold_scores), is_best "
                         "FROM {db}.search_candidates WHERE project = %(p)s ORDER BY candidate")
    assert [(c[0], c[1], c[3]) for c in candidates] == [("TrainValidationSplit", ["0.0"], 1),
                                                       ("TrainValidationSplit", ["10.0"], 1)]
    assert [c[2] for c in candidates] == pytest.approx(tvs.validationMetrics)
    assert [c[4] for c in candidates] == [int(i == int(np.argmin(tvs.validationMetrics))) for i in range(2)]


def test_executors_send_prediction_rows_to_kafka(kafka_pipeline, spark):
    """Prediction rows come from the executors' Python workers, not the driver, and all arrive once."""
    pipeline = kafka_pipeline
    pipeline.project = unique("spark_exec")
    pipeline.init(pipeline.project)
    handle = modeldb.spark.autolog(slice_columns=["country", "plan"])
    tracker = handle.tracker
    df = customers(spark, 4000, seed=9).repartition(4)
    train, test = df.randomSplit([0.5, 0.5], seed=11)
    scored = churn_pipeline().fit(train).transform(test)
    MulticlassClassificationEvaluator(labelCol="churned", metricName="f1").evaluate(scored)
    tracker.drain(120)
    sent = tracker.executor_rows_sent
    finish(pipeline)

    n_test = test.count()
    assert sent == n_test  # the accumulator the executors' tasks added to
    rows = sql(pipeline, "SELECT count(), uniqExact(key), countIf(slice_values[indexOf(slice_keys, 'plan')] = 'pro') "
                         "FROM {db}.predictions FINAL WHERE project = %(p)s")[0]
    assert rows[0] == rows[1] == n_test
    assert rows[2] == test.where("plan = 'pro'").count()
    producers = sql(pipeline, "SELECT DISTINCT producer_pid, producer_framework FROM {db}.events_raw "
                              "WHERE project = %(p)s AND event_type = 'PredictionsLogged'")
    assert producers and all(pid != os.getpid() for pid, _ in producers)  # written by executor processes
    assert {fw for _, fw in producers} == {"pyspark"}


APP = textwrap.dedent("""
    import sys
    import modeldb, modeldb.spark
    from modeldb.devtools.demo_spark import spark_session
    from tests.integration.test_spark import customers, churn_pipeline
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    spark = spark_session(sys.argv[1], master="local[1]")
    modeldb.spark.autolog()
    train, test = customers(spark, 600, seed=int(sys.argv[2])).randomSplit([0.7, 0.3], seed=1)
    for reg in (0.0, 0.1, 1.0):
        scored = churn_pipeline(reg).fit(train).transform(test)
        MulticlassClassificationEvaluator(labelCol="churned", metricName="accuracy").evaluate(scored)
    print("APP", spark.sparkContext.applicationId)
    modeldb.spark.disable()
    spark.stop()
""")


def test_two_spark_applications_at_once_into_one_project(kafka_pipeline, tmp_path):
    """Two drivers log to one project at the same time; each gets its own complete run."""
    pipeline = kafka_pipeline
    project = unique("spark_apps")
    env = cli_env(MODELDB_TRANSPORT=pipeline.settings.transport, MODELDB_PROJECT=project,
                  MODELDB_HOME=str(tmp_path), PYTHONPATH=os.getcwd(), PYSPARK_PYTHON=sys.executable)
    procs = [subprocess.Popen([sys.executable, "-c", APP, f"app{i}", str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=os.getcwd()) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    app_ids = {line.split()[1] for out, _ in outs for line in out.splitlines() if line.startswith("APP")}
    assert len(app_ids) == 2
    pipeline.project = project
    pipeline.settle()

    apps = dict(sql(pipeline, "SELECT run_id, value FROM {db}.tags FINAL WHERE project = %(p)s "
                              "AND key = 'spark.app.id'"))
    assert set(apps.values()) == app_ids and len(apps) == 2
    ended = sql(pipeline, "SELECT run_id, status FROM {db}.runs FINAL WHERE project = %(p)s "
                          "AND event_type = 'RunEnded'")
    assert sorted(ended) == sorted((run_id, "FINISHED") for run_id in apps)
    per_run = sql(pipeline, """SELECT run_id, countIf(action = 'fit' AND operator_class = 'Pipeline'),
                                      count(), uniqExact(seq), max(seq) FROM {db}.actions WHERE project = %(p)s
                               GROUP BY run_id""")
    assert len(per_run) == 2
    assert all(r[1] == 3 for r in per_run)
    assert per_run[0][2] == per_run[1][2]  # the same work, the same actions: nothing mixed
    pids = sql(pipeline, "SELECT run_id, uniqExact(producer_host, producer_pid) FROM {db}.events_raw "
                         "WHERE project = %(p)s AND event_type != 'PredictionsLogged' GROUP BY run_id")
    assert sorted(n for _, n in pids) == [1, 1]  # each run's driver events came from one process
    models = sql(pipeline, "SELECT run_id, count() FROM {db}.models WHERE project = %(p)s "
                           "AND operator_class = 'PipelineModel' GROUP BY run_id")
    assert sorted(n for _, n in models) == [3, 3]
    slices = sql(pipeline, "SELECT run_id, uniqExact(model_id) FROM {db}.predictions WHERE project = %(p)s "
                           "GROUP BY run_id")
    assert sorted(n for _, n in slices) == [3, 3]
