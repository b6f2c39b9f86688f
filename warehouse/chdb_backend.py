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
  read-only path is enforced by the SQL sandbox alone (``sandbox.py``): ClickHouse's
  own parse of the statement (``formatQuerySingleLine``, which refuses
  multi-statements, then ``EXPLAIN AST``), checked deny-by-default. Reads run with
  the sandbox's limits as a SETTINGS clause (chDB has no per-query settings argument).
* One chDB session per process, shared by every ``ChdbWarehouse`` of that process
  (one per database): statements take the session's lock, and the session's current
  database is switched to the warehouse's (``USE``) before each, so an unqualified
  table name means that database.
* The same session parses for a ClickHouse server warehouse in this process
  (``parse``). A process with no chDB warehouse gets an in-memory session used only
  to parse; it is closed when a chDB warehouse opens its directory (chDB cannot hold
  both), and a parse running at that moment fails with a clear error.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from modeldb.core.exceptions import WarehouseError, WarehouseLocked
from modeldb.warehouse.base import Capabilities, ColumnBatch, Result, bind, error_code
from modeldb.warehouse.sandbox import Sandbox, SandboxLimits, limit_error


class _Embedded:
    """This process's chDB session: its lock, and the database it currently USEs."""

    def __init__(self, session: Any, fd: int | None):
        self.session = session
        self.fd = fd
        self.refs = 0
        self.lock = threading.RLock()
        self.current = "default"


_process_lock = threading.Lock()
_open: dict[str, _Embedded] = {}  # path -> the session on it (one at most: see the docstring)
_parse_only: list[_Embedded] = []  # an in-memory session, only for parsing, when no directory is open


def _parsing_session() -> _Embedded:
    with _process_lock:
        if _open:
            return next(iter(_open.values()))
        if not _parse_only:
            try:
                from chdb import session as chdb_session

                _parse_only.append(_Embedded(chdb_session.Session(), None))
            except Exception as exc:
                raise WarehouseError(f"the SQL sandbox parses with chDB, which cannot start here: {exc}") from None
        return _parse_only[0]


def _flush(session: Any) -> None:
    """chDB 4.4 can hand the failed query's bytes to the next Arrow answer ("Invalid flatbuffers
    message"); one throwaway Arrow query after a failure clears it."""
    try:
        session.query("SELECT 1", "ArrowTable")
    except Exception:  # noqa: BLE001 - only clearing; the real error is raised by the caller
        pass


def parse(sql: str) -> str:
    """Run a parse-only statement (``formatQuerySingleLine``, ``EXPLAIN AST``, ``system.functions``)
    on this process's chDB session; its TabSeparatedRaw text."""
    embedded = _parsing_session()
    with embedded.lock:
        try:
            return embedded.session.query(sql, "TabSeparatedRaw").bytes().decode()
        except Exception as exc:
            message = str(exc).strip()
            _flush(embedded.session)
    raise WarehouseError(f"chDB: {message}", error_code(message))


