"""Apply the ordered DDL migrations to a warehouse and record them in ``_migrations``.

Several processes may start on a fresh or older warehouse at once (processor
replicas do). Pending migrations run under a lock: the table ``_migration_lock``,
whose ``CREATE`` (without ``IF NOT EXISTS``) succeeds for exactly one process on
a server. The others wait, then find the migrations done. A lock left by a
process that died is named in the error, with the statement that clears it.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from typing import Iterator

from modeldb.core.exceptions import MigrationError, WarehouseError
from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.cluster import distribute
from modeldb.warehouse.ddl import migrations

_TABLE = (
    "CREATE TABLE IF NOT EXISTS `{db}`._migrations "
    "(version UInt32, name String, applied_ts Int64) ENGINE = MergeTree ORDER BY version"
)


def _statements(warehouse: Warehouse, statement: str) -> list[str]:
    cluster = getattr(warehouse, "cluster", None)
    return distribute(statement, cluster) if cluster else [statement]


def applied(warehouse: Warehouse) -> set[int]:
    for statement in _statements(warehouse, _TABLE.format(db=warehouse.database)):
        warehouse.execute(statement)
    result = warehouse.query(f"SELECT DISTINCT version FROM `{warehouse.database}`._migrations", readonly=False)
    return {int(r[0]) for r in result.rows}


LOCK_WAIT_S = 300.0


def _exists_error(exc: WarehouseError) -> bool:
    return exc.code == 57 or "already exists" in str(exc)


@contextmanager
def _lock(warehouse: Warehouse, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    table = f"`{warehouse.database}`._migration_lock"
    holder = f"{socket.gethostname()}:{os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            warehouse.execute(f"CREATE TABLE {table} (holder String) ENGINE = Memory")
            break
        except WarehouseError as exc:
            if not _exists_error(exc):
                raise
        if time.monotonic() > deadline:
            rows = warehouse.query(f"SELECT holder FROM {table}", readonly=False).rows
            raise MigrationError(
                f"another process has been migrating {warehouse.description} for over {wait_s:.0f}s "
                f"({rows[0][0] if rows else 'holder unknown'}); if no such process is running, "
                f"clear the lock with: DROP TABLE {table}")
        time.sleep(0.5)
    try:
        warehouse.insert("_migration_lock", ["holder"], [(holder,)])
        yield
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {table}")


def _ensure_migrations_table(warehouse: Warehouse) -> set[int]:
    for attempt in range(5):  # concurrent CREATE … IF NOT EXISTS can still collide on an old server
        try:
            return applied(warehouse)
        except WarehouseError as exc:
            if not _exists_error(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def apply(warehouse: Warehouse) -> list[int]:
    """Apply pending migrations in order; refuse a warehouse that is ahead of this code."""
    done = _ensure_migrations_table(warehouse)
    _refuse_newer(warehouse, done)
    if all(m.version in done for m in migrations()):
        return []
    with _lock(warehouse):
        return _apply_pending(warehouse, applied(warehouse))  # read again: another process may have done them


def _refuse_newer(warehouse: Warehouse, done: set[int]) -> None:
    problem = _newer(warehouse, max(done, default=0))
    if problem:
        raise MigrationError(problem)


def _newer(warehouse: Warehouse, version: int) -> str | None:
    newest = max((m.version for m in migrations()), default=0)
    if version <= newest:
        return None
    return (f"the warehouse {warehouse.description} is at schema version {version}, but this modeldb "
            f"only knows up to {newest}. Upgrade modeldb before writing to it.")


def ahead_of_code(warehouse: Warehouse) -> str | None:
    """Why this code must not use the warehouse (its schema is newer than the code knows), or None.

    Read-only, for ``modeldb status``: it creates nothing, and a warehouse with no migrations
    table yet is not ahead (status reports the missing tables on its own).
    """
    try:
        result = warehouse.query(f"SELECT max(version), count() FROM `{warehouse.database}`._migrations",
                                 readonly=False)
    except WarehouseError as exc:
        if exc.code == 60 or "UNKNOWN_TABLE" in str(exc) or "doesn't exist" in str(exc):
            return None
        raise
    version, rows = result.rows[0]
    return _newer(warehouse, int(version)) if int(rows) else None


def _apply_pending(warehouse: Warehouse, done: set[int]) -> list[int]:
    known = migrations()
    ran = []
    for migration in known:
        if migration.version in done:
            continue
        for rendered in migration.render(warehouse.database, warehouse.capabilities):
            for statement in _statements(warehouse, rendered):
                warehouse.execute(statement)
        warehouse.insert("_migrations", ["version", "name", "applied_ts"],
                         [(migration.version, migration.name, time.time_ns() // 1000)])
        ran.append(migration.version)
    return ran
