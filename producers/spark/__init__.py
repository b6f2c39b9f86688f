"""Track unchanged pyspark.ml code: ``modeldb.spark.autolog()``.

Every ``fit`` (every estimator, including each ``pyspark.ml.feature``
featurizer), ``transform``, ``Evaluator.evaluate`` and ``DataFrame.randomSplit``
becomes an action of the run; a Pipeline's stages are its stages, and a
CrossValidator or TrainValidationSplit records every param map with its fold
scores. One run per Spark application starts by itself (tagged with
``spark.app.id``) when none is active and ends when the driver exits.

    import modeldb.spark
    modeldb.spark.autolog(experiment="baseline")       # or: with modeldb.spark.autolog(): ...
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.core.exceptions import TrackingError
from modeldb.producers.autolog import lifecycle as autolog_base
from modeldb.producers.spark import tracker as T
from modeldb.producers.spark.calls import Options


__all__ = ["autolog", "disable", "Autolog"]

class Autolog(autolog_base.Autolog):
    """Returned by ``autolog()``; as a context manager it disables tracking on exit."""

    @property
    def tracker(self) -> T.Tracker | None:
        return T.current()


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TrackingError(f"{name} must be True or False, got {value!r}")
    return value


def _check_count(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TrackingError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def autolog(*, experiment: str | None = None, log_models: bool = True, count_rows: bool = True,
            column_stats: bool = True, sample_rows: int = 5, key_column: str | None = None,
            slice_columns: Iterable[str] | None = None, max_prediction_rows: int = 100_000,
            log_predictions: bool = True, executor_predictions: bool = True,
            run_name: str | None = None, stop_timeout: float = 120.0) -> Autolog:
    """Start tracking pyspark.ml. Calling it again replaces the options.

    experiment: group the automatic run under this experiment (default ``MODELDB_EXPERIMENT``).
    log_models: save every fitted model with Spark ML's writer under ``MODELDB_ARTIFACTS``
        (a path, or any Hadoop URI the cluster writes: hdfs://, s3a://…).
    count_rows: count the rows of each source DataFrame (one Spark job; the paper's ``shouldCountRows``).
    column_stats: per-column count, nulls, min, max, mean, std and approximate distinct values,
        computed in the same job as the count.
    sample_rows: rows kept for drill-down, followed by key through every stage (0: none).
    key_column: a column that identifies rows (default: a hash of the source's columns).
    slice_columns: columns whose values are kept with each prediction row; by default the
        source's string columns with at most 50 distinct values.
    max_prediction_rows: prediction rows logged through the driver per model and evaluation
        frame (the file log); 0 logs none. On Kafka the executors send every row.
    log_predictions: log the prediction rows behind each evaluator's score, once per model and data.
    executor_predictions: on Kafka, let the executors send the prediction rows themselves.
    run_name: name of the automatic run (default ``<script>-<first stage>-<application id>``).
    stop_timeout: how many seconds ``spark.stop()`` (and leaving ``with SparkSession…``, and the
        interpreter's exit) may wait for the tracker's pending Spark work before it goes on; what is
        still pending then is recorded without Spark, and one warning says what was not stored.
    """
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
        raise TrackingError(f"experiment must be a non-empty string, got {experiment!r}")
    if isinstance(slice_columns, str):
        raise TrackingError("slice_columns takes a list of column names, not one string")
    if key_column is not None and (not isinstance(key_column, str) or not key_column):
        raise TrackingError(f"key_column must be a column name, got {key_column!r}")
    if run_name is not None and (not isinstance(run_name, str) or not run_name.strip()):
        raise TrackingError(f"run_name must be a non-empty string, got {run_name!r}")
    if isinstance(stop_timeout, bool) or not isinstance(stop_timeout, (int, float)) \
            or not 0 <= stop_timeout < 1e7:
        raise TrackingError(f"stop_timeout must be a non-negative number of seconds, got {stop_timeout!r}")
    options = Options(
        experiment=experiment, log_models=_check_bool("log_models", log_models),
        count_rows=_check_bool("count_rows", count_rows), column_stats=_check_bool("column_stats", column_stats),
        sample_rows=_check_count("sample_rows", sample_rows), key_column=key_column,
        slice_columns=tuple(str(c) for c in slice_columns) if slice_columns is not None else None,
        max_prediction_rows=_check_count("max_prediction_rows", max_prediction_rows),
        log_predictions=_check_bool("log_predictions", log_predictions),
        executor_predictions=_check_bool("executor_predictions", executor_predictions), run_name=run_name,
        stop_timeout=float(stop_timeout))
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise TrackingError("modeldb.spark.autolog() needs pyspark: pip install pyspark") from None
    from modeldb.producers.spark.patching import Patches

    def patch(patches: Any) -> Any:
        if patches is None:
            patches = Patches()
            patches.apply(T.current)
        return patches

    T.SWITCH.turn_on(options, T.Tracker, patch)
    return Autolog(options, T.SWITCH)


def disable(status: str = "FINISHED") -> None:
    """Stop tracking, put pyspark back as it was, and end the automatic run (after its Spark jobs)."""
    T.SWITCH.turn_off(status)
