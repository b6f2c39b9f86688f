import re
from importlib import resources

from modeldb.warehouse.ddl import migrations, tables

FORBIDDEN = [r"\bMap\(", r"\bJSON\b", r"LowCardinality", r"DateTime64", r"\bOVER\s*\(", r"JSONExtract"]


def ddl_text():
    folder = resources.files("modeldb.warehouse") / "ddl"
    return "\n".join(p.read_text() for p in folder.iterdir() if p.name.endswith(".sql"))


def test_ddl_uses_only_the_common_dialect():
    code = "\n".join(line for line in ddl_text().splitlines() if not line.lstrip().startswith("--"))
    for pattern in FORBIDDEN:
        assert not re.search(pattern, code), pattern


def test_migrations_are_ordered_and_render_the_database():
    steps = migrations()
    assert [m.version for m in steps] == list(range(1, len(steps) + 1))
    rendered = steps[0].render("db_x")
    assert all("{db}" not in s and "`db_x`." in s for s in rendered)


def test_every_table_is_idempotent_and_documented():
    for statement in (s for m in migrations() for s in m.statements):
        assert "ReplacingMergeTree(ver)" in statement, statement[:60]
    for name, table in tables().items():
        assert table["doc"], f"table {name} needs a -- @table comment"
        assert ("ver", "UInt64") in [(c, t) for c, t, _ in table["columns"]]
        undocumented = [c for c, _, meaning in table["columns"] if not meaning]
        assert not undocumented, f"table {name}: add `-- @column {name}.<name>: meaning` for {undocumented}"
