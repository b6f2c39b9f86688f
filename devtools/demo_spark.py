"""The demo's Spark ML part: the same churn data, modelled with pyspark.ml under ``modeldb.spark.autolog()``.

It runs when Java and pyspark are present: a Pipeline of StringIndexer →
OneHotEncoder → VectorAssembler → LogisticRegression tuned by a
CrossValidator, and a random forest, in a local[2] SparkSession.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Callable

from modeldb.devtools.demo_data import CATEGORICAL, NUMERIC, customers


def available() -> str | None:
    """Why the Spark part cannot run here, or None when it can."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java found (install a JRE 17 to include the Spark ML part)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    return None


QUIET_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def spark_session(app_name: str, master: str = "local[2]") -> Any:
    """A quiet local SparkSession whose Python workers run this interpreter (so they can import modeldb)."""
    import tempfile

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    log4j = os.path.join(tempfile.gettempdir(), "modeldb-spark-log4j2.properties")
    with open(log4j, "w") as handle:  # only errors: the demo's and the tests' output stay readable
        handle.write(QUIET_LOG4J)
    spark = (SparkSession.builder.master(master).appName(app_name)
             .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4").config("spark.driver.memory", "2g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stages(columns: list[str], classifier: Any) -> list[Any]:
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    return [
        StringIndexer(inputCols=CATEGORICAL, outputCols=[f"{c}_idx" for c in CATEGORICAL], handleInvalid="keep"),
        OneHotEncoder(inputCols=[f"{c}_idx" for c in CATEGORICAL], outputCols=[f"{c}_vec" for c in CATEGORICAL]),
        VectorAssembler(inputCols=[c for c in NUMERIC if c in columns] + [f"{c}_vec" for c in CATEGORICAL],
                        outputCol="features"),
        classifier,
    ]


def train(run: Callable[..., Any], status: Callable[[str], None]) -> None:
    """Track the Spark ML runs of the project; ``run(name, experiment)`` opens a named run."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    import modeldb.spark

    status("starting Spark (local[2])")
    spark = spark_session("modeldb-demo")
    modeldb.spark.autolog()  # the one line for Spark ML
    try:
        X, y = customers()
        data = spark.createDataFrame(X.assign(churned=y.astype(float))).cache()  # read many times by the search
        columns = list(X.columns)

        def evaluate(scored: Any) -> None:
            for metric in ("accuracy", "f1"):
                MulticlassClassificationEvaluator(labelCol="churned", metricName=metric).evaluate(scored)
            BinaryClassificationEvaluator(labelCol="churned").evaluate(scored)

        with run("spark-logreg-cv", "spark"):
            train_df, test_df = data.randomSplit([0.75, 0.25], seed=7)
            lr = LogisticRegression(labelCol="churned", maxIter=20)
            grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.05]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build()
            cv = CrossValidator(estimator=Pipeline(stages=stages(columns, lr)), estimatorParamMaps=grid,
                                evaluator=BinaryClassificationEvaluator(labelCol="churned"), numFolds=3,
                                parallelism=2, seed=1)
            evaluate(cv.fit(train_df).transform(test_df))
        with run("spark-forest", "spark"):
            train_df, test_df = data.randomSplit([0.75, 0.25], seed=7)
            forest = RandomForestClassifier(labelCol="churned", numTrees=40, maxDepth=6, seed=0)
            evaluate(Pipeline(stages=stages(columns, forest)).fit(train_df).transform(test_df))
    finally:
        modeldb.spark.disable()
        spark.stop()
