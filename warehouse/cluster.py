"""Cluster mode: the same DDL, as replicated local tables behind Distributed tables, ``ON CLUSTER``.

With ``MODELDB_CLICKHOUSE_CLUSTER=name`` each ``CREATE TABLE db.t (…) ENGINE = X(args) …``
of the DDL source becomes

* ``db.t_local ON CLUSTER name`` with ``ReplicatedX('/clickhouse/tables/{shard}/db/t_local',
  '{replica}', args)``: one copy per replica, kept in step through ZooKeeper;
* ``db.t ON CLUSTER name AS db.t_local ENGINE = Distributed(name, db, t_local, key)``: what
  every query and insert uses. The sharding key is the run id where the table has one (a run's
  rows, and a redelivered event with its first copy, land on one shard, so ReplacingMergeTree
  still collapses duplicates), else the project.

``ON CLUSTER`` DDL and Replicated engines need ZooKeeper (or ClickHouse Keeper) configured on
every server, and the ``{shard}``/``{replica}`` macros.
"""
from __future__ import annotations

import re

from modeldb.core.exceptions import MigrationError

_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (`[^`]+`)\.`?(\w+)`? TO \1\.`?(\w+)`?\s+AS\s+(.*)$", re.S)
_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (`[^`]+`)\.`?(\w+)`? \((.*)\) ENGINE = (\w+)(?:\(([^)]*)\))?(.*)$", re.S)


def distribute(statement: str, cluster: str) -> list[str]:
    """One rendered DDL statement in cluster mode.

    ``CREATE TABLE``: its local and Distributed tables. ``CREATE MATERIALIZED VIEW … TO``: the view
    on every shard, from the local source into the local target. ``INSERT … SELECT`` (a backfill):
    unchanged, reading and writing the Distributed tables. ``RENAME TABLE``: the local tables, on
    every shard. ``DROP TABLE IF EXISTS``: the local and the Distributed table. ``CREATE VIEW``: the
    view on every server, reading the Distributed tables.
    """
    head = statement.lstrip().upper()
    if head.startswith("INSERT"):
        return [statement]
    if head.startswith("CREATE VIEW IF NOT EXISTS"):  # a plain view on every server, over the Distributed tables
        view = re.match(r"CREATE VIEW IF NOT EXISTS (`[^`]+`\.`?\w+`?)\s+AS\s+(.*)$", statement.strip(), re.S)
        assert view is not None
        return [f"CREATE VIEW IF NOT EXISTS {view[1]} ON CLUSTER `{cluster}` AS {view[2]}"]
    if head.startswith("RENAME TABLE"):  # the local tables move; the Distributed ones point at them by name
        renamed = re.sub(r"(`[^`]+`)\.`?(\w+)`?", lambda m: f"{m[1]}.`{m[2]}_local`", statement.strip())
        return [f"{renamed} ON CLUSTER `{cluster}`"]
    if head.startswith("DROP TABLE IF EXISTS"):
        target = re.match(r"DROP TABLE IF EXISTS (`[^`]+`)\.`?(\w+)`?\s*$", statement.strip())
        if target is None:
            raise MigrationError(f"cluster mode drops one table at a time; got {statement[:80]!r}")
        db, table = target.groups()
        return [f"DROP TABLE IF EXISTS {db}.`{table}_local` ON CLUSTER `{cluster}`",
                f"DROP TABLE IF EXISTS {db}.`{table}` ON CLUSTER `{cluster}`"]
    view = _VIEW.match(statement.strip())
    if view is not None:
        db, name, target, select = view.groups()
        select = re.sub(rf"\bFROM {re.escape(db)}\.`?(\w+)`?", lambda m: f"FROM {db}.`{m[1]}_local`", select)
        return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.`{name}` ON CLUSTER `{cluster}` "
                f"TO {db}.`{target}_local` AS {select}"]
    match = _CREATE.match(statement.strip())
    if match is None:
        raise MigrationError(f"cluster mode handles CREATE TABLE IF NOT EXISTS … ENGINE = …; got {statement[:80]!r}")
    db, table, columns, engine, args, rest = match.groups()
    local = f"{table}_local"
    on = f"ON CLUSTER `{cluster}`"
    path = f"'/clickhouse/tables/{{shard}}/{db.strip('`')}/{local}'"
    engine_args = ", ".join([path, "'{replica}'"] + ([args.strip()] if args and args.strip() else []))
    if re.search(r"^\s*run_id String", columns, re.M):
        key = "cityHash64(run_id)"
    elif re.search(r"^\s*project String", columns, re.M):
        key = "cityHash64(project)"
    else:
        key = "rand()"
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.`{local}` {on} ({columns}) ENGINE = Replicated{engine}({engine_args}){rest}",
        f"CREATE TABLE IF NOT EXISTS {db}.`{table}` {on} AS {db}.`{local}` "
        f"ENGINE = Distributed('{cluster}', '{db.strip('`')}', '{local}', {key})",
    ]
