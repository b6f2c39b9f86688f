"""The same checks on chDB and on the ClickHouse 18.16 server."""
from __future__ import annotations

import pytest

from modeldb.core.exceptions import MigrationError, ReadOnlyError, WarehouseError
from modeldb.warehouse.ddl import migrations
from modeldb.warehouse.migrate import apply


@pytest.mark.parametrize("statement", [
    "DROP TABLE {db}.params",
    "INSERT INTO {db}.tags (project, run_id, key, value, event_id, ts, ver) VALUES ('p', 'r', 'k', 'v', 'e', 1, 1)",
    "ALTER TABLE {db}.params DELETE WHERE 1",
    "TRUNCATE TABLE {db}.params",
])
def test_the_default_path_refuses_to_change_data(warehouse, statement):
    db = f"`{warehouse.database}`"
    with pytest.raises(ReadOnlyError, match="refused"):
        warehouse.query(statement.format(db=db))
    assert warehouse.query(f"EXISTS TABLE {db}.params").scalar() == 1
    assert warehouse.query(f"SELECT count() FROM {db}.tags").scalar() == 0


def test_a_checked_template_stays_read_only_with_any_values(warehouse):
    """chDB checks a query template once; bound values are literals, so no value can make it write."""
    db = f"`{warehouse.database}`"
    template = "SELECT %(value)s AS v"
    assert warehouse.query(template, {"value": "first"}).scalar() == "first"
    evil = f"x'); DROP TABLE {db}.params; SELECT ('"
    assert warehouse.query(template, {"value": evil}).scalar() == evil
    for _ in range(2):  # a refused template is refused every time, never remembered as safe
        with pytest.raises(ReadOnlyError, match="refused"):
            warehouse.query(f"DROP TABLE {db}.params")
    assert warehouse.query(f"EXISTS TABLE {db}.params").scalar() == 1


@pytest.mark.parametrize("sql", [
    "SELECT 'a\\'b' AS s, toNullable('x') AS ns, CAST(NULL AS Nullable(String)) AS nn, nan AS fnan, -inf AS finf, "
    "toInt64(-5) AS i, toUInt8(1) AS u8, ['a', 'b'] AS arr, [1.5, 2] AS farr, 1.0 AS f, CAST([] AS Array(String)) AS e",
    "SELECT number, if(number % 2 = 0, toNullable(toFloat64(number)), NULL) AS nf, "
    "if(number % 2 = 0, toNullable(toString(number)), NULL) AS ns, if(number % 2 = 0, toNullable(number), NULL) AS ni "
    "FROM system.numbers LIMIT 4",
    "SELECT number, 'x' AS s FROM system.numbers LIMIT 0",
    "SELECT toUInt64(18446744073709551615) AS u, toUInt32(7) AS u32",
])
def test_frame_is_the_same_answer_as_query(warehouse, sql):
    """chDB's frame() takes its own faster output path; its answer must not differ from query()'s."""
    import pandas as pd

    pd.testing.assert_frame_equal(warehouse.frame(sql), warehouse.query(sql).to_pandas())


def test_multi_statements_are_refused(warehouse):
    db = f"`{warehouse.database}`"
    with pytest.raises(WarehouseError, match="Multi-statements are not allowed"):
        warehouse.query(f"SELECT 1; DROP TABLE {db}.params")
    assert warehouse.query(f"EXISTS TABLE {db}.params").scalar() == 1


def test_writes_work_when_asked_for(warehouse):
    db = f"`{warehouse.database}`"
    warehouse.query(f"CREATE TABLE {db}.scratch (x Int64) ENGINE = MergeTree ORDER BY x", readonly=False)
    warehouse.query(f"DROP TABLE {db}.scratch", readonly=False)


def test_migrations_are_recorded_and_not_rerun(warehouse):
    assert apply(warehouse) == []
    versions = warehouse.query(f"SELECT version FROM `{warehouse.database}`._migrations ORDER BY version").rows
    assert versions == [(m.version,) for m in migrations()]


def test_a_warehouse_ahead_of_the_code_is_a_clear_error(warehouse):
    warehouse.insert("_migrations", ["version", "name", "applied_ts"], [(99, "future", 0)])
    with pytest.raises(MigrationError, match=f"schema version 99, but this modeldb only knows up to {len(migrations())}"):
        apply(warehouse)


def test_bad_sql_names_the_problem(warehouse):
    with pytest.raises(WarehouseError) as info:
        warehouse.query(f"SELECT nope FROM `{warehouse.database}`.params")
    assert "nope" in str(info.value) and info.value.code == 47


def test_parameters_are_quoted_not_injected(warehouse):
    evil = "x' OR 1=1 --"
    result = warehouse.query("SELECT %(v)s AS v, %(n)s AS n, %(l)s AS l", {"v": evil, "n": 3, "l": ["a", "b"]})
    assert result.rows == [(evil, 3, ["a", "b"])]


def test_non_finite_floats_round_trip(warehouse):
    db = f"`{warehouse.database}`"
    rows = [("p", "r", "k", "float", "nan", float("nan"), 1, "e1", 1, 1),
            ("p", "r", "k2", "float", "inf", float("-inf"), 1, "e2", 1, 1)]
    warehouse.insert("params", ["project", "run_id", "key", "type", "value", "num", "is_num", "event_id", "ts", "ver"], rows)
    got = dict(warehouse.query(f"SELECT key, num FROM {db}.params ORDER BY key").rows)
    assert got["k"] != got["k"] and got["k2"] == float("-inf")


