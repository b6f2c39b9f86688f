"""The ``modeldb`` command is assembled from its group modules: every command is there, and output renders."""
from __future__ import annotations

import json

import typer.main

from modeldb.cli import app, main
from modeldb.cli.output import render
from modeldb.warehouse.base import Result

COMMANDS = {"sql", "query", "schema", "process", "replay", "migrate", "status", "rebuild", "demo", "dashboard", "server"}
GROUPS = {"dlq": {"list", "show", "retry"}, "services": {"up", "down", "status"}}


def test_every_command_and_group_is_registered():
    group = typer.main.get_command(app)
    names = set(group.commands)
    assert names == COMMANDS | set(GROUPS)
    for name, subcommands in GROUPS.items():
        assert set(group.commands[name].commands) == subcommands
    assert callable(main)


def test_render_csv_and_json():
    result = Result(["one", "two"], ["UInt8", "String"], [(1, "a,b")])
    assert render(result, "csv").splitlines() == ["one,two", '1,"a,b"']
    assert json.loads(render(result, "json")) == [{"one": 1, "two": "a,b"}]


def test_a_table_shows_floats_short_and_counts_rows(capsys):
    from rich.console import Console

    from modeldb.core.display import print_table

    console = Console(width=80, force_terminal=False)
    print_table(console, Result(["x"], ["Float64"], [(0.123456789,), (2.0,)]))
    text = capsys.readouterr().out
    assert "0.123457" in text and "2 row(s)" in text
