"""``modeldb process``, ``replay``, ``migrate``, ``status`` and ``rebuild``: running the stream, on the command line."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from modeldb.cli.output import catch_up, err, load_settings, out
from modeldb.core.display import cell, literal
from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError, ModelDBError, TransportError

commands = typer.Typer()


@commands.command()
def process(
    once: bool = typer.Option(False, "--once", help="File log: materialize what is there, then exit."),
    group: Optional[str] = typer.Option(None, "--group", help="Kafka consumer group (MODELDB_CONSUMER_GROUP)."),
    engine: Optional[str] = typer.Option(None, "--engine",
                                         help="Kafka: confluent (default) or faust (MODELDB_PROCESSOR_ENGINE)."),
    log_format: Optional[str] = typer.Option(None, "--log-format",
                                             help="Structured log lines: text (key=value) or json (MODELDB_LOG_FORMAT)."),
) -> None:
    """Run the stream processor for the configured transport (Faust for Kafka, the local runner for the file log).

    It logs one structured line per event of note (started, assigned, progress every 5 s,
    warehouse_unavailable, dead_letters, stopped) and writes a heartbeat that `modeldb status` shows.
    """
    from modeldb.stream_processors.observe import configure_logging

    settings = load_settings().with_overrides(processor_engine=engine, log_format=log_format and log_format.lower())
    if settings.processor_engine not in ("faust", "confluent"):
        raise ModelDBError(f"--engine must be faust or confluent, not {settings.processor_engine!r}")
    if settings.log_format not in ("text", "json"):
        raise ModelDBError(f"--log-format must be text or json, not {settings.log_format!r}")
    configure_logging(settings.log_format)
    if settings.transport_uri.scheme == "kafka":
        err.print(f"processing {literal(settings.transport_uri.redacted)} → {literal(settings.warehouse_uri.redacted)} "
                  f"({settings.processor_engine})")
        if settings.processor_engine == "faust":
            from modeldb.stream_processors.faust_app import run_worker

            run_worker(settings, group or settings.consumer_group)
            return
        _run_confluent(settings, group or settings.consumer_group)
        return
    from modeldb.stream_processors.local import LocalRunner
    from modeldb.warehouse.factory import connect

    warehouse = connect(settings)
    if once:
        stats = catch_up(settings, warehouse)
        err.print(f"materialized {stats.events:,} events ({stats.dead} dead letters) in {stats.seconds:.2f}s")
        return
    runner = LocalRunner.from_settings(settings, warehouse)
    stop = threading.Event()
    err.print(f"processing {literal(settings.transport)} → {literal(warehouse.description)} (Ctrl-C to stop)")
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


@commands.command()
def replay() -> None:
    """Send events that were spilled to disk (broker down or timed out) to the configured transport."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from modeldb.producers.factory import make_transport
    from modeldb.producers.spill import SpillLog, replay as do_replay

    settings = load_settings()
    spill = SpillLog(settings.spill_path)
    with spill.replaying():  # a second replay stops here with one line (SpillBusy, rc 2)
        total = spill.pending_count()
        if not total and not spill.pending_files():
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
              + (f"; {result.corrupt} damaged region(s), {result.corrupt_bytes:,} byte(s), kept in "
                 f"{spill.damaged_path}" if result.corrupt else "")
              + (f"; {result.kept_files} file(s) kept for the next replay (their damaged bytes could not be "
                 "saved)" if result.kept_files else ""))
    if result.failed or result.corrupt:
        raise typer.Exit(1)


@commands.command()
def migrate() -> None:
    """Apply pending warehouse migrations."""
    from modeldb.warehouse.factory import connect
    from modeldb.warehouse.migrate import apply

    warehouse = connect(load_settings(), migrate=False)
    ran = apply(warehouse)
    err.print(f"applied migrations {literal(ran)}" if ran else "warehouse is up to date")


