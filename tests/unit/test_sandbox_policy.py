"""The SQL sandbox's policy, decided by ClickHouse's own parse (chDB in this process, parse only).

The corpus here is shared with tests/integration/test_sandbox.py, which runs it against both
backends. ``{db}`` is the warehouse's database, ``{url}`` a local HTTP canary.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from modeldb.core.exceptions import ConfigError, ReadOnlyError
from modeldb.warehouse import chdb_backend
from modeldb.core.config import Settings
from modeldb.warehouse.chdb_backend import parse
from modeldb.warehouse.sandbox import (ALLOWED_TABLE_FUNCTIONS, Catalogue, Sandbox, SandboxLimits, parse_tree,
                                       statement_kind)

# ClickHouse 26's system.table_functions (chDB 4.4), so that each is tested by name even if a
# later chDB drops one; test_every_table_function_clickhouse_knows_is_refused reads the live list.
TABLE_FUNCTIONS = """
SQLStandardValues arrowstream azureBlobStorage azureBlobStorageCluster bigquery cluster clusterAllReplicas cosn
deltaLake deltaLakeAzure deltaLakeAzureCluster deltaLakeCluster deltaLakeLocal deltaLakeS3 deltaLakeS3Cluster
dictionary eval executable file fileCluster filesystem format fuzzJSON fuzzQuery gcs generateRandom hdfs
hdfsCluster hudi hudiCluster iceberg icebergAzure icebergAzureCluster icebergCluster icebergHDFS
icebergHDFSCluster icebergLocal icebergLocalCluster icebergS3 icebergS3Cluster input jdbc loop merge
mergeTreeAnalyzeIndexes mergeTreeAnalyzeIndexesUUID mergeTreeCodecBlockCounts mergeTreeIndex mergeTreeProjection
mergeTreeTextIndex mongodb mysql null odbc oss paimon paimonAzure paimonAzureCluster paimonCluster paimonHDFS
paimonHDFSCluster paimonLocal paimonS3 paimonS3Cluster postgresql primes prometheusQuery prometheusQueryRange
python redis remote remoteSecure s3 s3Cluster sqlite timeSeriesData timeSeriesMetricFamilies timeSeriesMetrics
timeSeriesSamples timeSeriesSelector timeSeriesTags url urlCluster viewExplain viewIfPermitted ytsaurus
""".split()

_ARGUMENTS = {"viewIfPermitted": "SELECT 1 ELSE null('x UInt8')", "viewExplain": "'EXPLAIN', '', (SELECT 1)"}


def arguments(table_function: str) -> str:
    return _ARGUMENTS.get(table_function, "'x'")


# (statement, a fragment of the one-line refusal)
ESCAPES: list[tuple[str, str]] = [
    # the issue's own cases
    ("SELECT name, content FROM filesystem('/etc') WHERE name = 'passwd'", "table function filesystem()"),
    ("SELECT * FROM oss('{url}/bucket/key', 'RawBLOB')", "table function oss()"),
    ("SELECT * FROM cosn('{url}/bucket/key', 'RawBLOB')", "table function cosn()"),
    ("SELECT * FROM eval(concat('SELECT * FROM fi', 'le(''/etc/passwd'')')) "
     "SETTINGS allow_experimental_eval_table_function = 1", "refused"),
    ("SELECT * FROM eval(concat('SELECT * FROM fi', 'le(''/etc/passwd'')'))", "table function eval()"),
    ("SELECT sleepEachRow(1) FROM numbers(40) SETTINGS max_block_size = 1", "SETTINGS clause"),
    # odd spellings, places and nesting of table functions
    ("SELECT * FROM FILE('/etc/passwd', 'LineAsString')", "table function FILE()"),
    ("SELECT * FROM File('/etc/passwd', 'LineAsString')", "table function File()"),
    ("SELECT * FROM `file`('/etc/passwd', 'LineAsString')", "table function file()"),
    ("SELECT * FROM fIlEsYsTeM('/etc')", "table function fIlEsYsTeM()"),
    ("select * from url('{url}/x', 'RawBLOB')", "table function url()"),
    ("SELECT * FROM s3('{url}/b/k', 'RawBLOB')", "table function s3()"),
    ("SELECT * FROM {db}.runs AS r JOIN file('/etc/passwd', 'LineAsString') AS f ON 1", "table function file()"),
    ("SELECT * FROM {db}.runs, url('{url}/x', 'RawBLOB')", "table function url()"),
    ("SELECT * FROM Python(modeldb_insert_columns)", "table function Python()"),  # the points' insert path
    ("SELECT * FROM (SELECT * FROM (SELECT * FROM file('/etc/passwd', 'LineAsString')))", "table function file()"),
    ("WITH t AS (SELECT * FROM file('/etc/passwd', 'LineAsString')) SELECT * FROM t", "table function file()"),
    ("SELECT 1 UNION ALL SELECT count() FROM url('{url}/x', 'RawBLOB')", "table function url()"),
    ("SELECT 1 WHERE 1 IN (SELECT 1 FROM file('/etc/passwd', 'LineAsString'))", "table function file()"),
    ("SELECT (SELECT count() FROM url('{url}/x', 'RawBLOB'))", "table function url()"),
    ("SELECT * FROM view(SELECT * FROM file('/etc/passwd', 'LineAsString'))", "table function file()"),
    ("SELECT * FROM view(SELECT * FROM system.users)", "system.users"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "table function remote()"),
    ("SELECT * FROM merge('system', '.*')", "table function merge()"),
    ("SELECT * FROM input('x String')", "table function input()"),
    ("SELECT * FROM executable('id', 'TSV', 'x String')", "table function executable()"),
    ("SELECT * FROM loop(numbers(3)) LIMIT 5", "table function loop()"),
    ("SELECT * FROM dictionary('d')", "table function dictionary()"),
    ("SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')", "table function mysql()"),
    ("SELECT 1 INTERSECT SELECT count() FROM file('/etc/passwd', 'LineAsString')", "table function file()"),
    ("SELECT * FROM (VALUES (1), (2))", "table function SQLStandardValues()"),
    ("DESCRIBE TABLE file('/etc/passwd', 'LineAsString')", "table function file()"),
    ("DESCRIBE url('{url}/x', 'RawBLOB')", "table function url()"),
    # other databases and system tables
    ("SELECT * FROM system.tables", "system.tables"),
    ("SELECT name FROM system.users", "system.users"),
    ("SELECT query FROM system.processes", "system.processes"),
    ("SELECT * FROM system.query_log", "system.query_log"),
    ("SELECT * FROM system.settings", "system.settings"),
    ("SELECT * FROM `system`.`tables`", "system.tables"),
    ("SELECT * FROM SYSTEM.tables", "SYSTEM.tables"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "INFORMATION_SCHEMA.TABLES"),
    ("SELECT * FROM information_schema.columns", "information_schema.columns"),
    ("SELECT * FROM default.events", "database default"),
    ("SELECT * FROM _temporary_and_external_tables.t", "_temporary_and_external_tables.t"),
    ("SELECT * FROM another_db.runs", "database another_db"),
    ("SELECT * FROM {db}.runs AS r LEFT JOIN system.tables AS t ON 1", "system.tables"),
    ("SELECT * FROM system.one, system.databases", "system.databases"),
    ("SELECT 1 WHERE 'x' IN system.tables", "system.tables"),
    ("SELECT 1 WHERE 'x' NOT IN system.tables", "system.tables"),
    ("SELECT 1 WHERE 'x' GLOBAL IN (SELECT name FROM system.databases)", "system.databases"),
    ("SELECT (SELECT count() FROM system.tables)", "system.tables"),
    ("WITH t AS (SELECT * FROM system.tables) SELECT * FROM t", "system.tables"),
    ("SELECT 1 UNION ALL SELECT count() FROM system.databases", "system.databases"),
    ("SELECT 1 UNION DISTINCT (SELECT 2 EXCEPT SELECT count() FROM system.users)", "system.users"),
    ("SELECT EXISTS(SELECT 1 FROM system.users)", "system.users"),
    ("SELECT * FROM {db}.runs WHERE run_id IN (SELECT run_id FROM (SELECT name AS run_id FROM system.tables))",
     "system.tables"),
    ("SELECT * FROM `{db}`.`runs.x`", "dotted name"),
    ("DESCRIBE TABLE system.tables", "system.tables"),
    ("EXISTS TABLE system.tables", "system.tables"),
    # functions that read outside the query's tables
    ("SELECT file('/etc/passwd')", "function file()"),
    ("SELECT FILE('/etc/passwd')", "function FILE()"),
    ("SELECT joinGet('{db}.j', 'v', 1)", "function joinGet()"),
    ("SELECT joinGetOrNull('j', 'v', 1)", "function joinGetOrNull()"),
    ("SELECT dictGet('d', 'a', toUInt64(1))", "function dictGet()"),
    ("SELECT dictGetString('d', 'a', toUInt64(1))", "function dictGetString()"),
    ("SELECT dictHas('d', toUInt64(1))", "function dictHas()"),
    ("SELECT hasColumnInTable('system', 'users', 'name')", "function hasColumnInTable()"),
    ("SELECT getSetting('readonly')", "function getSetting()"),
    ("SELECT getSettingOrDefault('readonly', 0)", "function getSettingOrDefault()"),
    ("SELECT getServerSetting('path')", "function getServerSetting()"),
    ("SELECT getMergeTreeSetting('index_granularity')", "function getMergeTreeSetting()"),
    ("SELECT showCertificate()", "function showCertificate()"),
    ("SELECT filesystemAvailable()", "function filesystemAvailable()"),
    ("SELECT getMacro('replica')", "function getMacro()"),
    ("SELECT addressToSymbol(toUInt64(1))", "function addressToSymbol()"),
    ("SELECT demangle('x')", "function demangle()"),
    ("SELECT aiGenerate('write a poem')", "function aiGenerate()"),
    ("SELECT regionToName(toUInt32(1))", "function regionToName()"),
    ("SELECT __getScalar('x')", "function __getScalar()"),
    ("SELECT catboostEvaluate('/m.bin', 1)", "function catboostEvaluate()"),
    ("SELECT currentProfiles()", "function currentProfiles()"),
    ("SELECT getOSKernelVersion()", "function getOSKernelVersion()"),
    ("SELECT my_udf(1)", "function my_udf()"),
    ("SELECT count() FROM {db}.runs WHERE run_id = file('/etc/hostname')", "function file()"),
    ("SELECT arrayMap(x -> file(x), ['/etc/passwd'])", "function file()"),
    # settings
    ("SELECT 1 SETTINGS max_threads = 1", "SETTINGS clause"),
    ("SELECT 1 SETTINGS allow_introspection_functions = 1", "SETTINGS clause"),
    ("SELECT 1 SETTINGS readonly = 0", "SETTINGS clause"),
    ("SELECT 1 SETTINGS max_execution_time = 0, max_result_rows = 0", "SETTINGS clause"),
    ("SELECT * FROM (SELECT 1 SETTINGS allow_experimental_analyzer = 1)", "SETTINGS clause"),
    ("SELECT * FROM view(SELECT 1 SETTINGS max_memory_usage = 0)", "SETTINGS clause"),
    ("SELECT 1 UNION ALL SELECT 2 SETTINGS max_result_bytes = 0", "SETTINGS clause"),
    ("SET readonly = 0", "Set"),
    ("SET allow_experimental_eval_table_function = 1", "Set"),
    # multiple statements, comments, outputs
    ("SELECT 1; SELECT 2", "Multi-statements"),
    ("SELECT 1; DROP TABLE {db}.params", "Multi-statements"),
    ("/* harmless */ SELECT * FROM file('/etc/passwd', 'LineAsString')", "table function file()"),
    ("-- harmless\nSELECT * FROM system.users", "system.users"),
    ("SELECT 1 -- \n, name FROM system.users", "system.users"),
    ("SELECT /* a */ * /* b */ FROM /* c */ system . /* d */ users", "system.users"),
    ("SELECT 1 INTO OUTFILE '/tmp/modeldb_sandbox_outfile.txt'", "INTO OUTFILE"),
    ("SELECT 1 INTO OUTFILE '/tmp/modeldb_sandbox_outfile.txt' FORMAT CSV", "INTO OUTFILE"),
    ("SELECT 1 FORMAT JSON", "FORMAT clause"),
    ("SELECT * FROM {db}.runs FORMAT TabSeparated", "FORMAT clause"),
    # statements that are not reads
    ("DROP TABLE {db}.params", "Drop"),
    ("TRUNCATE TABLE {db}.params", "Truncate"),
    ("INSERT INTO {db}.tags (project) VALUES ('p')", "Insert"),
    ("INSERT INTO FUNCTION file('/tmp/modeldb_sandbox_insert.txt', 'CSV', 'x UInt8') VALUES (1)", "Insert"),
    ("ALTER TABLE {db}.params DELETE WHERE 1", "Alter"),
    ("DELETE FROM {db}.params WHERE 1", "refused"),
    ("CREATE TABLE {db}.evil (x UInt8) ENGINE = Memory", "Create"),
    ("CREATE FUNCTION evil AS x -> x", "refused"),
    ("RENAME TABLE {db}.params TO {db}.gone", "Rename"),
    ("OPTIMIZE TABLE {db}.params FINAL", "Optimize"),
    ("KILL QUERY WHERE 1", "refused"),
    ("SYSTEM SHUTDOWN", "refused"),
    ("SYSTEM DROP DNS CACHE", "refused"),
    ("GRANT ALL ON *.* TO default", "refused"),
    ("DETACH TABLE {db}.params", "refused"),
    ("ATTACH TABLE {db}.params", "refused"),
    ("USE system", "refused"),
    ("SHOW TABLES", "Show"),
    ("SHOW DATABASES", "Show"),
    ("SHOW PROCESSLIST", "Show"),
    ("SHOW GRANTS", "Show"),
    ("SHOW CREATE TABLE system.users", "Show"),
    ("EXPLAIN SELECT 1", "Explain"),
    ("EXPLAIN PIPELINE SELECT * FROM system.tables", "Explain"),
    ("EXISTS DATABASE system", "Exists"),
    ("CHECK TABLE {db}.params", "refused"),
    ("BACKUP TABLE {db}.params TO File('/tmp/modeldb_sandbox_backup')", "refused"),
    ("EXCHANGE TABLES {db}.params AND {db}.tags", "refused"),
] + [(f"SELECT * FROM {name}({arguments(name)})", f"table function {name}()") for name in TABLE_FUNCTIONS]

# What legitimate users ask: these pass the policy on both backends.
LEGIT = [
    "SELECT 1",
    "SELECT count() FROM {db}.runs",
    "SELECT count() FROM runs",  # unqualified: the warehouse's database
    "SELECT count() FROM `{db}`.`runs` AS r",
    "-- a leading comment\nSELECT count() FROM {db}.metrics",
    "/* block */ SELECT count() FROM {db}.metrics -- trailing",
    "WITH 3 AS n SELECT n * 2",
    "SELECT run_id FROM {db}.runs UNION ALL SELECT run_id FROM {db}.metrics",
    "SELECT r.run_id, m.value FROM {db}.runs AS r INNER JOIN {db}.metrics AS m ON r.run_id = m.run_id LIMIT 5",
    "SELECT count() FROM {db}.runs WHERE run_id IN (SELECT run_id FROM {db}.metrics)",
    "SELECT (SELECT count() FROM {db}.runs) AS n",
    "SELECT dummy FROM system.one",
    "SELECT number FROM system.numbers LIMIT 3",
    "SELECT arrayMap(x -> x + 1, [1, 2]) AS a, argMax(1, 2), countIf(1), toString(now()) FROM system.one",
    "SELECT uniqExactMerge(s) FROM (SELECT uniqExactState(number) AS s FROM (SELECT number FROM system.numbers LIMIT 10))",
    "SELECT project, count() FROM {db}.experiments GROUP BY project ORDER BY project",
    "SELECT * FROM {db}.params WHERE key = 'C' LIMIT 10",
    "DESCRIBE TABLE {db}.runs",
    "EXISTS TABLE {db}.runs",
    "SELECT 1;",
]
# Syntax ClickHouse 18.16 does not have (the server says so; the sandbox passes it).
NEW_SYNTAX = [
    "WITH t AS (SELECT run_id FROM {db}.runs) SELECT count() FROM t",
]
# The allowed row generators: passed by the sandbox; the 18.16 server's own readonly=1 refuses
# every table function on top (Capabilities.readonly_table_functions).
GENERATORS = [
    "SELECT count() FROM numbers(10)",
    "SELECT count() FROM numbers_mt(10)",
    "SELECT count() FROM zeros(3)",
    "SELECT * FROM values('x UInt8', 1, 2)",
    "SELECT count() FROM generateSeries(1, 3)",
    "SELECT * FROM view(SELECT count() FROM {db}.runs)",
]

_README_FROM = "### The warehouse"
_README_TO = "## Benchmarks"


def readme_examples(database: str) -> list[str]:
    """Every example statement in README's "The warehouse", "Named queries" and "More questions in SQL"."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    text = text[text.index(_README_FROM):text.index(_README_TO)]
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", text, re.S):
        for statement in re.split(r";\s*\n", block):
            body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
            if body:
                statements.append(statement.strip().rstrip(";").replace("modeldb.", f"`{database}`."))
    return statements


