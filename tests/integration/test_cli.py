"""The `modeldb` command as a user runs it: real processes, real services, clear errors."""
from __future__ import annotations

import json
import os
import re
import subprocess

import modeldb
from modeldb.devtools import services
from tests.integration.conftest import run_cli, unique


def no_traceback(result):
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_a_second_process_gets_a_clear_message_when_chdb_is_owned(embedded_pipeline, chdb_dir, tmp_path):
    # This test process owns chdb_dir (the embedded pipeline opened it).
    assert embedded_pipeline.warehouse is not None
    result = run_cli("sql", "SELECT 1", MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=f"chdb://{chdb_dir}")
    assert result.returncode == 2
    assert f"is in use by process {os.getpid()}" in result.stderr
    assert "MODELDB_WAREHOUSE=clickhouse://" in result.stderr
    no_traceback(result)


def test_sql_prints_csv_and_json_and_refuses_drop_by_default(clickhouse, tmp_path):
    db = unique("cli")
    env = dict(MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=clickhouse.warehouse_uri(db))
    result = run_cli("sql", "SELECT 1 AS one, 'a,b' AS two", "--format", "csv", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one,two", '1,"a,b"']
    result = run_cli("sql", "SELECT %(x)s AS x", "--format", "json", "--param", "x=hello", **env)
    assert json.loads(result.stdout) == [{"x": "hello"}]

    dropped = run_cli("sql", f"DROP TABLE {db}.params", **env)
    assert dropped.returncode == 2 and "refused" in dropped.stderr
    no_traceback(dropped)
    exists = run_cli("sql", f"EXISTS TABLE {db}.params", "--format", "csv", **env)  # SHOW is refused by the sandbox
    assert exists.returncode == 0, exists.stderr
    assert exists.stdout.splitlines()[1:] == ["1"]


def test_sql_on_the_embedded_default_materializes_first(tmp_path):
    env = dict(MODELDB_HOME=str(tmp_path))
    logger = (
        "import modeldb\n"
        "modeldb.init(project='cli')\n"
        "with modeldb.start_run(name='r') as run:\n"
        "    run.log_metric('acc', 0.75)\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", logger], check=True, env={**os.environ, "MODELDB_HOME": str(tmp_path)})
    result = run_cli("sql", "SELECT name, value FROM modeldb.metrics", "--format", "csv", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["name,value", "acc,0.75"]


def test_unreachable_clickhouse_and_bad_uris_are_one_clear_line(tmp_path):
    port = services.free_port()
    result = run_cli("sql", "SELECT 1", MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=f"clickhouse://127.0.0.1:{port}/x")
    assert result.returncode == 2 and f"cannot reach ClickHouse at clickhouse://127.0.0.1:{port}/x" in result.stderr
    no_traceback(result)
    result = run_cli("sql", "SELECT 1", MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE="postgres://u:pw@h/db")
    assert result.returncode == 2 and "unsupported scheme 'postgres'" in result.stderr and "pw" not in result.stderr
    result = run_cli("sql", "SELECT 1", "--format", "xml", MODELDB_HOME=str(tmp_path))
    assert result.returncode == 2 and "--format must be table, csv, json or parquet" in result.stderr


def test_passwords_never_reach_the_output(clickhouse, tmp_path):
    url = f"clickhouse://default:hunter2@127.0.0.1:{clickhouse.port}/x"
    result = run_cli("sql", "SELECT 1", MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=url)
    assert "hunter2" not in result.stderr + result.stdout
    assert result.returncode == 2  # the server has no such password for `default`
    helptext = run_cli("sql", "--help", MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=url,
                       MODELDB_KAFKA_SASL_PASSWORD="hunter2")
    assert "hunter2" not in helptext.stdout


def test_process_once_reports_dead_letters(tmp_path):
    from modeldb.core.eventlog import EventLogWriter, frame

    modeldb.init(project="once", home=tmp_path)
    with modeldb.start_run() as run:
        run.log_param("a", 1)
    modeldb.flush()
    writer = EventLogWriter(tmp_path / "events.log")
    writer.append(frame(b"junk"))
    writer.close()
    result = run_cli("process", "--once", MODELDB_HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "materialized 3 events (1 dead letters)" in result.stderr
    letters = [json.loads(line) for line in (tmp_path / "deadletter.jsonl").read_text().splitlines()]
    assert letters[0]["reason"] == "record is 4 bytes, shorter than the 10-byte single-object header"
    assert letters[0]["size"] == 4 and letters[0]["source"].endswith("events.log")


def test_services_up_status_down(tmp_path):
    env = dict(MODELDB_HOME=str(tmp_path))
    up = run_cli("services", "up", timeout=240, **env)
    try:
        assert up.returncode == 0, up.stderr
        assert "export MODELDB_TRANSPORT=kafka://127.0.0.1:" in up.stdout
        exports = "\n".join(line for line in up.stdout.splitlines() if line.startswith("export "))
        shown = subprocess.run(["sh", "-c", exports + '\necho "$MODELDB_WAREHOUSE"'], capture_output=True, text=True)
        assert re.fullmatch(r"clickhouse://default@127\.0\.0\.1:\d+/modeldb\?http_port=\d+\n", shown.stdout), shown
        status = run_cli("services", "status", **env)
        assert status.stdout.count(" up ") == 2, status.stdout
    finally:
        down = run_cli("services", "down", **env)
    assert "stopped kafka, clickhouse" in down.stderr
    assert "down" in run_cli("services", "status", **env).stdout or "no services" in run_cli("services", "status", **env).stdout


def test_sql_writes_parquet_and_schema_explains_every_table(clickhouse, tmp_path):
    import pandas as pd

    db = unique("cli")
    env = dict(MODELDB_HOME=str(tmp_path), MODELDB_WAREHOUSE=clickhouse.warehouse_uri(db))
    target = tmp_path / "out.parquet"
    result = run_cli("sql", "SELECT number AS n, toString(number) AS s FROM system.numbers LIMIT 5",
                     "--format", "parquet", "--output", str(target), **env)
    assert result.returncode == 0, result.stderr
    assert pd.read_parquet(target).n.tolist() == [0, 1, 2, 3, 4]
    missing = run_cli("sql", "SELECT 1", "--format", "parquet", **env)
    assert missing.returncode == 2 and "--output" in missing.stderr
    no_traceback(missing)

    described = json.loads(run_cli("schema", "--format", "json", **env).stdout)
    assert described["lineage"]["meaning"].startswith("column lineage")
    assert all(c["meaning"] for t in described.values() for c in t["columns"])
    unknown = run_cli("schema", "nope", **env)
    assert unknown.returncode == 2 and "tables: _consumer_offsets, _processors, actions" in unknown.stderr


def test_plain_clickhouse_client_reads_the_warehouse(kafka_pipeline, clickhouse):
    """The tables are ordinary ClickHouse tables: the stock client answers questions too."""
    import subprocess

    pipeline = kafka_pipeline
    project = unique("client")
    pipeline.init(project)
    with modeldb.start_run(name="r") as run:
        run.log_metric("acc", 0.75)
    pipeline.settle()
    db = pipeline.warehouse.database
    out = subprocess.run(["clickhouse-client", "--port", str(clickhouse.port), "--query",
                          f"SELECT name, argMax(value, ver) FROM {db}.metrics WHERE project = '{project}' "
                          "GROUP BY name FORMAT TabSeparated"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["acc", "0.75"]
