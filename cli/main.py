"""The ``modeldb`` command. Errors print one clear line, never a traceback."""
from __future__ import annotations

import csv
import io
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from modeldb.core.config import Settings
from modeldb.core.exceptions import ModelDBError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="ModelDB, event-streamed: track ML work as events, ask questions in SQL.")
services_app = typer.Typer(no_args_is_help=True, help="Start and stop local Kafka and ClickHouse for development.")
app.add_typer(services_app, name="services")
# Piped or captured output (CI logs, `make demo | less`) is not cut down to 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    return Settings.load()


def _embedded(settings: Settings) -> bool:
    return settings.transport_uri.scheme == "file" and settings.warehouse_uri.scheme == "chdb"


def _runner(settings: Settings, warehouse: Any) -> Any:
    from modeldb.stream_processors.local import LocalRunner

    return LocalRunner.from_settings(settings, warehouse)


def catch_up(settings: Settings, warehouse: Any, quiet: bool = False) -> Any:
    """Materialize whatever the file log has that the warehouse has not seen, with progress."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    runner = _runner(settings, warehouse)
    backlog = runner.backlog_bytes()
    if quiet or backlog < 1_000_000:
        return runner.catch_up()
    with Progress(TextColumn("materializing"), BarColumn(), TextColumn("{task.completed:,.0f} events"),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("events", total=None)
        return runner.catch_up(lambda stats: progress.update(task, advance=stats.events + stats.dead))


def render(result: Any, fmt: str) -> str | None:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(result.columns, row)) for row in result.rows], default=str, indent=1)
    table = Table(show_lines=False, header_style="bold")
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*[_cell(v) for v in row])
    out.print(table)
    out.print(f"[dim]{len(result.rows)} row(s)[/dim]")
    return None


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command()
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

    _check_format(fmt, output)
    if query.startswith("@"):
        path = Path(query[1:])
        if not path.exists():
            raise ModelDBError(f"SQL file {path} does not exist")
        query = path.read_text()
    params = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ModelDBError(f"--param takes name=value, got {item!r}")
        params[name] = value
    settings = _settings()
    warehouse = connect(settings)
    if _embedded(settings) and not no_catch_up:
        catch_up(settings, warehouse)
    _emit(warehouse.query(query, params, readonly=not write), fmt, output)


def _check_format(fmt: str, output: Optional[Path]) -> None:
    """Before any work: the output format, and a file for Parquet."""
    if fmt not in ("table", "csv", "json", "parquet"):
        raise ModelDBError(f"--format must be table, csv, json or parquet, not {fmt!r}")
    if fmt == "parquet" and output is None:
        raise ModelDBError("--format parquet writes a file: give it with --output results.parquet")


def _emit(result: Any, fmt: str, output: Optional[Path]) -> None:
    """Print or write a result in a format ``_check_format`` accepted."""
    if fmt == "parquet":
        result.to_pandas().to_parquet(output, index=False)
        err.print(f"wrote {len(result.rows):,} row(s) to {output}")
        return
    text = render(result, fmt)
    if text is None:
        return
    text = text if text.endswith("\n") else text + "\n"
    if output is not None:
        output.write_text(text)
        err.print(f"wrote {len(result.rows):,} row(s) to {output}")
    else:
        sys.stdout.write(text)


@app.command("query")
def query_command(
    name: Optional[str] = typer.Argument(None, help="The query (leave out to list them all)."),
    args: list[str] = typer.Argument(None, help="Arguments as key=value, e.g. metric=f1_score limit=5"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (required for parquet)."),
) -> None:
    """Run a named query: `modeldb query best_models metric=f1_score`, `modeldb query runs where="params.C > 1"`."""
    import inspect

    from modeldb import query as named

    if name is None:
        for key, fn in named.NAMES.items():
            params = " ".join(f"{p}=" for p in inspect.signature(fn).parameters)
            out.print(f"[bold]{key}[/bold] {params}\n    {(fn.__doc__ or '').splitlines()[0]}", soft_wrap=True)
        return
    if name not in named.NAMES:
        raise ModelDBError(f"no query {name!r}; queries: {', '.join(named.NAMES)}")
    _check_format(fmt, output)
    fn = named.NAMES[name]
    accepted = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    for item in args or []:
        key, sep, value = item.partition("=")
        if not sep or key not in accepted:
            raise ModelDBError(f"{name} takes {', '.join(f'{p}=…' for p in accepted)}; got {item!r}")
        default = accepted[key].default
        kwargs[key] = _argument(key, value, default)
    missing = [p for p, spec in accepted.items() if spec.default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ModelDBError(f"{name} needs {', '.join(f'{p}=…' for p in missing)}")
    try:
        answer = fn(**kwargs)
    except ValueError as exc:  # a bad filter, metric or id: the message names it
        raise ModelDBError(str(exc)) from None
    frames = answer if isinstance(answer, dict) else {"": answer}
    for title, frame in frames.items():
        if title:
            out.print(f"[bold]{title}[/bold]")
        _emit(_as_result(frame), fmt, output if not title else None)
        total = frame.attrs.get("total") if hasattr(frame, "attrs") else None
        if total is not None and total > len(frame):
            err.print(f"[dim]showing {len(frame):,} of {total:,}; limit=0 shows all[/dim]")


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


def _as_result(frame: Any) -> Any:
    from modeldb.warehouse.base import Result

    rows = [tuple(None if isinstance(v, float) and v != v else v for v in row)
            for row in frame.itertuples(index=False, name=None)]
    return Result([str(c) for c in frame.columns], [str(t) for t in frame.dtypes], rows)


@app.command()
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
        grid = Table(title=f"[bold]{name}[/bold]: {t['doc']}", title_justify="left", header_style="bold")
        for column in ("column", "type", "meaning"):
            grid.add_column(column)
        for row in t["columns"]:
            grid.add_row(*row)
        out.print(grid)


@app.command()
def process(
    once: bool = typer.Option(False, "--once", help="File log: materialize what is there, then exit."),
    group: Optional[str] = typer.Option(None, "--group", help="Kafka consumer group (MODELDB_CONSUMER_GROUP)."),
    engine: Optional[str] = typer.Option(None, "--engine",
                                         help="Kafka: faust (default) or confluent (MODELDB_PROCESSOR_ENGINE)."),
    log_format: Optional[str] = typer.Option(None, "--log-format",
                                             help="Structured log lines: text (key=value) or json (MODELDB_LOG_FORMAT)."),
) -> None:
    """Run the stream processor for the configured transport (Faust for Kafka, the local runner for the file log).

    It logs one structured line per event of note (started, assigned, progress every 5 s,
    warehouse_unavailable, dead_letters, stopped) and writes a heartbeat that `modeldb status` shows.
    """
    from modeldb.stream_processors.observe import configure_logging

    settings = _settings().with_overrides(processor_engine=engine, log_format=log_format and log_format.lower())
    if settings.processor_engine not in ("faust", "confluent"):
        raise ModelDBError(f"--engine must be faust or confluent, not {settings.processor_engine!r}")
    if settings.log_format not in ("text", "json"):
        raise ModelDBError(f"--log-format must be text or json, not {settings.log_format!r}")
    configure_logging(settings.log_format)
    if settings.transport_uri.scheme == "kafka":
        err.print(f"processing {settings.transport_uri.redacted} → {settings.warehouse_uri.redacted} "
                  f"({settings.processor_engine})")
        if settings.processor_engine == "faust":
            from modeldb.stream_processors.faust_app import run_worker

            run_worker(settings, group or settings.consumer_group)
            return
        _run_confluent(settings, group or settings.consumer_group)
        return
    from modeldb.warehouse.factory import connect

    warehouse = connect(settings)
    if once:
        stats = catch_up(settings, warehouse)
        err.print(f"materialized {stats.events:,} events ({stats.dead} dead letters) in {stats.seconds:.2f}s")
        return
    runner = _runner(settings, warehouse)
    stop = threading.Event()
    err.print(f"processing {settings.transport} → {warehouse.description} (Ctrl-C to stop)")
    try:
        runner.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


def _run_confluent(settings: Settings, group: str) -> None:
    import signal

    from modeldb.stream_processors.kafka_runner import KafkaBatchRunner
    from modeldb.stream_processors.topics import ensure_topics
    from modeldb.warehouse.factory import connect

    ensure_topics(settings)
    runner = KafkaBatchRunner(settings, connect(settings), group)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def replay() -> None:
    """Send events that were spilled to disk (broker down or timed out) to the configured transport."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from modeldb.producers.factory import make_transport
    from modeldb.producers.spill import SpillLog, replay as do_replay

    settings = _settings()
    spill = SpillLog(settings.spill_path)
    total = spill.pending_count()
    if not total:
        err.print("nothing to replay")
        return
    failed: list[bytes] = []
    transport = make_transport(settings, lambda key, value, reason: failed.append(value))

    def send(values: list[bytes]) -> list[bytes]:
        failed.clear()
        from modeldb.core.codec import decode

        for value in values:
            try:
                key = decode(value)["run_id"].encode()
            except ModelDBError:
                key = b""
            transport.publish(key, value)
        pending = transport.flush(settings.delivery_timeout_s)
        if pending:
            transport.close(1.0)
        return list(failed)

    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), console=err) as progress:
        task = progress.add_task("replay", total=total)
        result = do_replay(spill, send, progress=lambda n: progress.update(task, advance=n))
    transport.close(settings.exit_flush_timeout_s)
    err.print(f"replayed {result.sent:,} event(s) to {transport.description}; {result.failed} still undeliverable"
              + (f"; {result.corrupt} corrupt record(s) skipped" if result.corrupt else ""))
    if result.failed:
        raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Apply pending warehouse migrations."""
    from modeldb.warehouse.factory import connect
    from modeldb.warehouse.migrate import apply

    warehouse = connect(_settings(), migrate=False)
    ran = apply(warehouse)
    err.print(f"applied migrations {ran}" if ran else "warehouse is up to date")


@app.command()
def demo(
    runs: int = typer.Option(7, help="How many runs to track (5 to 10)."),
) -> None:
    """Log a small realistic project, materialize it, and answer questions about it in SQL."""
    from modeldb.devtools.demo import run_demo

    run_demo(_settings(), runs=runs, console=out)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def dashboard(
    port: int = typer.Option(8501, min=1, max=65535, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Only localhost by default: the dashboard has "
                             "no login of its own (see the README to put it behind authentication)."),
) -> None:
    """Start the Streamlit dashboard (read-only) on http://HOST:PORT."""
    import importlib.util
    import os

    settings = _settings()
    if host not in LOCAL_HOSTS:
        err.print(f"[yellow]warning:[/yellow] binding {host}: anyone who can reach this port can read every "
                  "project. The dashboard is read-only but has no login; put it behind an authenticating proxy "
                  "(README, 'Dashboard').", highlight=False)
    spec = importlib.util.find_spec("modeldb.dashboard.app")
    if spec is None or spec.origin is None:
        raise typer.BadParameter("the dashboard is not installed (modeldb.dashboard.app is missing)")
    os.environ.setdefault("MODELDB_HOME", str(settings.home))
    where = "embedded, this process owns it" if _embedded(settings) else "read-only"
    err.print(f"ModelDB dashboard on [bold]http://{host}:{port}[/bold]  (warehouse {settings.warehouse_uri.redacted}, "
              f"{where}). Ctrl-C stops it.", highlight=False)
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", spec.origin,
                              "--server.address", host, "--server.port", str(port), "--server.headless", "true",
                              "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                              "--global.developmentMode", "false", "--client.toolbarMode", "viewer"])


