"""Ordinary pyspark.ml scripts, written as people write them, run as subprocesses by ``test_spark_scripts``."""
