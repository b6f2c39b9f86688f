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
from typing import Callable

from modeldb.core.exceptions import WarehouseError, WarehouseUnavailable
from modeldb.stream_processors.materializer import COLUMNS, Rows
from modeldb.warehouse.base import Warehouse

log = logging.getLogger(__name__)

# Insert order: the raw log first, the read-side summary last.


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
        attempt = 0
        while True:
            try:
                for table in COLUMNS:  # events_raw first; every table the materializer fills
                    batch = rows.get(table)
                    if batch:
                        self.warehouse.insert(table, COLUMNS[table], batch)
                return rows.count()
            except WarehouseUnavailable as exc:
                attempt += 1
                if self.max_retries is not None and attempt > self.max_retries:
                    raise
                delay = min(30.0, self.backoff_s * 2 ** (attempt - 1))
                log.warning("warehouse unavailable (%s); retry %d in %.1fs", exc, attempt, delay)
                self._sleep(delay)
            except WarehouseError:
                raise