@services_app.command("up")
def services_up() -> None:
    """Start Kafka (KRaft) and ClickHouse on free loopback ports."""
    from modeldb.devtools import services

    settings = _settings()
    with err.status("starting Kafka and ClickHouse…"):
        started = services.up(settings.home)
    for service in started:
        out.print(f"{service.name:<11} pid {service.pid:<7} {service.url}")
    kafka = next(s for s in started if s.name == "kafka")
    ch = next(s for s in started if s.name == "clickhouse")
    out.print(f"\nexport MODELDB_TRANSPORT={kafka.url}/modeldb.events\nexport MODELDB_WAREHOUSE={ch.url}")


@services_app.command("down")
def services_down() -> None:
    """Stop the services started by `modeldb services up`."""
    from modeldb.devtools import services

    stopped = services.down(_settings().home)
    err.print(f"stopped {', '.join(s.name for s in stopped)}" if stopped else "no services were running")


@services_app.command("status")
def services_status() -> None:
    """Show the local services and whether they are alive."""
    from modeldb.devtools import services

    listed = services.status(_settings().home)
    if not listed:
        out.print("no services started (run `modeldb services up`)")
    for service in listed:
        state = "[green]up[/green]" if service.alive() else "[red]down[/red]"
        out.print(f"{service.name:<11} {state}  pid {service.pid:<7} {service.url}")


from modeldb.cli import stream as cli_stream  # noqa: E402  (it uses the consoles and settings above)

cli_stream.register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The driver logs each failed connection attempt with a traceback; we report it once, translated.
    logging.getLogger("clickhouse_driver.connection").setLevel(logging.CRITICAL)
    try:
        app()
    except ModelDBError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
