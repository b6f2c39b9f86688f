"""``modeldb status``, ``modeldb rebuild`` and ``modeldb dlq …``: running the stream, on the command line."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from modeldb.cli.main import _embedded, _settings, catch_up, err, out
from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError, TransportError, WarehouseError

dlq_app = typer.Typer(no_args_is_help=True, help="Inspect dead letters and re-send them after a fix.")


@contextmanager
def _kafka_errors(settings: Settings) -> Iterator[None]:
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
    return "[green]ok[/green]" if part.get("ok") else f"[red]down[/red] {part.get('error', '')}"


def status(
    group: Optional[str] = typer.Option(None, "--group", help="Consumer group (MODELDB_CONSUMER_GROUP)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Lag per partition, events per second, newest event's age, dead letters, and health of every part.

    Exits 1 when a part is down or no processor is alive, so it can serve as a health check.
    """
    from modeldb.stream_processors.status import gather

    figures = gather(_settings(), group)
    if as_json:
        out.print_json(json.dumps(figures, default=str))
    else:
        _print_status(figures)
    if figures["problems"]:
        raise typer.Exit(1)


def _print_status(s: dict[str, Any]) -> None:
    out.print(f"[bold]transport[/bold] {s['transport']}   [bold]warehouse[/bold] {s['warehouse']}   "
              f"[bold]group[/bold] {s['group']}")
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
              f"[bold]stored[/bold] {s.get('events_stored', 0):,} events   "
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
            table.add_row(w["worker"], w["engine"], w["health"], f"{w['events']:,}", str(w["dead"]),
                          f"{w['rate']:,.0f}", _age(w["heartbeat_age_s"]) + " ago", w["partitions"] or "—")
        out.print(table)
    for problem in s["problems"]:
        out.print(f"[yellow]![/yellow] {problem}", highlight=False)


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

    settings = _settings()
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
    with _kafka_errors(settings):
        backlog = rb.kafka_backlog(settings) if kafka else {}
    total = sum(high - low for low, high in backlog.values()) if kafka else None
    deleted = sum(low for low, _ in backlog.values())
    if deleted:
        err.print(f"[yellow]warning:[/yellow] the topic no longer holds its first {deleted:,} event(s) "
                  "(retention deleted them): the rebuild covers what is left")
    err.print(f"rebuilding {target.description} from {settings.transport_uri.redacted}"
              + (f" ({', '.join(sorted(tables))} only)" if tables else ""))
    columns = [TextColumn("rebuild"), BarColumn(), MofNCompleteColumn() if total else TextColumn("{task.completed:,} events"),
               TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("rebuild", total=total)
        advance = lambda n: progress.update(task, advance=n)  # noqa: E731
        if kafka:
            with _kafka_errors(settings):
                done = rb.rebuild_kafka(settings, target, tables, group=group, progress=advance)
        else:
            done = rb.rebuild_file(target_settings.with_overrides(transport=settings.transport), target, tables,
                                   progress=advance)
    if done.resumed:
        err.print(f"[yellow]note:[/yellow] group {group} had already committed {done.resumed:,} record(s); the rebuild "
                  "went on from there (give it a group of its own to start from the first event)")
    err.print(f"rebuilt {done.events:,} events into {done.rows:,} rows in {done.seconds:.1f}s "
              f"({done.rate:,.0f} events/s); {done.dead} undecodable event(s) skipped (already dead letters)")


def _letters(settings: Settings) -> Any:
    from modeldb.stream_processors.deadletter import store

    return store(settings)


def _read_letters(settings: Settings) -> list[Any]:
    with _kafka_errors(settings):
        return list(_letters(settings).letters())


def _materialized(settings: Settings, event_ids: list[str]) -> set[str]:
    """Which of these event ids are already in the warehouse."""
    if not event_ids:
        return set()
    from modeldb.warehouse.base import quote
    from modeldb.warehouse.factory import connect

    warehouse = connect(settings)
    if _embedded(settings):
        catch_up(settings, warehouse, quiet=True)
    found: set[str] = set()
    for start in range(0, len(event_ids), 1000):
        chunk = event_ids[start:start + 1000]
        listed = ", ".join(quote(x) for x in chunk)  # a tuple literal: 18.16 has no IN [array]
        result = warehouse.query(f"SELECT DISTINCT event_id FROM `{warehouse.database}`.events_raw "
                                 f"WHERE event_id IN ({listed})")
        found.update(r[0] for r in result.rows)
    return found


def _status_of(letter: Any, decoded: dict | None, materialized: set[str] | None) -> str:
    if decoded is None:
        return "undecodable"
    if materialized is None:
        return "decodes (warehouse unreachable)"
    return "materialized" if decoded["event_id"] in materialized else "ready to retry"


def _materialized_or_none(settings: Settings, event_ids: list[str]) -> set[str] | None:
    """For listing: a warehouse that is down leaves the status open instead of failing the list."""
    try:
        return _materialized(settings, event_ids)
    except WarehouseError as exc:
        err.print(f"[yellow]warning:[/yellow] {exc}", highlight=False)
        return None


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (newest last)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """Every dead letter: id, when, reason, source, and whether this code can now take it."""
    settings = _settings()
    store = _letters(settings)
    letters = _read_letters(settings)
    shown = letters[-limit:]
    decoded = [item.decoded() for item in shown]
    done = _materialized_or_none(settings, [d["event_id"] for d, _ in decoded if d is not None])
    if as_json:
        for item, (event, _) in zip(shown, decoded):
            typer.echo(json.dumps({"id": item.id, "ts": item.ts, "reason": item.reason, "source": item.source,
                                       "partition": item.partition, "offset": item.offset, "size": len(item.original),
                                       "status": _status_of(item, event, done)}))
        return
    table = Table(title=f"{len(letters)} dead letter(s) in {store.where}" + (f", last {limit}" if len(letters) > limit else ""),
                  title_justify="left", header_style="bold")
    for column in ("id", "when (UTC)", "reason", "from", "bytes", "now"):
        table.add_column(column, overflow="fold")
    for item, (event, _) in zip(shown, decoded):
        table.add_row(item.id, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.ts)), item.reason[:120],
                      f"{item.source.rsplit('/', 1)[-1]}[{item.partition}]@{item.offset}", f"{len(item.original):,}",
                      _status_of(item, event, done))
    out.print(table)


