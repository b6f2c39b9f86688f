"""``modeldb sql``, ``modeldb query`` and ``modeldb schema``: asking the warehouse."""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table
from rich.text import Text

from modeldb import embedded
from modeldb.cli.output import as_result, catch_up, check_format, emit, err, load_settings, out
from modeldb.core.exceptions import ModelDBError

commands = typer.Typer()


@commands.command()
def sql(
    query: str = typer.Argument(..., help="The SQL to run, or @path/to/file.sql"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (required for parquet)."),
    write: bool = typer.Option(False, "--write", help="Allow statements that change data (off by default)."),
    param: list[str] = typer.Option([], "--param", "-p", help="A query parameter name=value for %(name)s"),
    no_catch_up: bool = typer.Option(False, "--no-catch-up", help="Embedded mode: skip materializing new events first."),
) -> None:
    """Run ClickHouse SQL against the warehouse. Read-only unless --write."""
    from modeldb.warehouse.factory import connect

    check_format(fmt, output)
    if query.startswith("@"):
        query = read_sql_file(Path(query[1:]))
    params = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ModelDBError(f"--param takes name=value, got {item!r}")
        params[name] = value
    current = load_settings()
    warehouse = connect(current)
    if embedded.is_embedded(current) and not no_catch_up:
        catch_up(current, warehouse)
    emit(warehouse.query(query, params, readonly=not write), fmt, output)


def read_sql_file(path: Path) -> str:
    """The text of ``sql @file``; a missing, unreadable or non-UTF-8 file is one line naming it."""
    if not path.exists():
        raise ModelDBError(f"SQL file {path} does not exist")
    if path.is_dir():
        raise ModelDBError(f"SQL file {path} is a directory; give a file of SQL")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelDBError(f"SQL file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ModelDBError(f"cannot read SQL file {path}: {exc.strerror or exc}") from None


@commands.command("query")
def query_command(
    name: Optional[str] = typer.Argument(None, help="The query (leave out to list them all)."),
    args: list[str] = typer.Argument(None, help="Arguments as key=value, e.g. metric=f1_score limit=5"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (required for parquet)."),
) -> None:
    """Run a named query: `modeldb query best_models metric=f1_score`, `modeldb query runs where="params.C > 1"`."""
    from modeldb import query as named

    if name is None:
        for key, fn in named.NAMES.items():
            params = " ".join(f"{p}=" for p in inspect.signature(fn).parameters)
            out.print(f"[bold]{key}[/bold] {params}\n    {(fn.__doc__ or '').splitlines()[0]}", soft_wrap=True)
        return
    if name not in named.NAMES:
        raise ModelDBError(f"no query {name!r}; queries: {', '.join(named.NAMES)}")
    check_format(fmt, output)
    fn = named.NAMES[name]
    kwargs = _arguments(name, fn, args or [])
    try:
        answer = fn(**kwargs)
    except ValueError as exc:  # a bad filter, metric or id: the message names it
        raise ModelDBError(str(exc)) from None
    frames = answer if isinstance(answer, dict) else {"": answer}
    for title, frame in frames.items():
        if title:
            out.print(Text(title, style="bold"))
        emit(as_result(frame), fmt, output if not title else None)
        total = frame.attrs.get("total") if hasattr(frame, "attrs") else None
        if total is not None and total > len(frame):
            err.print(f"[dim]showing {len(frame):,} of {total:,}; limit=0 shows all[/dim]")


def _arguments(name: str, fn: Callable[..., Any], args: list[str]) -> dict[str, Any]:
    """``key=value`` words as the query function's keyword arguments, typed by its defaults."""
    accepted = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or key not in accepted:
            raise ModelDBError(f"{name} takes {', '.join(f'{p}=…' for p in accepted)}; got {item!r}")
        kwargs[key] = _argument(key, value, accepted[key].default)
    missing = [p for p, spec in accepted.items() if spec.default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ModelDBError(f"{name} needs {', '.join(f'{p}=…' for p in missing)}")
    return kwargs


def _argument(key: str, value: str, default: Any) -> Any:
    if isinstance(default, bool) or value in ("true", "false"):
        return value == "true"
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(value)
        except ValueError:
            raise ModelDBError(f"{key} must be an integer, got {value!r}") from None
    if key == "columns":
        return [c.strip() for c in value.split(",") if c.strip()]
    return value


@commands.command()
def schema(
    table: Optional[str] = typer.Argument(None, help="One table (default: all)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
) -> None:
    """Every warehouse table and column with its meaning, generated from the DDL."""
    from modeldb.warehouse.ddl import tables

    found = tables()
    if table is not None and table not in found:
        raise ModelDBError(f"no table {table!r}; tables: {', '.join(sorted(found))}")
    chosen = {table: found[table]} if table else found
    if fmt == "json":
        sys.stdout.write(json.dumps({name: {"meaning": t["doc"], "columns": [
            {"name": c, "type": typ, "meaning": m} for c, typ, m in t["columns"]]} for name, t in chosen.items()},
            indent=1) + "\n")
        return
    if fmt != "table":
        raise ModelDBError(f"--format must be table or json, not {fmt!r}")
    for name, t in chosen.items():
        grid = Table(title=Text.assemble((name, "bold"), f": {t['doc']}"), title_justify="left", header_style="bold")
        for column in ("column", "type", "meaning"):
            grid.add_column(column)
        for row in t["columns"]:
            grid.add_row(*[Text(str(v)) for v in row])
        out.print(grid)