_MAP_SYNTAX = re.compile(r"\b(metrics|params|params_num|tags)\[|mapContains\(")


def uses_map(sql: str) -> bool:
    """An example written with the current-state views' Map columns: it runs where the backend has Map."""
    return bool(_MAP_SYNTAX.search(sql))


def fill(sql: str, database: str, url: str = "http://127.0.0.1:9") -> str:
    return sql.replace("{db}", database).replace("{url}", url)


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox("wh_unit", chdb_backend.parse)


@pytest.mark.parametrize("sql, refusal", ESCAPES, ids=[s[:60] for s, _ in ESCAPES])
def test_escape_attempts_are_refused_with_one_line(sandbox, sql, refusal):
    with pytest.raises(ReadOnlyError) as info:
        sandbox.check(fill(sql, sandbox.database))
    message = str(info.value)
    assert message.startswith("refused: ") and "\n" not in message
    assert refusal in message
    assert info.value.code == 164


@pytest.mark.parametrize("sql", LEGIT + NEW_SYNTAX + GENERATORS)
def test_legitimate_queries_pass(sandbox, sql):
    sandbox.check(fill(sql, sandbox.database))


def test_every_readme_example_passes(sandbox):
    examples = readme_examples(sandbox.database)
    assert len(examples) >= 13
    for sql in examples:
        sandbox.check(sql)


