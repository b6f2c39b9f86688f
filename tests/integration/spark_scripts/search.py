"""Model selection the way the tuning guide shows it: a CrossValidator and a TrainValidationSplit over one
pipeline, an unseeded split, scored and evaluated, then spark.stop()."""
import modeldb.spark

modeldb.spark.autolog()

from pyspark.ml import Pipeline  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import BinaryClassificationEvaluator  # noqa: E402
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler  # noqa: E402
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from common import by_id, customers, facts  # noqa: E402

spark = (SparkSession.builder.master("local[2]").appName("search").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4").getOrCreate())
data = customers(spark, 600, seed=1).withColumnRenamed("churned", "label")
training, test = data.randomSplit([0.8, 0.2])

indexer = StringIndexer(inputCol="country", outputCol="country_idx")
encoder = OneHotEncoder(inputCol="country_idx", outputCol="country_vec")
assembler = VectorAssembler(inputCols=["age", "income", "country_vec"], outputCol="features")
lr = LogisticRegression(maxIter=10)
pipeline = Pipeline(stages=[indexer, encoder, assembler, lr])
paramGrid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01]).build()

crossval = CrossValidator(estimator=pipeline, estimatorParamMaps=paramGrid,
                          evaluator=BinaryClassificationEvaluator(), numFolds=3)
cvModel = crossval.fit(training)
prediction = cvModel.transform(test)
auc = BinaryClassificationEvaluator().evaluate(prediction)
print("areaUnderROC", auc)

tvs = TrainValidationSplit(estimator=pipeline, estimatorParamMaps=paramGrid,
                           evaluator=BinaryClassificationEvaluator(), trainRatio=0.75)
tvsModel = tvs.fit(training)
tvs_auc = BinaryClassificationEvaluator().evaluate(tvsModel.transform(test).select("rawPrediction", "label"))
print("TVS areaUnderROC", tvs_auc)

facts(n_test=test.count(), cv_metrics=cvModel.avgMetrics, tvs_metrics=tvsModel.validationMetrics, auc=auc,
      tvs_auc=tvs_auc, predictions=by_id(prediction.select("id", "prediction").collect()))
spark.stop()
