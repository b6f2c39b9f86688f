"""Spark's random forest example, on churn data: the label indexed outside the pipeline, a pipeline
ending in IndexToString, an unseeded split, the metric on a select() of the predictions, spark.stop()."""
import modeldb.spark

modeldb.spark.autolog()

from pyspark.ml import Pipeline  # noqa: E402
from pyspark.ml.classification import RandomForestClassifier  # noqa: E402
from pyspark.ml.evaluation import MulticlassClassificationEvaluator  # noqa: E402
from pyspark.ml.feature import IndexToString, OneHotEncoder, StringIndexer, VectorAssembler  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from common import by_id, customers, facts  # noqa: E402

spark = (SparkSession.builder.master("local[2]").appName("random-forest").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4").getOrCreate())
data = customers(spark)

label_indexer = StringIndexer(inputCol="churn", outputCol="label").fit(data)
country_indexer = StringIndexer(inputCol="country", outputCol="country_idx")
encoder = OneHotEncoder(inputCols=["country_idx"], outputCols=["country_vec"])
assembler = VectorAssembler(inputCols=["age", "income", "country_vec"], outputCol="features")
rf = RandomForestClassifier(labelCol="label", featuresCol="features", numTrees=10, seed=3)
converter = IndexToString(inputCol="prediction", outputCol="predictedLabel", labels=label_indexer.labels)
pipeline = Pipeline(stages=[label_indexer, country_indexer, encoder, assembler, rf, converter])

(train, test) = data.randomSplit([0.7, 0.3])
model = pipeline.fit(train)
predictions = model.transform(test)
predictions.select("predictedLabel", "churn", "features").show(5)

evaluator = MulticlassClassificationEvaluator(labelCol="label", predictionCol="prediction", metricName="accuracy")
accuracy = evaluator.evaluate(predictions.select("prediction", "label"))
print("Test Error = %g" % (1.0 - accuracy))
renamed = predictions.withColumnRenamed("prediction", "pred").where("age > 30")
f1 = MulticlassClassificationEvaluator(labelCol="label", predictionCol="pred", metricName="f1").evaluate(renamed)
print(model.stages[4])

rows = predictions.select("id", "prediction", "age").collect()
facts(n_train=train.count(), n_test=len(rows), accuracy=accuracy, f1=f1, predictions=by_id(rows),
      over_60=sum(1 for r in rows if r["age"] > 60))
spark.stop()