def _find(settings: Settings, ids: list[str]) -> list[Any]:
    wanted = set(ids)
    found = [item for item in _read_letters(settings) if item.id in wanted]
    missing = wanted - {item.id for item in found}
    if missing:
        raise ConfigError(f"no dead letter with id {', '.join(sorted(missing))} (see `modeldb dlq list`)")
    return found


@dlq_app.command("show")
def dlq_show(letter_id: str = typer.Argument(..., help="The id from `modeldb dlq list`.")) -> None:
    """One dead letter in full: reason, source, the original bytes, and what this code makes of them now."""
    settings = _settings()
    (item,) = _find(settings, [letter_id])
    event, reason_now = item.decoded()
    out.print(f"[bold]id[/bold] {item.id}\n[bold]when[/bold] {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(item.ts))}"
              f"\n[bold]reason[/bold] {item.reason}\n[bold]source[/bold] {item.source} partition {item.partition} "
              f"offset {item.offset}\n[bold]key[/bold] {item.key!r}\n[bold]bytes[/bold] {len(item.original):,}: "
              f"{item.original[:64].hex(' ')}{' …' if len(item.original) > 64 else ''}", highlight=False)
    if event is None:
        out.print(f"[bold]now[/bold] still undecodable: {reason_now}", highlight=False)
        return
    state = _status_of(item, event, _materialized_or_none(settings, [event["event_id"]]))
    out.print(f"[bold]now[/bold] decodes ({state}):")
    out.print_json(json.dumps(event, default=str))


@dlq_app.command("retry")
def dlq_retry(
    ids: Optional[list[str]] = typer.Argument(None, help="Ids from `modeldb dlq list`; none means every letter."),
    force: bool = typer.Option(False, "--force", help="Also re-send letters this code still cannot decode."),
) -> None:
    """Re-send dead letters to the event topic (or file log), for the processor to take them again.

    By default only letters that this code now decodes and that are not yet in the warehouse are sent.
    """
    settings = _settings()
    store = _letters(settings)
    letters = _find(settings, ids) if ids else _read_letters(settings)
    if not letters:
        err.print("no dead letters")
        return
    decoded = [(item, *item.decoded()) for item in letters]
    done = _materialized(settings, [event["event_id"] for _, event, _ in decoded if event is not None])
    send = [item for item, event, _ in decoded
            if (event is not None and event["event_id"] not in done) or (event is None and force)]
    undecodable = [(item, why) for item, event, why in decoded if event is None]
    already = sum(1 for _, event, _ in decoded if event is not None and event["event_id"] in done)
    with _kafka_errors(settings):
        sent = store.resend(settings, send) if send else 0
    err.print(f"re-sent {sent} dead letter(s) to {settings.transport_uri.redacted}; {already} already materialized; "
              f"{len(undecodable)} still undecodable" + ("" if force or not undecodable else " (kept; --force sends them)"))
    for item, why in undecodable[:5]:
        err.print(f"  {item.id}: {why}", highlight=False)
    if undecodable and not force:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("rebuild")(rebuild)
    app.add_typer(dlq_app, name="dlq")



