"""The SQL sandbox on both backends: the same corpus, the same refusals, the same limits.

The corpus lives in tests/unit/test_sandbox_policy.py (which checks the policy without services);
here every statement is sent through ``Warehouse.query`` to chDB and to the ClickHouse 18.16
server, and nothing it tried may have happened: no HTTP request reached the canary, no file was
written, no table was dropped.
"""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from modeldb.core.exceptions import ReadOnlyError, WarehouseError
from modeldb.warehouse.queries.adhoc import run_sql
from modeldb.warehouse.sandbox import SandboxLimits
from tests.unit.test_sandbox_policy import ESCAPES, GENERATORS, LEGIT, NEW_SYNTAX, fill, readme_examples, uses_map

SLOW = "SELECT count() FROM system.numbers WHERE sipHash64(number) = 1"  # never ends by itself


@pytest.fixture(scope="module")
def canary():
    """A local HTTP server that counts every request: url(), oss(), cosn(), s3() must never reach it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret")

        do_HEAD = do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def test_the_escape_corpus_is_refused_and_nothing_happens(warehouse, canary):
    url, hits = canary
    db = warehouse.database
    outfiles = [Path(p) for p in ("/tmp/modeldb_sandbox_outfile.txt", "/tmp/modeldb_sandbox_insert.txt")]
    for path in outfiles:
        path.unlink(missing_ok=True)
    wrong = []
    for sql, refusal in ESCAPES:
        try:
            warehouse.query(fill(sql, db, url))
            wrong.append((sql, "ran"))
        except ReadOnlyError as exc:
            if not str(exc).startswith("refused: ") or "\n" in str(exc):
                wrong.append((sql, str(exc)))
        except WarehouseError as exc:
            wrong.append((sql, f"not a refusal: {exc}"))
    assert not wrong, "\n".join(f"{s!r}: {w}" for s, w in wrong)
    assert len(ESCAPES) > 200
    assert hits == []
    assert not any(path.exists() for path in outfiles)
    assert warehouse.query(f"EXISTS TABLE `{db}`.params").scalar() == 1


def test_refusals_are_the_same_line_on_both_backends(warehouse):
    with pytest.raises(ReadOnlyError, match=r"^refused: table function filesystem\(\) is not allowed \(allowed: "):
        warehouse.query("SELECT name, content FROM filesystem('/etc') WHERE name = 'passwd'")
    with pytest.raises(ReadOnlyError, match=r"^refused: table function eval\(\) is not allowed"):
        warehouse.query("SELECT * FROM eval(concat('SELECT * FROM fi', 'le(''/etc/passwd'')')) "
                        "SETTINGS allow_experimental_eval_table_function = 1")
    with pytest.raises(ReadOnlyError, match=r"^refused: a SETTINGS clause is not allowed"):
        warehouse.query("SELECT 1 SETTINGS allow_experimental_eval_table_function = 1")
    with pytest.raises(ReadOnlyError, match=r"^refused: table system\.users is not allowed"):
        warehouse.query("-- just a comment\nSELECT name FROM system.users")


def test_legitimate_queries_and_every_readme_example_run(warehouse):
    db = warehouse.database
    for sql in LEGIT:
        warehouse.query(fill(sql, db))
    for sql in NEW_SYNTAX:
        if warehouse.capabilities.readonly_table_functions:  # newer than 18.16
            warehouse.query(fill(sql, db))
        else:
            with pytest.raises(WarehouseError) as info:
                warehouse.query(fill(sql, db))
            assert info.value.code == 62 and not isinstance(info.value, ReadOnlyError)  # the server's syntax error
    examples = [sql for sql in readme_examples(db) if warehouse.capabilities.maps or not uses_map(sql)]
    assert len(examples) >= 13
    for sql in examples:
        warehouse.query(sql)
        warehouse.frame(sql)


def test_the_allowed_row_generators(warehouse):
    """The sandbox allows them on both backends; 18.16's own readonly=1 refuses every table function."""
    for sql in GENERATORS:
        sql = fill(sql, warehouse.database)
        if warehouse.capabilities.readonly_table_functions:
            warehouse.query(sql)
        elif sql.startswith("SELECT * FROM view("):
            with pytest.raises(WarehouseError, match="Syntax error"):  # 18.16 has no view()
                warehouse.query(sql)
        else:
            with pytest.raises(ReadOnlyError, match="Table functions are forbidden in readonly mode"):
                warehouse.query(sql)