@pytest.mark.parametrize("parallel_final", [True, False])
def test_every_named_query_passes(parallel_final):
    """Both ways of reading the current state: the views, and 18.16's newest (id, ver) rows."""
    from modeldb.warehouse.base import Capabilities
    from modeldb.warehouse.queries import ALL
    from modeldb.warehouse.queries.base import render

    class Target:
        database = "wh_named"
        capabilities = Capabilities("clickhouse", "18.16.1", embedded=False, server_readonly=True,
                                    parallel_final=parallel_final)

    checker = Sandbox(Target.database, chdb_backend.parse)
    for query in ALL.values():
        params = {**query.defaults, "project": "p", "run_id": "r", "metric": "m", "param": "C", "column": "c",
                  "limit": 5, "ids": ["a"]}
        checker.check(render(query.sql, Target), params)


def test_every_table_function_clickhouse_knows_is_refused(sandbox):
    known = set(chdb_backend.parse("SELECT name FROM system.table_functions").split())
    assert len(known) > 60 and {"filesystem", "oss", "cosn", "eval"} <= known
    for name in sorted(known - ALLOWED_TABLE_FUNCTIONS - {"view"}):
        with pytest.raises(ReadOnlyError, match=rf"table function {re.escape(name)}\(\) is not allowed"):
            sandbox.check(f"SELECT * FROM {name}({arguments(name)})")


