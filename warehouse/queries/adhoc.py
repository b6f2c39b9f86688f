"""Ad-hoc SQL, read-only and bounded: what the dashboard's SQL page runs.

The statement runs through the backend's read-only path (the SQL sandbox, ``sandbox.py``), so a
DROP, a file() or a system table is refused before anything runs. A statement that ClickHouse's
parser says is a SELECT is wrapped so that at most ``max_rows`` rows come back, however large the
answer would be; comments cannot hide it from the parser, and the wrapped statement is checked
again. The sandbox's own row, byte, time and memory limits apply on top.
"""
from __future__ import annotations

from typing import Any

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse

MAX_ROWS = 10_000


def run_sql(warehouse: Warehouse, sql: str, max_rows: int = MAX_ROWS) -> tuple[Any, bool]:
    """``(frame, truncated)``: the answer to a read-only statement, cut at ``max_rows`` rows."""
    if not isinstance(sql, str) or not sql.strip():
        raise WarehouseError("type a query, e.g. SELECT count() FROM models")
    statement = sql.strip().rstrip(";").strip()
    from modeldb.warehouse.chdb_backend import parse  # the parse is chDB's on both backends (see sandbox)
    from modeldb.warehouse.sandbox import statement_kind

    if statement_kind(statement, parse) == "select":
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
