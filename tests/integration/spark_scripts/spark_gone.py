"""Spark goes away before the tracker's work is done. ``bound``: a user who will not let spark.stop() wait
(``stop_timeout=0``) while a long job of theirs still runs. ``killed``: the driver's JVM is killed
(as a cluster manager does) and the script ends without stop()."""
import os
import signal
import sys
import threading

import modeldb.spark

mode = sys.argv[1]
modeldb.spark.autolog(stop_timeout=0) if mode == "bound" else modeldb.spark.autolog()

from pyspark.ml import Pipeline  # noqa: E402
from pyspark.ml.classification import LogisticRegression  # noqa: E402
from pyspark.ml.evaluation import BinaryClassificationEvaluator  # noqa: E402
from pyspark.ml.feature import StringIndexer, VectorAssembler  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from common import customers, facts  # noqa: E402

spark = (SparkSession.builder.master("local[2]").appName("spark-gone").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4").getOrCreate())
sc = spark.sparkContext


def long_job():  # a report of the user's that keeps one core busy while the model trains
    try:
        sc.parallelize([0], 1).map(lambda x: __import__("time").sleep(3600)).count()
    except Exception:  # cancelled by the stop, or the JVM is gone
        pass


threading.Thread(target=long_job, daemon=True).start()
while not sc.statusTracker().getActiveJobsIds():  # it has started: Spark is never idle from here on
    threading.Event().wait(0.05)

data = customers(spark, 400, seed=6)
train, test = data.randomSplit([0.7, 0.3], seed=2)
model = Pipeline(stages=[StringIndexer(inputCol="plan", outputCol="plan_idx"),
                         VectorAssembler(inputCols=["age", "income", "plan_idx"], outputCol="features"),
                         LogisticRegression(labelCol="churned", maxIter=10)]).fit(train)
auc = BinaryClassificationEvaluator(labelCol="churned").evaluate(model.transform(test))
facts(auc=auc)
if mode == "bound":
    spark.stop()
else:
    os.kill(sc._gateway.proc.pid, signal.SIGKILL)
    sc._gateway.proc.wait()
