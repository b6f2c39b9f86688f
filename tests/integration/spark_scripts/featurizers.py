"""Featurizer-only jobs, no model trained: tokenizer and TF-IDF over text, one-hot over many values, PCA.
The session is used as a context manager, which stops it on leaving."""
import modeldb.spark

modeldb.spark.autolog()

from pyspark.ml import Pipeline  # noqa: E402
from pyspark.ml.feature import (IDF, PCA, HashingTF, OneHotEncoder, StringIndexer, Tokenizer,  # noqa: E402
                                VectorAssembler)
from pyspark.sql import SparkSession  # noqa: E402

from common import customers, facts  # noqa: E402

with SparkSession.builder.master("local[2]").appName("featurizers").config("spark.ui.enabled", "false") \
        .config("spark.sql.shuffle.partitions", "4").getOrCreate() as spark:
    docs = spark.createDataFrame([(0, "Hi I heard about Spark"), (1, "I wish Java could use case classes"),
                                  (2, "Logistic regression models are neat")], ["id", "sentence"])
    text = Pipeline(stages=[Tokenizer(inputCol="sentence", outputCol="words"),
                            HashingTF(inputCol="words", outputCol="rawFeatures", numFeatures=32),
                            IDF(inputCol="rawFeatures", outputCol="features")]).fit(docs)
    text.transform(docs).select("id", "features").show()

    people = customers(spark, 400, seed=2)
    indexed = StringIndexer(inputCol="city", outputCol="city_idx").fit(people).transform(people)
    encoded = OneHotEncoder(inputCol="city_idx", outputCol="city_vec").fit(indexed).transform(indexed)
    assembled = VectorAssembler(inputCols=["age", "income", "city_vec"], outputCol="features").transform(encoded)
    pca = PCA(k=3, inputCol="features", outputCol="pca").fit(assembled)
    pca.transform(assembled).select("pca").show(3, truncate=False)
    facts(cities=people.select("city").distinct().count(), n_people=people.count())
