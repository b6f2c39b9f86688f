"""Log the prediction rows behind an evaluator's score: on the executors (Kafka) or through the driver (file log).

Each row keeps the values of the slice columns: ``slice_columns`` as configured, else the source's
string columns with at most 50 distinct values, then its numeric columns (so that ``country = 'US'``
and ``age > 60`` both find their rows), at most ``MAX_SLICE_COLUMNS`` in all, as text. The rows
themselves stay bounded as before: ``max_prediction_rows`` per model and frame through the driver.
"""
from __future__ import annotations

from typing import Any

from modeldb.producers import tracking
from modeldb.producers.spark import frames, predictions, stages

MAX_SLICE_COLUMNS = 20


def slice_columns(tracker: Any, df: Any, info: Any, skip: tuple = ()) -> list[str]:
    """``slice_columns`` as configured, else the source's string columns with at most 50 values, then its
    numeric columns (not the label or prediction: each row has those already)."""
    wanted = tracker.options.slice_columns
    if wanted is not None:
        names = list(wanted)
    else:
        names = list(info.root.categorical or info.categorical)
        names += [n for n in info.root.numeric or info.numeric if n not in names and n not in skip]
    present = set(df.columns)
    return [n for n in names if n in present][:MAX_SLICE_COLUMNS]


def log_predictions(tracker: Any, run: Any, evaluator: Any, df: Any, output: Any, spark: Any) -> None:
    info = output.info
    prediction_col = stages.prediction_col(evaluator, df.columns) or output.prediction_col
    if prediction_col not in df.columns or not frames.has_key(info.root, info.columns):
        return
    label_col = stages.get(evaluator, "labelCol")
    label_col = label_col if isinstance(label_col, str) and label_col in df.columns else None
    key = frames.key_expr(info.root)
    settings = tracking.settings()
    limit = tracker.options.max_prediction_rows
    if limit == 0:
        return
    seq = next(run._seq)  # one position in the run for every prediction event, reserved now
    head = {"run_id": run.run_id, "project": run.project, "experiment": run.experiment, "seq": seq,
            "framework": ("pyspark", spark.version)}

    def job() -> None:
        # Known once the source's statistics ran (earlier in the queue).
        slices = slice_columns(tracker, df, info, skip=(prediction_col, label_col))
        rows = df.select(*predictions.row_columns(key, prediction_col, label_col, slices))
        if settings.transport_uri.scheme == "kafka" and tracker.options.executor_predictions:
            sent = spark.sparkContext.accumulator(0)
            stages.describe(df, "modeldb: prediction rows, sent by the executors")
            try:
                rows.foreachPartition(predictions.executor_writer(
                    settings, head, output.model_id, info.dataframe_id, slices, sent, settings.delivery_timeout_s))
                tracker.executor_rows_sent += sent.value
                return
            except Exception as exc:  # noqa: BLE001 - executors cannot reach Kafka: go through the driver
                tracker.warn("sending prediction rows from the executors", exc)
        stages.describe(df, "modeldb: prediction rows, through the driver")
        table = rows.limit(limit).toArrow()  # at most max_prediction_rows rows, in Arrow batches
        built = predictions.build_rows(predictions.arrow_rows(table), slices)
        for chunk in predictions.chunks(built, predictions.rows_per_event(len(slices))):
            run.emit_action("PredictionsLogged", {"model_id": output.model_id, "dataframe_id": info.dataframe_id,
                                                  "rows": chunk})

    def lost(reason: str) -> None:
        tracker.losses.add("predictions", f"{stages.metric_name(evaluator)} of model {output.model_id}", reason)

    tracker.submit(job, "logging prediction rows", lost=lost, spark=spark)

