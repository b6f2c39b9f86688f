"""A script that fails part-way: one pipeline is fitted and evaluated, the next one has a user's
transformer that raises in the middle of its fit, and the script ends with that exception."""
import modeldb.spark

modeldb.spark.autolog()

from pyspark.ml import Pipeline, Transformer  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import MulticlassClassificationEvaluator  # noqa: E402
from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from common import by_id, customers, facts  # noqa: E402


class IncomeRatio(Transformer):
    """income / salary, for the second model."""

    def _transform(self, dataset):
        if "salary" not in dataset.columns:
            raise KeyError("column 'salary' is not in the data")
        return dataset.withColumn("ratio", dataset.income / dataset.salary)


spark = (SparkSession.builder.master("local[2]").appName("fails-partway").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4").getOrCreate())
data = customers(spark, 500, seed=4)
train, test = data.randomSplit([0.75, 0.25], seed=5)

first = Pipeline(stages=[StringIndexer(inputCol="plan", outputCol="plan_idx"),
                         VectorAssembler(inputCols=["age", "income", "plan_idx"], outputCol="features"),
                         LogisticRegression(labelCol="churned", maxIter=20),
                         SQLTransformer(statement="SELECT *, prediction > 0.5 AS leaving FROM __THIS__")]).fit(train)
scored = first.transform(test)
f1 = MulticlassClassificationEvaluator(labelCol="churned", metricName="f1").evaluate(scored)
facts(n_test=test.count(), f1=f1, predictions=by_id(scored.select("id", "prediction").collect()))

second = Pipeline(stages=[StringIndexer(inputCol="country", outputCol="country_idx"), IncomeRatio(),
                          VectorAssembler(inputCols=["ratio", "country_idx"], outputCol="features"),
                          LogisticRegression(labelCol="churned")]).fit(train)
print("never reached", second)
