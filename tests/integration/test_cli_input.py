"""The `modeldb` command against hostile data and careless input (issue 16, "Why" 7, 8 and 10), as a user runs it.

Every user error is one line on stderr with exit code 2; data prints literally; `status`
does not call a warehouse ok that every other command refuses.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import run_cli, unique


def one_error_line(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def log(home, code: str) -> None:
    script = f"import modeldb\nmodeldb.init(project='hostile')\n{code}\nmodeldb.flush()\n"
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "MODELDB_HOME": str(home)})


def test_hostile_names_and_values_print_literally(tmp_path):
    log(tmp_path, "with modeldb.start_run(name='[/bold]') as run:\n"
                  "    run.log_param('p', 'root:x:0 [red]x[/red] \\x1b[2J\\x1b]0;owned\\x07')\n"
                  "    run.log_metric('acc', 0.5)")
    runs = run_cli("query", "runs", "project=hostile", MODELDB_HOME=str(tmp_path))
    assert runs.returncode == 0, runs.stderr
    assert "[/bold]" in runs.stdout and "MarkupError" not in runs.stderr
    table = run_cli("sql", "SELECT value FROM modeldb.params", MODELDB_HOME=str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "root:x:0 [red]x[/red] \\x1b[2J\\x1b]0;owned\\x07" in table.stdout
    assert "❌" not in table.stdout and "\x1b" not in table.stdout and "\x07" not in table.stdout
    exact = run_cli("sql", "SELECT value FROM modeldb.params", "-f", "csv", MODELDB_HOME=str(tmp_path))
    assert exact.stdout == "value\nroot:x:0 [red]x[/red] \x1b[2J\x1b]0;owned\x07\n"  # csv: exact data, \n line ends


def test_unreadable_inputs_and_unwritable_outputs_are_one_line(tmp_path):
    env = dict(MODELDB_HOME=str(tmp_path / "home"))
    one_error_line(run_cli("sql", f"@{tmp_path}", **env), "is a directory")
    (tmp_path / "latin1.sql").write_bytes(b"SELECT '\xe9t\xe9'")
    one_error_line(run_cli("sql", f"@{tmp_path / 'latin1.sql'}", **env), "is not UTF-8 text")
    for fmt in ("csv", "parquet"):
        target = tmp_path / "missing" / f"out.{fmt}"
        one_error_line(run_cli("sql", "SELECT 1", "-f", fmt, "-o", str(target), **env),
                       f"the folder {tmp_path / 'missing'} does not exist")
    one_error_line(run_cli("sql", "SELECT 1", "-f", "csv", "-o", str(tmp_path), **env), "is a directory")
    one_error_line(run_cli("sql", "--bogus", **env), "No such option: --bogus")


def read_only_home(tmp_path):
    """A MODELDB_HOME that cannot be written: a read-only folder, or (as root, who may write anywhere) sysfs."""
    if os.geteuid() == 0:
        return "/sys/modeldb-home"
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o555)
    return str(home)


@pytest.mark.parametrize("args", [("process", "--once"), ("sql", "SELECT 1")])
def test_a_read_only_home_is_one_line(tmp_path, args):
    home = read_only_home(tmp_path)
    one_error_line(run_cli(*args, MODELDB_HOME=home), home)


def test_sandbox_refusals_and_limits_are_one_line(clickhouse, tmp_path):
    server = dict(MODELDB_HOME=str(tmp_path),
                  MODELDB_WAREHOUSE=clickhouse.warehouse_uri(unique("cliin")))
    embedded = dict(MODELDB_HOME=str(tmp_path / "embedded"))
    for env in (server, embedded):
        one_error_line(run_cli("sql", "SELECT * FROM file('/etc/passwd')", **env), "refused: ")
        one_error_line(run_cli("sql", "SHOW TABLES", **env), "refused: ")
    limited = run_cli("sql", "SELECT number FROM system.numbers LIMIT 100", "-f", "csv",
                      MODELDB_SQL_MAX_ROWS="5", **embedded)
    one_error_line(limited, "stopped: ")


def test_status_is_not_ok_on_a_warehouse_ahead_of_the_code(tmp_path):
    env = dict(MODELDB_HOME=str(tmp_path))
    assert run_cli("migrate", **env).returncode == 0
    future = run_cli("sql", "INSERT INTO modeldb._migrations VALUES (9999, 'from the future', 0)", "--write", **env)
    assert future.returncode == 0, future.stderr
    one_error_line(run_cli("sql", "SELECT 1", **env), "schema version 9999")  # the others refuse it …
    status = run_cli("status", **env)
    assert status.returncode == 1, status.stdout  # … and status says so: exit 1, as for any part that is down
    words = " ".join(status.stdout.split())  # the table wraps long details
    assert "warehouse down the warehouse" in words and "is at schema version 9999" in words
    assert "! warehouse: the warehouse" in words and "Traceback" not in status.stderr
    as_json = run_cli("status", "--json", **env)
    assert as_json.returncode == 1 and '"ok": false' in as_json.stdout