def test_every_function_of_a_refused_category_is_refused(sandbox):
    rows = chdb_backend.parse("SELECT name FROM system.functions WHERE origin = 'System' AND alias_to = '' AND "
                              "categories IN ('Dictionary', 'Introspection', 'AI', 'Internal', 'Embedded Dictionary')")
    names = set(rows.split()) - {"_CAST"}  # the parser's own form of CAST
    assert len(names) > 50
    for name in names:
        with pytest.raises(ReadOnlyError, match="is not allowed"):
            sandbox.check(f"SELECT `{name}`(1)")


def test_a_placeholder_must_be_a_value():
    checker = Sandbox("wh_unit", chdb_backend.parse)
    assert checker.check("SELECT %(v)s AS v", {"v": 1}).kind == "select"
    for template in ["SELECT 1 -- %(v)s", "SELECT 1 /* %(v)s */", "SELECT `%(v)s` FROM system.one"]:
        with pytest.raises(ReadOnlyError, match="placeholder"):
            checker.check(template, {"v": "x"})


def test_without_params_the_text_is_checked_as_it_runs():
    """No binding happens without params, so `%(v)s` is not replaced before the check."""
    checker = Sandbox("wh_unit", chdb_backend.parse)
    with pytest.raises(Exception):
        checker.check("SELECT * FROM system.users WHERE 1 -- %(v)s")


