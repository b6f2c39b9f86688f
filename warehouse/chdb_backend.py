"""chDB backend: ClickHouse inside this process (the embedded default).

Limits, from chDB itself:

* One embedded server per process and one data directory per process. A
  second directory in the same process is refused with a clear error.
* A data directory is locked by one process at a time. ModelDB takes its own
  lock file first (``<dir>/.owner``) recording who owns it, so a second
  process gets "owned by pid N (modeldb …)" instead of chDB's
  "Cannot lock file …/status". Who owns it: whichever ModelDB process opened
  it first — ``modeldb process``, ``modeldb demo``, ``modeldb sql`` or the
  dashboard. Everyone else queries through that process, or waits.
* The ``readonly`` setting cannot be lowered again in a chDB session, so the
  read-only path is enforced differently than on a server: the statement is
  normalised by ClickHouse's own parser (``formatQuery``, which also refuses
  multi-statements) and only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN
  statements are run, without ``INTO OUTFILE`` and without table functions that
  reach files, URLs or other servers.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from modeldb.core.exceptions import ReadOnlyError, WarehouseError, WarehouseLocked
from modeldb.warehouse.base import Capabilities, Result, bind, error_code, quote

_READ_KINDS = ("SelectWithUnionQuery", "SelectQuery", "ShowTables", "ShowColumns", "ShowCreateTableQuery",
               "DescribeQuery", "ExistsTableQuery", "ExistsDatabaseQuery", "Explain", "ShowDatabases")

# Things a SELECT can do beyond reading the warehouse: write a file, or read files, URLs and
# other servers through table functions. chDB runs with the user's own rights, so refuse them.
_OUTSIDE = re.compile(r"\bINTO OUTFILE\b|\b(file|url|s3|s3Cluster|gcs|azureBlobStorage|hdfs|remote|remoteSecure|"
                      r"cluster|clusterAllReplicas|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable|"
                      r"input|python|fuzzJSON)\s*\(", re.I)

_process_lock = threading.Lock()
_open: dict[str, Any] = {}  # path -> (session, lock fd, refcount)


def _owner_message(path: Path) -> str:
    try:
        info = json.loads((path / ".owner").read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    who = f"process {info.get('pid', '?')}"
    if info.get("command"):
        who += f" ({info['command']})"
    if info.get("since"):
        who += f", since {time.strftime('%H:%M:%S', time.localtime(info['since']))}"
    return (
        f"The embedded warehouse {path} is in use by {who}. chDB lets one process own a data "
        "directory at a time. Stop that process, or run your query through it (the dashboard's SQL "
        "page, or `modeldb sql` once it exits), or use a ClickHouse server: "
        "MODELDB_WAREHOUSE=clickhouse://host:9000/modeldb."
    )


def _acquire(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / ".owner.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WarehouseLocked(_owner_message(path)) from None
    command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:3]))
    (path / ".owner").write_text(json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}))
    return fd


TEMPLATES_REMEMBERED = 512  # read-only-checked query templates kept per connection


class ChdbWarehouse:
    def __init__(self, path: Path, database: str, session: Any, version: str):
        self.path = path
        self.database = database
        self.description = f"chdb://{path}?database={database}"
        self.capabilities = Capabilities("chdb", version, embedded=True, server_readonly=False)
        self._session = session
        self._lock = threading.RLock()
        self._closed = False
        self._read_only_templates: dict[str, None] = {}  # insertion-ordered, bounded: see query()

    @classmethod
    def connect(cls, path: str | Path, database: str) -> "ChdbWarehouse":
        path = Path(path).absolute()
        key = str(path)
        with _process_lock:
            if key not in _open:
                if _open:
                    other = next(iter(_open))
                    raise WarehouseError(
                        f"chDB allows one data directory per process: this process already uses {other}, "
                        f"so it cannot open {path}. Use another database in the same directory "
                        "(chdb:///dir?database=name) or another process."
                    )
                fd = _acquire(path)
                try:
                    from chdb import session as chdb_session

                    session = chdb_session.Session(str(path))
                except Exception as exc:
                    os.close(fd)
                    if "Cannot lock file" in str(exc):
                        raise WarehouseLocked(_owner_message(path)) from None
                    raise WarehouseError(f"cannot open chDB at {path}: {exc}", error_code(str(exc))) from None
                _open[key] = [session, fd, 0]
            entry = _open[key]
            entry[2] += 1
        session = entry[0]
        version = session.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
        session.query(f"CREATE DATABASE IF NOT EXISTS `{database}`", "CSV")
        return cls(path, database, session, version)

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        if self._closed:
            raise WarehouseError("this warehouse connection is closed")
        try:
            with self._lock:
                return self._session.query(sql, fmt)
        except Exception as exc:
            message = str(exc).strip()
            raise WarehouseError(f"chDB: {message}", error_code(message)) from None

    def execute(self, sql: str) -> None:
        self._run(sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        dumps = json.dumps
        cols = list(columns)
        lines = [dumps(dict(zip(cols, row)), ensure_ascii=False, allow_nan=True) for row in rows]
        self._run(f"INSERT INTO `{self.database}`.`{table}` ({', '.join(cols)}) FORMAT JSONEachRow\n" + "\n".join(lines))

    def _check_readonly(self, sql: str) -> str:
        formatted = self._run(f"SELECT formatQuerySingleLine({quote(sql)})", "TabSeparatedRaw").bytes().decode().rstrip("\n")
        kind = self._run(f"EXPLAIN AST {formatted}", "TabSeparatedRaw").bytes().decode().split(" ", 1)[0].strip()
        reaches_out = _OUTSIDE.search(formatted)
        if reaches_out:
            raise ReadOnlyError(f"refused: {reaches_out[0].strip()} reads or writes outside the warehouse, "
                                "and this path is read-only", 164)
        if kind not in _READ_KINDS:
            raise ReadOnlyError(
                f"refused: {kind or 'this statement'} changes data, and this path is read-only "
                "(use `modeldb sql --write` to change data on purpose)", 164)
        return formatted

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        table = self._run(self._prepare(sql, params, readonly), "ArrowTable")
        columns = list(table.column_names)
        types = [str(t) for t in table.schema.types]
        data = [col.to_pylist() for col in table.columns]
        rows = list(zip(*data)) if data else []
        return Result(columns, types, [tuple(_text(v) for v in row) for row in rows])

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """chDB's own DataFrame output: for a 1,000 x 37 answer it skipped 240 ms of Arrow conversion.

        Its values are brought to what ``query(...).to_pandas()`` gives: NULL as None in text columns
        and NaN in number columns (as pandas makes rows), arrays as lists, integers as int64. Dates,
        tuples and decimals come back in pandas' own types, so answers with those use ``query``.
        """
        frame = self._run(self._prepare(sql, params, True), "DataFrame")
        if frame.empty:  # no rows: no types either, as from rows
            return frame.astype(object)
        for name in frame.columns:
            column = frame[name]
            dtype = column.dtype.name
            if dtype == "object":
                frame[name] = [v if v is None or v.__class__ is str else _plain(v) for v in column.tolist()]
            elif dtype.startswith(("Int", "UInt")):  # a Nullable integer: NaN where NULL, as pandas makes rows
                frame[name] = column.astype("float64") if column.isna().any() else column.astype("int64")
            elif column.dtype.kind in "iu" and dtype != "int64" and (dtype != "uint64" or column.max() < 2 ** 63):
                frame[name] = column.astype("int64")  # pandas makes int64 of Python ints that fit
        return frame

    def _prepare(self, sql: str, params: Mapping[str, Any] | None, readonly: bool) -> str:
        template = sql
        sql = bind(sql, params).strip().rstrip(";")
        if readonly and template not in self._read_only_templates:
            # Checking costs two extra chDB queries (~4 ms). Binding only inserts quoted literals, which
            # cannot turn a read into a write or reach outside, so a template that passed once is trusted
            # with any values; a named query's SQL is then checked once per process, not on every call.
            sql = self._check_readonly(sql)
            self._read_only_templates[template] = None
            if len(self._read_only_templates) > TEMPLATES_REMEMBERED:
                del self._read_only_templates[next(iter(self._read_only_templates))]
        return sql

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _process_lock:
            entry = _open.get(str(self.path))
            if entry is not None:
                entry[2] -= 1
                # The chDB session stays open for the life of the process: chDB cannot
                # reopen another directory after closing anyway, and reopening the same
                # one is cheap this way.


def _text(value: Any) -> Any:
    """Arrow may hand String columns back as bytes; the server backend returns str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _plain(value: Any) -> Any:
    """A DataFrame cell as the row path gives it: arrays as lists, numpy scalars as Python's, bytes as text."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return _text(value)