@pytest.mark.parametrize("statement", ["SELECT 1 INTO OUTFILE '{tmp}/out.txt'", "SELECT * FROM file('/etc/hostname')"])
def test_the_read_only_path_does_not_reach_outside_the_warehouse(warehouse, statement, tmp_path):
    # chDB runs in this process with our rights, so it must refuse. A server writes OUTFILE
    # data only through its own client (the driver ignores it) and keeps its files to itself.
    try:
        warehouse.query(statement.format(tmp=tmp_path))
        refused = False
    except WarehouseError:
        refused = True
    assert refused or not warehouse.capabilities.embedded
    assert not (tmp_path / "out.txt").exists()


def test_an_older_warehouse_is_upgraded_in_place_with_its_current_state_backfilled(warehouse):
    """Migrations 0003+ on rows materialized before them: the project summaries, and 0007's current state,
    whose backfilled rows equal what the stream processors merge from the same events, metrics re-keyed
    by 0009 under their canonical names (accuracy_score is accuracy, its logged name kept)."""
    from modeldb.core import codec
    from modeldb.core.events import typed_param
    from modeldb.stream_processors.current import CurrentState
    from modeldb.stream_processors.materializer import COLUMNS, decode_and_validate, materialize
    from tests.integration.conftest import unique
    from tests.unit.events_factory import event

    events = [event("RunStarted", name="old-run"), event("ParamLogged", seq=1),
              event("ParamLogged", seq=2, param=typed_param("penalty", "l2")),
              event("OperatorApplied", seq=3), event("ModelStored", seq=4),
              event("MetricLogged", seq=5, model_id="m1", name="accuracy_score", value=0.9),
              event("MetricLogged", seq=6, name="loss", value=0.5, step=3), event("TagSet", seq=7),
              event("RunEnded", seq=8)]
    decoded = [decode_and_validate(codec.encode(e)) for e in events]
    rows = materialize((d, codec.encode(e)) for d, e in zip(decoded, events))
    old = unique("old")
    warehouse.execute(f"CREATE DATABASE IF NOT EXISTS `{old}`")
    steps = migrations()
    for migration in steps[:2]:  # the warehouse as it was before the summaries and the current state
        for statement in migration.render(old, warehouse.capabilities):
            warehouse.execute(statement)
    for table in COLUMNS:  # the rows reach the old database through the current one
        if table in rows:
            warehouse.insert(table, COLUMNS[table], rows[table])
            warehouse.query(f"INSERT INTO `{old}`.`{table}` ({', '.join(COLUMNS[table])}) "
                            f"SELECT {', '.join(COLUMNS[table])} FROM `{warehouse.database}`.`{table}` "
                            f"WHERE project = 'p'", readonly=False)
    for migration in steps[2:]:
        for statement in migration.render(old, warehouse.capabilities):
            warehouse.execute(statement)

    # `old` is another database, which the read-only path (the SQL sandbox) refuses: read it as the owner
    merged = CurrentState(None).rows(decoded)
    for table, id_column in (("run_state", "run_id"), ("model_state", "model_id")):
        columns = [c for c in COLUMNS[table] if not c.endswith("_vers") and c not in ("ver", "started_ver",
                                                                                     "ended_ver", "stored_ver")]
        picked = [COLUMNS[table].index(c) for c in columns]
        backfilled = warehouse.query(f"SELECT {', '.join(columns)} FROM `{old}`.{table} FINAL", readonly=False).rows
        want = [tuple(row[i] for i in picked) for row in merged[table]]
        assert repr([tuple(r) for r in backfilled]) == repr(want), table  # repr: NaN equals NaN
    assert warehouse.query(f"SELECT metric_keys, metric_names FROM `{old}`.model_state FINAL",
                           readonly=False).rows == [(["accuracy"], ["accuracy_score"])]
    names = warehouse.query(f"SELECT name FROM system.tables WHERE database = '{old}'", readonly=False).rows
    assert {"run_summary", "model_summary"}.isdisjoint(n for n, in names)
    assert {"current_runs", "current_models"} <= {n for n, in names}
    counts = warehouse.query(f"SELECT uniqExactMerge(runs), uniqExactMerge(models) FROM `{old}`.project_counts "
                             "WHERE project = 'p' GROUP BY project", readonly=False).rows
    assert counts == [(1, 1)]


def test_processes_starting_together_on_a_fresh_warehouse_migrate_it_once(clickhouse):
    """Processor replicas start at once: one migrates under the lock, the others wait and find it done."""
    import subprocess

    from tests.integration.conftest import MODELDB, cli_env, unique

    database = unique("race")
    env = cli_env(MODELDB_WAREHOUSE=clickhouse.warehouse_uri(database))
    procs = [subprocess.Popen([MODELDB, "migrate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(4)]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    from modeldb.core.config import Settings
    from modeldb.warehouse.factory import connect

    wh = connect(Settings.load(env={}, warehouse=env["MODELDB_WAREHOUSE"]), migrate=False)
    try:
        versions = [r[0] for r in wh.query(f"SELECT version FROM `{database}`._migrations ORDER BY version").rows]
        assert versions == [m.version for m in migrations()]  # each exactly once
        assert wh.query(f"EXISTS TABLE `{database}`._migration_lock").scalar() == 0
    finally:
        wh.close()


def test_a_lock_left_by_a_dead_process_is_named_with_the_way_out(warehouse, monkeypatch):
    from modeldb.warehouse import migrate

    table = f"`{warehouse.database}`._migration_lock"
    warehouse.execute(f"CREATE TABLE {table} (holder String) ENGINE = Memory")
    warehouse.insert("_migration_lock", ["holder"], [("gone-host:4242 since yesterday",)])
    try:
        with pytest.raises(MigrationError, match=r"gone-host:4242.*DROP TABLE"):
            with migrate._lock(warehouse, wait_s=0.5):
                pass
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {table}")