def test_a_refused_template_is_not_remembered(sandbox):
    for _ in range(2):
        with pytest.raises(ReadOnlyError):
            sandbox.check("SELECT * FROM system.users")


def test_checked_templates_are_bounded():
    checker = Sandbox("wh_unit", chdb_backend.parse)
    checker.TEMPLATES_REMEMBERED = 3
    for n in range(6):
        checker.check(f"SELECT {n}")
    assert len(checker._checked) == 3


@pytest.mark.parametrize("dump", [
    "SelectWithUnionQuery (children 2)\n ExpressionList\n",         # a child missing
    "SelectWithUnionQuery\n ExpressionList\n",                       # an undeclared child
    "SelectWithUnionQuery (children 1)\n   ExpressionList\n",        # skipped a level
    "SelectWithUnionQuery\nSelectWithUnionQuery\n",                  # two roots
    "SelectWithUnionQuery (children 1)\n ExpressionList\nne (alias t)\n",  # a newline inside a name
    "",
])
def test_a_dump_that_does_not_add_up_is_refused(dump):
    with pytest.raises(ReadOnlyError, match="refused"):
        parse_tree(dump)


def test_unknown_node_kinds_are_refused():
    tree = parse_tree("SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SomethingNew\n")
    from modeldb.warehouse.sandbox import check_tree

    with pytest.raises(ReadOnlyError, match="SomethingNew is not allowed"):
        check_tree(tree, "db", Catalogue({}, {}))


