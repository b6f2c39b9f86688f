"""``modeldb dlq list|show|retry``: inspect dead letters and re-send them after a fix."""
from __future__ import annotations

import json
import time
from typing import Any, Optional

import typer
from rich.table import Table

from modeldb import embedded
from modeldb.cli.output import catch_up, err, load_settings, out
from modeldb.cli.stream import kafka_errors
from modeldb.core.config import Settings
from modeldb.core.display import cell, literal
from modeldb.core.exceptions import ConfigError, WarehouseError

commands = typer.Typer(no_args_is_help=True, help="Inspect dead letters and re-send them after a fix.")


def _letters(settings: Settings) -> Any:
    from modeldb.stream_processors.deadletter import store

    return store(settings)


def _read_letters(settings: Settings) -> list[Any]:
    with kafka_errors(settings):
        return list(_letters(settings).letters())


def _materialized(settings: Settings, event_ids: list[str]) -> set[str]:
    """Which of these event ids are already in the warehouse."""
    if not event_ids:
        return set()
    from modeldb.warehouse.base import quote
    from modeldb.warehouse.factory import connect

    warehouse = connect(settings)
    if embedded.is_embedded(settings):
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
        err.print(f"[yellow]warning:[/yellow] {literal(exc)}", highlight=False)
        return None


@commands.command("list")
def dlq_list(
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (newest last)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """Every dead letter: id, when, reason, source, and whether this code can now take it."""
    settings = load_settings()
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
    table = Table(title=f"{len(letters)} dead letter(s) in {literal(store.where)}" + (f", last {limit}" if len(letters) > limit else ""),
                  title_justify="left", header_style="bold")
    for column in ("id", "when (UTC)", "reason", "from", "bytes", "now"):
        table.add_column(column, overflow="fold")
    for item, (event, _) in zip(shown, decoded):
        table.add_row(cell(item.id), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.ts)), cell(item.reason[:120]),
                      cell(f"{item.source.rsplit('/', 1)[-1]}[{item.partition}]@{item.offset}"), f"{len(item.original):,}",
                      cell(_status_of(item, event, done)))
    out.print(table)


def _find(settings: Settings, ids: list[str]) -> list[Any]:
    wanted = set(ids)
    found = [item for item in _read_letters(settings) if item.id in wanted]
    missing = wanted - {item.id for item in found}
    if missing:
        raise ConfigError(f"no dead letter with id {', '.join(sorted(missing))} (see `modeldb dlq list`)")
    return found


@commands.command("show")
def dlq_show(letter_id: str = typer.Argument(..., help="The id from `modeldb dlq list`.")) -> None:
    """One dead letter in full: reason, source, the original bytes, and what this code makes of them now."""
    settings = load_settings()
    (item,) = _find(settings, [letter_id])
    event, reason_now = item.decoded()
    out.print(f"[bold]id[/bold] {literal(item.id)}\n[bold]when[/bold] {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(item.ts))}"
              f"\n[bold]reason[/bold] {literal(item.reason)}\n[bold]source[/bold] {literal(item.source)} partition "
              f"{literal(item.partition)} offset {literal(item.offset)}\n[bold]key[/bold] {literal(repr(item.key))}"
              f"\n[bold]bytes[/bold] {len(item.original):,}: "
              f"{item.original[:64].hex(' ')}{' …' if len(item.original) > 64 else ''}", highlight=False)
    if event is None:
        out.print(f"[bold]now[/bold] still undecodable: {literal(reason_now)}", highlight=False)
        return
    state = _status_of(item, event, _materialized_or_none(settings, [event["event_id"]]))
    out.print(f"[bold]now[/bold] decodes ({literal(state)}):")
    out.print_json(json.dumps(event, default=str))


@commands.command("retry")
def dlq_retry(
    ids: Optional[list[str]] = typer.Argument(None, help="Ids from `modeldb dlq list`; none means every letter."),
    force: bool = typer.Option(False, "--force", help="Also re-send letters this code still cannot decode."),
) -> None:
    """Re-send dead letters to the event topic (or file log), for the processor to take them again.

    By default only letters that this code now decodes and that are not yet in the warehouse are sent.
    """
    settings = load_settings()
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
    with kafka_errors(settings):
        sent = store.resend(settings, send) if send else 0
    err.print(f"re-sent {sent} dead letter(s) to {literal(settings.transport_uri.redacted)}; {already} already materialized; "
              f"{len(undecodable)} still undecodable" + ("" if force or not undecodable else " (kept; --force sends them)"))
    for item, why in undecodable[:5]:
        err.print(f"  {literal(item.id)}: {literal(why)}", highlight=False)
    if undecodable and not force:
        raise typer.Exit(1)
