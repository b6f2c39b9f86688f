"""The CLI shows data literally and reports every user error as one line with exit code 2 (issue 16, "Why" 7, 8, 10)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from modeldb.cli import main
from modeldb.cli.output import LiteralConsole, check_format, render
from modeldb.core.display import literal, print_table, visible
from modeldb.core.exceptions import ModelDBError
from modeldb.warehouse.base import Result

HOSTILE = ["[/bold]", "[red]x[/red]", "root:x:0", "\x1b[31mred\x1b[0m", "a\rb", "bell\x07", "\u202egnp.exe"]


def shown(rows, columns=("v",)) -> str:
    buffer = io.StringIO()
    print_table(LiteralConsole(file=buffer, width=200, emoji=False, force_terminal=True, color_system=None),
                Result(list(columns), ["String"] * len(columns), rows))
    return buffer.getvalue()


def test_a_table_prints_markup_emoji_codes_and_escapes_literally():
    text = shown([(v,) for v in HOSTILE], columns=("[b]col:x:",))
    assert "[/bold]" in text and "[red]x[/red]" in text and "root:x:0" in text and "❌" not in text
    assert "\\x1b[31mred\\x1b[0m" in text and "a\\x0db" in text and "bell\\x07" in text and "\\u202egnp.exe" in text
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\u202e" not in text
    assert "[b]col:x:" in text


def test_a_plain_console_also_keeps_data_literal():
    """``modeldb demo`` prints answers on a console of its own: the table cells are literal there too."""
    buffer = io.StringIO()
    print_table(Console(file=buffer, width=200), Result(["v"], ["String"], [("[/bold]",), ("root:x:0",), ("\x1b[2J",)]))
    text = buffer.getvalue()
    assert "[/bold]" in text and "root:x:0" in text and "\\x1b[2J" in text and "\x1b[2J" not in text


def test_literal_and_visible():
    assert visible("tab\tnew\nline\x00\x7f\x9b") == "tab\tnew\nline\\x00\\x7f\\x9b"
    buffer = io.StringIO()
    data = literal("[/bold] :x: \x1b[0m")
    LiteralConsole(file=buffer, width=200, emoji=False).print(f"[bold]name[/bold] {data}")
    assert buffer.getvalue() == "name [/bold] :x: \\x1b[0m\n"


def test_csv_uses_newline_line_ends_and_keeps_data_exact():
    text = render(Result(["a", "b"], ["String", "String"], [("[red]x[/red]", "root:x:0\x1b")]), "csv")
    assert text == "a,b\n[red]x[/red],root:x:0\x1b\n" and "\r" not in text
    assert json.loads(render(Result(["a"], ["String"], [("\x1b[0m",)]), "json")) == [{"a": "\x1b[0m"}]


def test_output_into_a_missing_folder_or_a_directory_is_refused_before_any_work(tmp_path):
    for fmt in ("csv", "parquet", "json"):
        with pytest.raises(ModelDBError, match="does not exist"):
            check_format(fmt, tmp_path / "missing" / f"out.{fmt}")
    with pytest.raises(ModelDBError, match="is a directory"):
        check_format("csv", tmp_path)


def run_main(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["modeldb", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr()


def test_an_error_message_with_markup_in_it_is_one_literal_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MODELDB_HOME", str(tmp_path))
    code, captured = run_main(monkeypatch, capsys, "query", "[/bold]:x:\x1b[2J\nsecond")
    assert code == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no query '[/bold]:x:\\x1b[2J\\nsecond'")


@pytest.mark.parametrize("argv, message", [
    (["sql", "--bogus"], "No such option: --bogus (see `modeldb sql --help`)"),
    (["nope"], "No such command 'nope'"),
    (["sql"], "Missing argument"),
    (["dashboard", "--port", "0"], "Invalid value for '--port'"),
])
def test_usage_errors_are_one_line_too(monkeypatch, capsys, tmp_path, argv, message):
    monkeypatch.setenv("MODELDB_HOME", str(tmp_path))
    code, captured = run_main(monkeypatch, capsys, *argv)
    assert code == 2
    assert captured.err.splitlines() == [captured.err.strip()] and message in captured.err


def test_sql_files_that_cannot_be_read_are_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MODELDB_HOME", str(tmp_path))
    (tmp_path / "latin1.sql").write_bytes(b"SELECT '\xe9'")
    for target, message in [(tmp_path, "is a directory"), (tmp_path / "latin1.sql", "is not UTF-8 text"),
                            (tmp_path / "none.sql", "does not exist")]:
        code, captured = run_main(monkeypatch, capsys, "sql", f"@{target}")
        assert code == 2 and len(captured.err.splitlines()) == 1 and message in captured.err, captured.err


def test_an_os_error_from_the_environment_is_one_line(monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MODELDB_HOME", str(blocker / "home"))
    code, captured = run_main(monkeypatch, capsys, "process", "--once")
    assert code == 2 and len(captured.err.splitlines()) == 1
    assert captured.err.startswith("error: ") and "not a directory" in captured.err


def test_the_owner_message_names_a_live_owner_and_calls_a_dead_one_stale(tmp_path):
    from modeldb.warehouse.chdb_backend import _owner_message

    (tmp_path / ".owner").write_text(json.dumps({"pid": os.getpid(), "command": "modeldb sql", "since": 0}))
    assert f"is in use by process {os.getpid()} (modeldb sql)" in _owner_message(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (tmp_path / ".owner").write_text(json.dumps({"pid": child.pid, "command": "modeldb demo", "since": 0}))
    message = _owner_message(tmp_path)
    assert "is in use by" not in message
    assert f"process {child.pid} (modeldb demo), has exited" in message and "the lock is stale" in message


class FakeWarehouse:
    database = "modeldb"
    description = "chdb:///x?database=modeldb"

    def __init__(self, answer):
        self.answer = answer

    def query(self, sql, params=None, readonly=True):
        if isinstance(self.answer, Exception):
            raise self.answer
        return Result(["v", "n"], ["UInt32", "UInt64"], [self.answer])


def test_ahead_of_code_reads_the_schema_version_without_writing():
    from modeldb.core.exceptions import WarehouseError
    from modeldb.warehouse.ddl import migrations
    from modeldb.warehouse.migrate import ahead_of_code

    newest = max(m.version for m in migrations())
    assert ahead_of_code(FakeWarehouse((newest, 3))) is None
    assert ahead_of_code(FakeWarehouse((0, 0))) is None
    assert ahead_of_code(FakeWarehouse(WarehouseError("Code: 60. UNKNOWN_TABLE", 60))) is None
    problem = ahead_of_code(FakeWarehouse((newest + 1, 4)))
    assert f"is at schema version {newest + 1}, but this modeldb only knows up to {newest}" in problem
