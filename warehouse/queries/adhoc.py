"""Ad-hoc SQL, read-only and bounded: what the dashboard's SQL page runs.

The statement runs through the backend's read-only path (the server's ``readonly`` setting, or
chDB's parser check), so a DROP or INSERT is refused before it reaches a table. A SELECT is
wrapped so that at most ``max_rows`` rows come back, however large the answer would be.
"""
from __future__ import annotations

import re
from typing import Any

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse

MAX_ROWS = 10_000
_SELECT = re.compile(r"^\s*(\(\s*)*(SELECT|WITH)\b", re.I)


def run_sql(warehouse: Warehouse, sql: str, max_rows: int = MAX_ROWS) -> tuple[Any, bool]:
    """``(frame, truncated)``: the answer to a read-only statement, cut at ``max_rows`` rows."""
    if not isinstance(sql, str) or not sql.strip():
        raise WarehouseError("type a query, e.g. SELECT count() FROM models")
    statement = sql.strip().rstrip(";").strip()
    if _SELECT.match(statement) and ";" not in statement:
        # on lines of their own, so a trailing `-- comment` in the statement cannot swallow the bound
        frame = warehouse.query(f"SELECT * FROM (\n{statement}\n) LIMIT {int(max_rows) + 1}").to_pandas()
    else:
        frame = warehouse.query(statement).to_pandas()
    truncated = len(frame) > max_rows
    return (frame.head(max_rows), truncated)


def schema_table() -> Any:
    """Every table and column with its meaning, from the DDL: one row per column."""
    import pandas as pd

    from modeldb.warehouse.ddl import tables

    rows = [{"table": table, "table meaning": spec.get("doc", ""), "column": name, "type": typ, "meaning": doc}
            for table, spec in tables().items() for name, typ, doc in spec["columns"]]
    return pd.DataFrame(rows)
