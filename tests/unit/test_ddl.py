import re
from importlib import resources

from modeldb.warehouse.ddl import migrations, tables

FORBIDDEN = [r"\bMap\(", r"\bJSON\b", r"LowCardinality", r"DateTime64", r"\bOVER\s*\(", r"JSONExtract"]


def ddl_text():
    folder = resources.files("modeldb.warehouse") / "ddl"
    return "\n".join(p.read_text() for p in folder.iterdir() if p.name.endswith(".sql"))


def test_ddl_uses_only_the_common_dialect():
    """Every statement runs on ClickHouse 18.16 and chDB 26, except those marked ``-- @when maps``."""
    common = [s for m in migrations() for s, c in zip(m.statements, m.conditions) if c != ("maps", True)]
    assert len(common) < sum(len(m.statements) for m in migrations())  # the Map sugar is there, and set apart
    for pattern in FORBIDDEN:
        assert not any(re.search(pattern, s) for s in common), pattern


def test_map_sugar_has_a_plain_twin_and_renders_per_backend():
    from types import SimpleNamespace

    step = next(m for m in migrations() if ("maps", True) in m.conditions)
    with_maps = step.render("db", SimpleNamespace(maps=True))
    without = step.render("db", SimpleNamespace(maps=False))
    assert len(with_maps) == len(without) and any("Map(" in s for s in with_maps)
    assert not any("Map(" in s for s in without)
    views = [s.split(" AS")[0] for s in with_maps if s.startswith("CREATE VIEW")]
    assert views == [s.split(" AS")[0] for s in without if s.startswith("CREATE VIEW")] and views


def test_migrations_are_ordered_and_render_the_database():
    steps = migrations()
    assert [m.version for m in steps] == list(range(1, len(steps) + 1))
    rendered = steps[0].render("db_x")
    assert all("{db}" not in s and "`db_x`." in s for s in rendered)


IDEMPOTENT_STATES = {"uniqExact", "max", "min", "argMax", "argMin"}


def test_every_table_is_idempotent_and_documented():
    """ReplacingMergeTree by version, or aggregate states that a duplicate cannot change."""
    for statement in (s for m in migrations() for s in m.statements):
        if statement.startswith("CREATE TABLE"):
            replacing = "ReplacingMergeTree(ver)" in statement
            assert replacing or "AggregatingMergeTree()" in statement, statement[:60]
            if not replacing:
                assert set(re.findall(r"AggregateFunction\((\w+)", statement)) <= IDEMPOTENT_STATES
        elif statement.startswith("CREATE VIEW"):  # a plain view over a table: it stores nothing
            assert " FINAL" in statement, statement[:60]
        elif statement.startswith("CREATE MATERIALIZED VIEW"):
            assert set(re.findall(r"(\w+?)State(?:If)?\(", statement)) <= IDEMPOTENT_STATES, statement[:60]
        else:  # a backfill, or moving a rebuilt table into place
            assert statement.startswith(("INSERT INTO", "RENAME TABLE", "DROP TABLE IF EXISTS")), statement[:60]
    for name, table in tables().items():
        assert table["doc"], f"table {name} needs a -- @table comment"
        if table.get("view"):
            continue
        if "AggregateFunction" not in " ".join(t for _, t, _ in table["columns"]):
            assert ("ver", "UInt64") in [(c, t) for c, t, _ in table["columns"]]
        undocumented = [c for c, _, meaning in table["columns"] if not meaning]
        assert not undocumented, f"table {name}: add `-- @column {name}.<name>: meaning` for {undocumented}"


def test_cluster_mode_turns_each_table_into_replicated_local_plus_distributed():
    from modeldb.warehouse.cluster import distribute

    statements = [s for m in migrations() for s in m.render("db") if s.startswith("CREATE TABLE")]
    for statement in statements:
        local, dist = distribute(statement, "c1")
        assert " ON CLUSTER `c1` " in local and "ENGINE = Replicated" in local
        assert "'/clickhouse/tables/{shard}/db/" in local and "'{replica}'" in local
        assert dist.split(" ON CLUSTER")[0].replace("_local", "") == local.split(" ON CLUSTER")[0].replace("_local", "")
        assert "ENGINE = Distributed('c1', 'db'," in dist
    metrics = next(s for s in statements if "`db`.metrics " in s)
    local, dist = distribute(metrics, "c1")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/metrics_local', '{replica}', ver)" in local
    assert dist.endswith("cityHash64(run_id))")
    projects = distribute(next(s for s in statements if "`db`.projects " in s), "c1")[1]
    assert projects.endswith("cityHash64(project))")
    view = next(s for m in migrations() for s in m.render("db") if "VIEW IF NOT EXISTS `db`.project_metrics_models" in s)
    (local_view,) = distribute(view, "c1")
    renamed = distribute("RENAME TABLE `db`.a TO `db`.b, `db`.c TO `db`.a", "c1")
    assert renamed == ["RENAME TABLE `db`.`a_local` TO `db`.`b_local`, `db`.`c_local` TO `db`.`a_local` ON CLUSTER `c1`"]
    assert distribute("DROP TABLE IF EXISTS `db`.x", "c1") == [
        "DROP TABLE IF EXISTS `db`.`x_local` ON CLUSTER `c1`", "DROP TABLE IF EXISTS `db`.`x` ON CLUSTER `c1`"]
    assert "ON CLUSTER `c1` TO `db`.`project_metrics_local`" in local_view and "FROM `db`.`metrics_local`" in local_view
