"""The batching sink: materialized rows into the warehouse, all tables of a batch.

The batch pipeline (``pipeline.py``) calls ``write`` with a batch's rows;
positions are committed only after ``write`` returned. If an insert fails
half-way the batch is simply written again on retry: every table is
idempotent, so the earlier partial insert
changes no answer (no half-done state can be observed as a different answer).
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from modeldb.core.exceptions import WarehouseUnavailable
from modeldb.stream_processors.materializer import COLUMNS, Rows
from modeldb.stream_processors.points import Points
from modeldb.warehouse.base import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")

# Insert order: the raw log first, the current state (run_state, model_state) last.


class WarehouseSink:
    def __init__(self, warehouse: Warehouse, max_retries: int | None = 8, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.warehouse = warehouse
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    def write(self, rows: Rows) -> int:
        """Insert every table's rows; retry with backoff while the warehouse is unavailable.

        ``max_retries=None`` retries forever (backoff capped at 30 s): a processor then
        stops consuming instead of giving up on a batch.
        """
        def insert() -> int:
            for table in COLUMNS:  # events_raw first; every table the materializer fills
                batch = rows.get(table)
                if not batch:
                    continue
                if isinstance(batch, Points):  # the metric points: columns, in the backend's fastest form
                    self.warehouse.insert_columns(table, COLUMNS[table], batch)
                else:
                    self.warehouse.insert(table, COLUMNS[table], batch)
            return rows.count()

        return self.retrying(insert)

    def retrying(self, call: Callable[[], T]) -> T:
        """``call()``, again after a back-off each time the warehouse is unavailable (see ``write``).

        The current state's read-back goes through here too, so an outage while it reads is waited
        out like one while it writes."""
        attempt = 0
        while True:
            try:
                return call()
            except WarehouseUnavailable as exc:
                attempt += 1
                if self.max_retries is not None and attempt > self.max_retries:
                    raise
                delay = min(30.0, self.backoff_s * 2 ** (attempt - 1))
                log.warning("warehouse unavailable (%s); retry %d in %.1fs", exc, attempt, delay)
                self._sleep(delay)
