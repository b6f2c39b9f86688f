"""``modeldb.spark.autolog()``: the Spark ML tracker lives in ``modeldb.producers.spark``."""
from modeldb.producers.spark import Autolog, autolog, disable  # noqa: F401

__all__ = ["autolog", "disable", "Autolog"]