def _owner_message(path: Path) -> str:
    """Who holds the data directory, named only while that process is alive.

    ``.owner`` is written by the owner and never removed, so after the owner exits it names a dead
    pid. Then the lock is held by someone else (often a child the owner forked, which inherited it)
    or is stale, and the message says so instead of sending the user after a process that is gone.
    """
    try:
        info = json.loads((path / ".owner").read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    pid = info.get("pid")
    who = f"process {pid if pid is not None else '?'}"
    if info.get("command"):
        who += f" ({info['command']})"
    if isinstance(pid, int) and pid > 0 and not _alive(pid):
        return (
            f"The embedded warehouse {path} is locked, but the process that opened it last, {who}, has "
            "exited: another process still holds the lock (a child that process started, for example), or "
            f"the lock is stale. Stop any ModelDB process using {path} (`fuser -v {path}/.owner.lock` "
            "lists them) and try again, or use a ClickHouse server: MODELDB_WAREHOUSE=clickhouse://host:9000/modeldb."
        )
    if info.get("since"):
        who += f", since {time.strftime('%H:%M:%S', time.localtime(info['since']))}"
    return (
        f"The embedded warehouse {path} is in use by {who}. chDB lets one process own a data "
        "directory at a time. Stop that process, or run your query through it (the dashboard's SQL "
        "page, or `modeldb sql` once it exits), or use a ClickHouse server: "
        "MODELDB_WAREHOUSE=clickhouse://host:9000/modeldb."
    )


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


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


class ChdbWarehouse:
    def __init__(self, path: Path, database: str, session: Any, version: str,
                 limits: SandboxLimits | None = None):
        self.path = path
        self.database = database
        self.description = f"chdb://{path}?database={database}"
        self.capabilities = Capabilities("chdb", version, embedded=True, server_readonly=False)
        self._embedded = _open[str(path)]
        self._session = session
        self._lock = self._embedded.lock  # one session for every database of the process
        self._closed = False
        self.sandbox = Sandbox(database, parse, limits or SandboxLimits())

    @classmethod
    def connect(cls, path: str | Path, database: str, limits: SandboxLimits | None = None) -> "ChdbWarehouse":
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
                for parser in _parse_only:  # chDB holds one embedded server: the parse-only one goes
                    with parser.lock:
                        parser.session.close()
                _parse_only.clear()
                try:
                    from chdb import session as chdb_session

                    session = chdb_session.Session(str(path))
                except Exception as exc:
                    os.close(fd)
                    if "Cannot lock file" in str(exc):
                        raise WarehouseLocked(_owner_message(path)) from None
                    raise WarehouseError(f"cannot open chDB at {path}: {exc}", error_code(str(exc))) from None
                _open[key] = _Embedded(session, fd)
            entry = _open[key]
            entry.refs += 1
        session = entry.session
        version = session.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
        session.query(f"CREATE DATABASE IF NOT EXISTS `{database}`", "CSV")
        return cls(path, database, session, version, limits)

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        if self._closed:
            raise WarehouseError("this warehouse connection is closed")
        with self._lock:
            try:
                if self._embedded.current != self.database:
                    self._session.query(f"USE `{self.database}`", "CSV")
                    self._embedded.current = self.database
                return self._session.query(sql, fmt)
            except Exception as exc:
                message = str(exc).strip()
                _flush(self._session)
        raise WarehouseError(f"chDB: {message}", error_code(message))

    def execute(self, sql: str) -> None:
        self._run(sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        dumps = json.dumps
        cols = list(columns)
        lines = [dumps(dict(zip(cols, row)), ensure_ascii=False, allow_nan=True) for row in rows]
        self._run(f"INSERT INTO `{self.database}`.`{table}` ({', '.join(cols)}) FORMAT JSONEachRow\n" + "\n".join(lines))

    def insert_columns(self, table: str, columns: Sequence[str], data: ColumnBatch) -> None:
        """Through chDB's ``Python()`` table function, which reads the Arrow table in this frame by
        its name: no JSON and no Python object per row (the metric points' path)."""
        if not len(data):
            return
        cols = ", ".join(f"`{c}`" for c in columns)
        modeldb_insert_columns = data.arrow()  # noqa: F841 - read by name by chDB's Python()
        # optimize_on_insert=0: no merge of equal keys within the block (a third of the cost); readers
        # collapse redelivered points anyway (FINAL, or argMax per step), as they must across blocks.
        self._run(f"INSERT INTO `{self.database}`.`{table}` ({cols}) SELECT {cols} FROM Python(modeldb_insert_columns) "
                  "SETTINGS optimize_on_insert = 0")

    def _read(self, sql: str, fmt: str, readonly: bool) -> Any:
        try:
            return self._run(sql, fmt)
        except WarehouseError as exc:
            raise (limit_error(exc, self.sandbox.limits) if readonly else exc) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        table = self._read(self._prepare(sql, params, readonly), "ArrowTable", readonly)
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
        from pandas.api.types import infer_dtype

        frame = self._read(self._prepare(sql, params, True), "DataFrame", True)
        if frame.empty:  # no rows: no types either, as from rows
            return frame.astype(object)
        for name in frame.columns:
            column = frame[name]
            dtype = column.dtype.name
            if dtype == "object":
                if infer_dtype(column, skipna=False) != "string":  # text without NULL is kept as it is
                    frame[name] = [v if v is None or v.__class__ is str else _plain(v) for v in column.tolist()]
            elif dtype.startswith(("Int", "UInt")):  # a Nullable integer: NaN where NULL, as pandas makes rows
                frame[name] = column.astype("float64") if column.isna().any() else column.astype("int64")
            elif column.dtype.kind in "iu" and dtype != "int64" and (dtype != "uint64" or column.max() < 2 ** 63):
                frame[name] = column.astype("int64")  # pandas makes int64 of Python ints that fit
        return frame

    def _prepare(self, sql: str, params: Mapping[str, Any] | None, readonly: bool) -> str:
        bound = bind(sql, params).strip().rstrip(";")
        if not readonly:
            return bound
        # The template is checked once (sandbox.py); bound values are quoted literals and cannot
        # change what it reads. The limits go on a line of their own: a trailing comment ends there.
        checked = self.sandbox.check(sql, params)
        return f"{bound}\n{self.sandbox.limits.clause()}" if checked.kind == "select" else bound

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _process_lock:
            entry = _open.get(str(self.path))
            if entry is not None:
                entry.refs -= 1
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
        items = value.tolist()  # numbers come out as Python's, at any depth
        if value.dtype.kind != "O" or all(v.__class__ is str for v in items):
            return items
        return [_plain(v) for v in items]
    if isinstance(value, np.generic):
        return value.item()
    return _text(value)
