"""Prediction rows for slices, written where the data is.

When an evaluator scores a tracked model's output, the rows behind the score
(key, prediction, label and the slice columns' values) are logged once per
model and evaluation frame, so "the best model on American customers" is one
query.

* On Kafka, the executors send them: ``foreachPartition`` builds
  ``PredictionsLogged`` events in each task and produces them with one
  librdkafka producer per task, created lazily. The driver collects nothing.
  Event ids are derived from (run, model, data, partition, chunk), so a task
  Spark retries writes the same events again and the warehouse keeps one
  copy. A task whose events cannot be delivered fails, and Spark retries it.
  The rows sent are counted in an accumulator.
* On the file log (the embedded default) and wherever executors cannot reach
  Kafka, they go through the driver, up to ``max_prediction_rows``.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Callable, Iterable

ROWS_PER_EVENT = 1000  # ~100-200 bytes a row: events of ~100-250 KiB, well under Kafka's 1 MB default
EVENT_BUDGET = 400_000  # bytes of rows per event, whatever the number of slice columns


def rows_per_event(n_slices: int) -> int:
    """Rows per event: 1000, fewer when many slice columns make each row wider (about 30 bytes each)."""
    return max(50, min(ROWS_PER_EVENT, EVENT_BUDGET // (120 + 30 * n_slices)))


def row_columns(key: Any, prediction_col: str, label_col: str | None, slice_cols: list[str]) -> list[Any]:
    from pyspark.sql import functions as F

    cols = [key.alias("k"), F.col(f"`{prediction_col}`").alias("p")]
    cols.append(F.col(f"`{label_col}`").alias("y") if label_col else F.lit(None).alias("y"))
    cols += [F.col(f"`{c}`").cast("string").alias(f"s{i}") for i, c in enumerate(slice_cols)]
    return cols


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    return None


def build_rows(rows: Iterable[Any], slice_cols: list[str]) -> Iterable[dict[str, Any]]:
    for r in rows:
        p, y = r["p"], r["y"]
        yield {"key": str(r["k"]), "prediction": str(p), "prediction_num": _num(p),
               "label": None if y is None else str(y), "label_num": _num(y),
               "slice_values": {c: ("" if r[f"s{i}"] is None else r[f"s{i}"]) for i, c in enumerate(slice_cols)}}


def arrow_rows(table: Any) -> Iterable[dict[str, Any]]:
    """The rows of an Arrow table as dicts (what ``build_rows`` reads), column by column."""
    columns = table.to_pydict()
    names = list(columns)
    return (dict(zip(names, values)) for values in zip(*(columns[n] for n in names)))


def chunks(rows: Iterable[dict[str, Any]], size: int = ROWS_PER_EVENT) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def event_id(*parts: Any) -> str:
    """A deterministic 32-hex id, so a retried task's events replace the first attempt's."""
    return hashlib.blake2b("\x00".join(str(p) for p in parts).encode(), digest_size=16).hexdigest()


def executor_writer(settings: Any, head: dict[str, Any], model_id: str, dataframe_id: str,
                    slice_cols: list[str], sent: Any, timeout_s: float) -> Callable[[Iterable[Any]], None]:
    """The function each task runs: its partition's rows, as events, straight to Kafka."""
    transport_uri, security = settings.transport_uri, settings.kafka_security

    def write_partition(rows: Iterable[Any]) -> None:
        from pyspark import TaskContext

        from modeldb.core import codec
        from modeldb.core.events import now_micros, producer_info
        from modeldb.producers.kafka import KafkaTransport

        failures: list[str] = []
        transport = None  # created on the first chunk: an empty partition opens no connection
        partition = TaskContext.get().partitionId()
        producer = producer_info(*head["framework"]).as_record()
        n = 0
        for i, chunk in enumerate(chunks(build_rows(rows, slice_cols), rows_per_event(len(slice_cols)))):
            if transport is None:
                transport = KafkaTransport(transport_uri, security, lambda k, v, why: failures.append(why),
                                           timeout_s)
            event = {"event_id": event_id(head["run_id"], model_id, dataframe_id, partition, i),
                     "event_type": "PredictionsLogged", "schema_version": codec.SCHEMA_VERSION,
                     "ts": now_micros(), "project": head["project"], "experiment": head["experiment"],
                     "run_id": head["run_id"], "seq": head["seq"], "producer": producer,
                     "payload": ("modeldb.PredictionsLogged",
                                 {"model_id": model_id, "dataframe_id": dataframe_id, "rows": chunk})}
            transport.publish(head["run_id"].encode(), codec.encode(event))
            n += len(chunk)
        if transport is not None:
            left = transport.flush(timeout_s)
            if left or failures:
                raise RuntimeError(f"modeldb: {left} prediction events undelivered from partition {partition}: "
                                   f"{failures[:1]}")  # Spark retries the task; the ids make it idempotent
        sent.add(n)

    return write_partition
