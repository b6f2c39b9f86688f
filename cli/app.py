"""The ``modeldb`` command: the typer app built from the command groups, and ``main``.

Each group module (``sql``, ``stream``, ``dlq``, ``tools``) declares its commands on a typer
app of its own; this module, the top of the package, merges them into one. The groups share
only ``output`` (consoles, settings, printing), so nothing here imports in a circle.
Errors print one clear line, never a traceback: a ``ModelDBError`` exits 2, Ctrl-C exits 130.
"""
from __future__ import annotations

import logging
import sys

import typer

from modeldb.cli import dlq, sql, stream, tools
from modeldb.cli.output import err
from modeldb.core.exceptions import ModelDBError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="ModelDB, event-streamed: track ML work as events, ask questions in SQL.")
app.add_typer(sql.commands)     # sql, query, schema
app.add_typer(stream.commands)  # process, replay, migrate, status, rebuild
app.add_typer(dlq.commands, name="dlq")
app.add_typer(tools.commands)   # demo, dashboard, services


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