@contextmanager
def kafka_errors(settings: Settings) -> Iterator[None]:
    """A Kafka client error becomes one clear line naming the broker, not a traceback."""
    try:
        yield
    except Exception as exc:
        if type(exc).__name__ != "KafkaException":
            raise
        from modeldb.stream_processors.kafka_runner import kafka_error_text

        raise TransportError(f"Kafka ({settings.transport_uri.redacted}): {kafka_error_text(exc)}") from None


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _health(part: dict[str, Any] | None) -> str:
    if part is None:
        return "[dim]n/a[/dim]"
    return "[green]ok[/green]" if part.get("ok") else f"[red]down[/red] {literal(part.get('error', ''))}"


@commands.command()
def status(
    group: Optional[str] = typer.Option(None, "--group", help="Consumer group (MODELDB_CONSUMER_GROUP)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Lag per partition, events per second, newest event's age, dead letters, and health of every part.

    Exits 1 when a part is down or no processor is alive, so it can serve as a health check.
    """
    from modeldb.stream_processors.status import gather

    settings = load_settings()
    figures = gather(settings, group)
    _check_schema(settings, figures)
    if as_json:
        out.print_json(json.dumps(figures, default=str))
    else:
        _print_status(figures)
    if figures["problems"]:
        raise typer.Exit(1)


def _check_schema(settings: Settings, figures: dict[str, Any]) -> None:
    """A warehouse that answers but whose schema is ahead of this code is not ok: `sql`, `process`,
    `migrate` and `rebuild` all refuse it, so status says so and exits 1."""
    if not (figures.get("warehouse_health") or {}).get("ok"):
        return
    from modeldb.warehouse.factory import connect
    from modeldb.warehouse.migrate import ahead_of_code

    try:
        problem = ahead_of_code(connect(settings, migrate=False))
    except ModelDBError as exc:
        problem = str(exc)
    if problem:
        figures["warehouse_health"] = {"ok": False, "error": problem}
        figures["problems"].append(f"warehouse: {problem}")


def _print_status(s: dict[str, Any]) -> None:
    out.print(f"[bold]transport[/bold] {literal(s['transport'])}   [bold]warehouse[/bold] {literal(s['warehouse'])}   "
              f"[bold]group[/bold] {literal(s['group'])}")
    health = Table(show_header=True, header_style="bold", box=None)
    for column in ("part", "health", "detail"):
        health.add_column(column)
    broker = s.get("broker_health")
    if broker is not None:
        health.add_row("broker", _health(broker), f"{broker.get('brokers', 0)} broker(s)" if broker.get("ok") else "")
    wh = s.get("warehouse_health")
    health.add_row("warehouse", _health(wh), f"ClickHouse {wh.get('version')}, {wh.get('ms')} ms" if wh and wh.get("ok") else "")
    workers = s.get("workers", [])
    alive = sum(w["health"] == "ok" for w in workers)
    health.add_row("workers", "[green]ok[/green]" if alive else "[red]none alive[/red]", f"{alive} of {len(workers)} alive")
    out.print(health)
    lag = s.get("lag", s.get("lag_bytes"))
    unit = "events" if "topic" in s else "bytes"
    out.print(f"\n[bold]lag[/bold] {'—' if lag is None else format(lag, ',')} {unit}   "
              f"[bold]events/s[/bold] {s.get('events_per_s', 0):,.0f}   "
              f"[bold]newest event[/bold] {_age(s.get('newest_event_age_s'))} old   "
              f"[bold]stored[/bold] {s.get('events_stored', 0):,} events "
              f"({s.get('metric_points_stored', 0):,} metric points)   "
              f"[bold]dead letters[/bold] {s.get('dead_letters') if s.get('dead_letters') is not None else '—'}")
    if s.get("partitions"):
        table = Table(title="partitions", title_justify="left", header_style="bold")
        for column in ("partition", "end offset", "committed", "lag"):
            table.add_column(column, justify="right")
        for row in s["partitions"]:
            table.add_row(str(row["partition"]), f"{row['end']:,}",
                          "—" if row["committed"] is None else f"{row['committed']:,}", f"{row['lag']:,}")
        out.print(table)
    if workers:
        table = Table(title="workers (heartbeats)", title_justify="left", header_style="bold")
        for column in ("worker", "engine", "health", "events", "dead", "events/s", "heartbeat", "partitions"):
            table.add_column(column)
        for w in workers:
            table.add_row(cell(w["worker"]), cell(w["engine"]), cell(w["health"]), f"{w['events']:,}", str(w["dead"]),
                          f"{w['rate']:,.0f}", _age(w["heartbeat_age_s"]) + " ago", cell(w["partitions"] or "—"))
        out.print(table)
    for problem in s["problems"]:
        out.print(f"[yellow]![/yellow] {literal(problem)}", highlight=False)


@commands.command()
def rebuild(
    into: Optional[str] = typer.Option(None, "--into", help="Target warehouse URI (default: the configured one)."),
    table: Optional[list[str]] = typer.Option(None, "--table", help="Refill only this table (repeatable)."),
    group: Optional[str] = typer.Option(None, "--group",
                                        help="Kafka: commit progress to this consumer group, so an interrupted "
                                             "rebuild resumes and `modeldb process --group` goes on from its end."),
) -> None:
    """Re-materialize the warehouse (or some tables) from the first event of the topic or file log."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from modeldb.stream_processors import rebuild as rb
    from modeldb.warehouse.factory import connect

    settings = load_settings()
    tables = rb.check_tables(table)
    target_settings = settings.with_overrides(warehouse=into) if into else settings
    try:
        target_settings.warehouse_uri
    except ConfigError as exc:
        raise ConfigError(f"--into: {exc}".replace("MODELDB_WAREHOUSE: ", "")) from None
    kafka = settings.transport_uri.scheme == "kafka"
    if not kafka and settings.transport_uri.scheme != "file":
        raise ConfigError(f"rebuild reads a kafka:// topic or a file:// log, not {settings.transport_uri.scheme}://")
    if group and not kafka:
        raise ConfigError("--group is for a Kafka topic; the file log keeps its offsets in the warehouse")
    target = connect(target_settings)
    with kafka_errors(settings):
        backlog = rb.kafka_backlog(settings) if kafka else {}
    total = sum(high - low for low, high in backlog.values()) if kafka else None
    deleted = sum(low for low, _ in backlog.values())
    if deleted:
        err.print(f"[yellow]warning:[/yellow] the topic no longer holds its first {deleted:,} event(s) "
                  "(retention deleted them): the rebuild covers what is left")
    err.print(f"rebuilding {literal(target.description)} from {literal(settings.transport_uri.redacted)}"
              + (f" ({literal(', '.join(sorted(tables)))} only)" if tables else ""))
    columns = [TextColumn("rebuild"), BarColumn(), MofNCompleteColumn() if total else TextColumn("{task.completed:,} events"),
               TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("rebuild", total=total)
        advance = lambda n: progress.update(task, advance=n)  # noqa: E731
        if kafka:
            with kafka_errors(settings):
                done = rb.rebuild_kafka(settings, target, tables, group=group, progress=advance)
        else:
            done = rb.rebuild_file(target_settings.with_overrides(transport=settings.transport), target, tables,
                                   progress=advance)
    if done.resumed:
        err.print(f"[yellow]note:[/yellow] group {literal(group)} had already committed {done.resumed:,} record(s); the rebuild "
                  "went on from there (give it a group of its own to start from the first event)")
    err.print(f"rebuilt {done.events:,} events into {done.rows:,} rows in {done.seconds:.1f}s "
              f"({done.rate:,.0f} events/s); {done.dead} undecodable event(s) skipped (already dead letters)")