def test_the_catalogue_allows_by_category_and_resolves_aliases_and_combinators():
    catalogue = Catalogue.load([
        ["plus", "0", "0", "", "Arithmetic", "System"], ["argMax", "1", "0", "", "Aggregate Functions", "System"],
        ["file", "0", "0", "", "Other", "System"], ["SUBSTR", "0", "1", "substring", "", "System"],
        ["substring", "0", "0", "", "String", "System"], ["udf", "0", "0", "", "String", "SQLUserDefined"],
    ])
    assert catalogue.allows("plus") and catalogue.allows("argMaxIf") and catalogue.allows("argMaxMergeState")
    assert catalogue.allows("substr") and catalogue.allows("SUBSTR")
    assert not catalogue.allows("file") and not catalogue.allows("udf") and not catalogue.allows("plusIf")
    assert not catalogue.allows("fileIf")


def test_statement_kind_sees_through_comments():
    assert statement_kind("-- a comment\nSELECT 1", parse) == "select"
    assert statement_kind("/* x */ (SELECT 1) UNION ALL SELECT 2", parse) == "select"
    assert statement_kind("DESCRIBE TABLE t", parse) is None
    assert statement_kind("SELECT 1; SELECT 2", parse) is None


def test_limits_have_sane_defaults_and_come_from_the_environment():
    limits = SandboxLimits()
    assert limits.timeout_s == 30 and limits.max_rows == 1_000_000
    settings = limits.settings()
    assert settings["result_overflow_mode"] == "throw" and settings["max_memory_usage"] == 2 * 1024 ** 3
    got = SandboxLimits.of(Settings.load(env={"MODELDB_SQL_TIMEOUT_S": "2.5", "MODELDB_SQL_MAX_ROWS": "10_000",
                                              "MODELDB_SQL_MAX_BYTES": "1000", "MODELDB_SQL_MAX_MEMORY": "100000000"}))
    assert got == SandboxLimits(2.5, 10_000, 1000, 100_000_000)
    assert SandboxLimits.of(Settings.load(env={})) == SandboxLimits()
    assert "max_result_rows = 10000" in got.clause() and "result_overflow_mode = 'throw'" in got.clause()
    for bad in ("0", "-1", "lots"):
        with pytest.raises(ConfigError, match="MODELDB_SQL_MAX_ROWS"):
            Settings.load(env={"MODELDB_SQL_MAX_ROWS": bad})
