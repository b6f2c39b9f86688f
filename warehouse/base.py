"""The warehouse contract: a backend only runs SQL.

The DDL, the queries and the dedup rules live once, above the backends
(``ddl/``, ``migrate.py``, ``queries.py``). Both backends raise the same
``modeldb.core.exceptions`` types, translated at their boundary with ClickHouse's
error code kept.
"""
from __future__ import annotations

import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from modeldb.core.exceptions import WarehouseError


@dataclass(frozen=True)
class Capabilities:
    backend: str                 # "chdb" or "clickhouse"
    server_version: str
    embedded: bool               # one process owns the data directory
    server_readonly: bool        # the readonly setting can be applied per query
    # The server's own readonly=1 lets the sandbox's row generators (numbers(), values()…) through;
    # ClickHouse 18.16 refuses every table function under readonly=1.
    readonly_table_functions: bool = True
    # Map columns and CAST((keys, values), 'Map(…)'): the current-state views add params['C'], metrics['f1'].
    maps: bool = True
    # FINAL read by several threads, parts that need no merge skipped (ClickHouse 22 on, chDB). 18.16
    # merges every column a FINAL reads in one thread: there the current state is read another way.
    parallel_final: bool = True


@dataclass
class Result:
    columns: list[str]
    types: list[str]
    rows: list[tuple] = field(default_factory=list)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@runtime_checkable
class ColumnBatch(Protocol):
    """Rows as columns, in ``columns`` order, two ways (``stream_processors.points.Points``)."""

    def __len__(self) -> int:
        ...

    def lists(self) -> list[list]:
        """One Python list per column."""

    def arrow(self) -> Any:
        """A pyarrow Table with one column per name."""

    def native(self) -> list[bytes]:
        """One block of ClickHouse's Native format, as byte strings to send in order."""


class Warehouse(Protocol):
    database: str
    description: str
    capabilities: Capabilities

    def execute(self, sql: str) -> None:
        """Run a statement that changes the warehouse (DDL, OPTIMIZE…)."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows into ``database.table``, all or nothing per call."""

    def insert_columns(self, table: str, columns: Sequence[str], data: "ColumnBatch") -> None:
        """Insert the same as ``insert``, given the rows as columns, in the form the backend reads
        fastest: the metric points' path, with no row tuples built on either side."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        """Run a query; with ``readonly`` (the default) anything that writes is refused."""

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """A read-only query's answer as a pandas DataFrame, the same as ``query(...).to_pandas()``,
        by the fastest path the backend has (for large answers)."""

    def close(self) -> None:
        ...


_PARAM = re.compile(r"%\((\w+)\)s")


def quote(value: Any) -> str:
    """A ClickHouse literal for a Python value (strings escaped, lists as arrays)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):  # int, numpy integers; never a subclass's own repr
        return str(int(value))
    if isinstance(value, numbers.Real):  # float, numpy floats
        value = float(value)
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # a plain float's repr: digits, '.', 'e', sign only
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote(v) for v in value) + "]"
    # %, { and } as escapes: a query's own placeholders (``%(name)s``, ``{db}``) are filled in after
    # its values are quoted in, and must never be formed by a value's text.
    text = str(value).translate(_ESCAPES)
    return f"'{text}'"


_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "%": "\\x25", "{": "\\x7B", "}": "\\x7D"})


def bind(sql: str, params: Mapping[str, Any] | None) -> str:
    """Substitute ``%(name)s`` placeholders with quoted literals; a missing one is an error."""
    if not params:
        return sql

    def sub(match: re.Match) -> str:
        name = match[1]
        if name not in params:
            raise WarehouseError(f"query parameter %({name})s has no value")
        return quote(params[name])

    return _PARAM.sub(sub, sql)


def error_code(message: str) -> int | None:
    match = re.search(r"Code: (\d+)", message)
    return int(match[1]) if match else None
