"""The ``modeldb`` command: the typer app built from the command groups, and ``main``.

Each group module (``sql``, ``stream``, ``dlq``, ``tools``) declares its commands on a typer
app of its own; this module, the top of the package, merges them into one. The groups share
only ``output`` (consoles, settings, printing), so nothing here imports in a circle.
Errors print one clear line on stderr, never a traceback, and exit 2: a ``ModelDBError``, a
usage error (click's, which typer would draw as a multi-line panel), and an ``OSError`` from the
environment (a read-only ``MODELDB_HOME``, a missing folder). The message is printed literally:
data in it is never markup. Ctrl-C exits 130; a closed pipe (``modeldb sql … | head``) exits 1
quietly.
"""
from __future__ import annotations

import errno
import logging
import sys

import typer
from rich.text import Text

# typer (0.29) vendors click and raises its own copies of click's exceptions, not the `click` package's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from modeldb.cli import dlq, sql, stream, tools
from modeldb.cli.output import err
from modeldb.core.display import one_line
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
        code = app(prog_name="modeldb", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `modeldb` or `modeldb dlq` alone: the help
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        sys.exit(2)
    except ClickException as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) is not None else ""
        fail(exc.format_message() + hint)
    except ModelDBError as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            sys.exit(1)
        fail(os_error_text(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def os_error_text(exc: OSError) -> str:
    """``[Errno 30] Read-only file system: '/x'`` as ``/x: read-only file system``."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{(exc.strerror or str(exc)).lower()}"


def fail(message: str) -> None:
    """The one error line: ``error: …`` on stderr, the message literal, then exit 2."""
    err.print(Text.assemble(("error:", "bold red"), " ", one_line(message)), highlight=False, soft_wrap=True)
    sys.exit(2)
