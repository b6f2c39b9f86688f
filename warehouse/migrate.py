"""Apply the ordered DDL migrations to a warehouse and record them in ``_migrations``."""
from __future__ import annotations

import time

from modeldb.exceptions import MigrationError
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


def apply(warehouse: Warehouse) -> list[int]:
    """Apply pending migrations in order; refuse a warehouse that is ahead of this code."""
    done = applied(warehouse)
    known = migrations()
    newest = max((m.version for m in known), default=0)
    if done and max(done) > newest:
        raise MigrationError(
            f"the warehouse {warehouse.description} is at schema version {max(done)}, but this modeldb "
            f"only knows up to {newest}. Upgrade modeldb before writing to it."
        )
    ran = []
    for migration in known:
        if migration.version in done:
            continue
        for rendered in migration.render(warehouse.database):
            for statement in _statements(warehouse, rendered):
                warehouse.execute(statement)
        warehouse.insert("_migrations", ["version", "name", "applied_ts"],
                         [(migration.version, migration.name, time.time_ns() // 1000)])
        ran.append(migration.version)
    return ran