def test_unqualified_names_mean_the_warehouse_database(warehouse):
    warehouse.insert("tags", ["project", "run_id", "key", "value", "event_id", "ts", "ver"],
                     [("p", "r", "k", "v", "e", 1, 1)])
    assert warehouse.query("SELECT count() FROM tags").scalar() == 1
    assert warehouse.query(f"SELECT count() FROM `{warehouse.database}`.tags").scalar() == 1


def test_a_slow_query_is_stopped_by_the_time_limit(warehouse):
    warehouse.sandbox.limits = SandboxLimits(timeout_s=1)
    with pytest.raises(WarehouseError, match=r"^stopped: the query went over the sandbox's time limit "
                                             r"\(1 s; MODELDB_SQL_TIMEOUT_S\)") as info:
        warehouse.query(SLOW)
    assert info.value.code == 159
    assert warehouse.query("SELECT 1").scalar() == 1  # the connection is still good


def test_a_result_over_the_row_or_byte_limit_is_refused(warehouse):
    warehouse.sandbox.limits = SandboxLimits(max_rows=10)
    for sql in ["SELECT number FROM system.numbers LIMIT 100",
                "-- a leading comment\nSELECT number FROM system.numbers LIMIT 100",
                "/* c */ (SELECT number FROM system.numbers LIMIT 100) -- trailing"]:
        with pytest.raises(WarehouseError, match=r"^stopped: .*result size limit \(10 rows"):
            warehouse.query(sql)
        with pytest.raises(WarehouseError, match=r"^stopped: .*result size limit"):
            warehouse.frame(sql)
    assert len(warehouse.query("SELECT number FROM system.numbers LIMIT 10").rows) == 10
    warehouse.sandbox.limits = SandboxLimits(max_bytes=10_000)
    with pytest.raises(WarehouseError, match=r"^stopped: .*result size limit"):
        warehouse.query("SELECT toString(number) AS s FROM system.numbers LIMIT 100000")


def test_a_query_over_the_memory_limit_is_stopped(warehouse):
    warehouse.sandbox.limits = SandboxLimits(max_memory=20 * 1024 ** 2)
    with pytest.raises(WarehouseError, match=r"^stopped: the query went over the sandbox's memory limit"):
        warehouse.query("SELECT length(groupArray(toString(number))) FROM "
                        "(SELECT number FROM system.numbers LIMIT 20000000)")
    assert warehouse.query("SELECT 1").scalar() == 1


@pytest.mark.parametrize("sql", [
    "SELECT number FROM system.numbers LIMIT 30000",
    "-- a leading comment skipped the cap once\nSELECT number FROM system.numbers LIMIT 30000",
    "/* block */ SELECT number FROM system.numbers LIMIT 30000 -- and a trailing one",
    "(SELECT number FROM system.numbers LIMIT 15000) UNION ALL (SELECT number FROM system.numbers LIMIT 15000)",
])
def test_the_dashboard_row_cap_holds_whatever_the_comments(warehouse, sql):
    frame, truncated = run_sql(warehouse, sql, max_rows=10_000)
    assert truncated and len(frame) == 10_000


def test_the_dashboard_page_refuses_the_issue_cases(warehouse):
    for sql in ["SELECT name, content FROM filesystem('/etc') WHERE name = 'passwd'",
                "SELECT sleepEachRow(1) FROM numbers(40) SETTINGS max_block_size = 1",
                "-- hidden\nSELECT * FROM file('/etc/passwd', 'LineAsString')"]:
        with pytest.raises(ReadOnlyError, match="^refused: "):
            run_sql(warehouse, sql)
