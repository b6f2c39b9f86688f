"""What every command group shares: the two consoles, the settings, and printing or writing an answer.

Answers go to stdout (``out``); progress, notes and errors go to stderr (``err``), so that
``modeldb sql … -f csv > file`` writes only the answer.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

from rich.console import Console

from modeldb import embedded
from modeldb.core.config import Settings
from modeldb.core.display import literal, print_table, visible
from modeldb.core.exceptions import ModelDBError


class LiteralConsole(Console):
    """A console that never lets data drive the terminal: control characters in any string it
    renders (table cells and titles included) are shown as escapes, and emoji codes are off.
    Markup stays for the code's own strings; data embedded in one goes through ``literal``."""

    def render_str(self, text: str, **kwargs: Any) -> Any:
        return super().render_str(visible(text), **kwargs)


# Piped or captured output (CI logs, `make demo | less`) is not cut down to 80 columns.
out = LiteralConsole(width=None if sys.stdout.isatty() else 140, emoji=False)
err = LiteralConsole(stderr=True, soft_wrap=True, emoji=False)
FORMATS = ("table", "csv", "json", "parquet")
PROGRESS_FROM_BYTES = 1_000_000  # a smaller backlog materializes too fast for a progress bar to help


def load_settings() -> Settings:
    return Settings.load()


def catch_up(settings: Settings, warehouse: Any, quiet: bool = False) -> Any:
    """The embedded catch-up, with a progress bar on stderr when the backlog is large."""
    return embedded.catch_up(settings, warehouse, None if quiet else _progress_bar)


@contextlib.contextmanager
def _progress_bar(backlog: int) -> Iterator[Any]:
    if backlog < PROGRESS_FROM_BYTES:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("materializing"), BarColumn(), TextColumn("{task.completed:,.0f} events"),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("events", total=None)
        yield lambda stats: progress.update(task, advance=stats.events + stats.dead)


def render(result: Any, fmt: str) -> str | None:
    """CSV or JSON as text; a table is printed to ``out`` (and None returned)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")  # the csv module's default is CRLF
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(result.columns, row)) for row in result.rows], default=str, indent=1)
    print_table(out, result)
    return None


def check_format(fmt: str, output: Optional[Path]) -> None:
    """Before any work: the output format, and a file for Parquet."""
    if fmt not in FORMATS:
        raise ModelDBError(f"--format must be table, csv, json or parquet, not {fmt!r}")
    if fmt == "parquet" and output is None:
        raise ModelDBError("--format parquet writes a file: give it with --output results.parquet")
    if output is not None:
        check_writable(output)


def check_writable(output: Path) -> None:
    """An output file the answer can be written to, checked before the query runs."""
    folder = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise ModelDBError(f"--output {output} is a directory; give a file name")
    if not folder.is_dir():
        raise ModelDBError(f"--output {output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ModelDBError(f"--output {output}: the folder {folder} is not writable")


def emit(result: Any, fmt: str, output: Optional[Path]) -> None:
    """Print or write a result in a format ``check_format`` accepted."""
    if fmt == "parquet":
        with _writing(output):
            result.to_pandas().to_parquet(output, index=False)
        err.print(f"wrote {len(result.rows):,} row(s) to {literal(output)}")
        return
    text = render(result, fmt)
    if text is None:
        return
    text = text if text.endswith("\n") else text + "\n"
    if output is not None:
        with _writing(output):
            output.write_text(text, encoding="utf-8", newline="")
        err.print(f"wrote {len(result.rows):,} row(s) to {literal(output)}")
    else:
        sys.stdout.write(text)


@contextlib.contextmanager
def _writing(output: Any) -> Iterator[None]:
    """A failed write of the answer (disk full, removed folder) is one line naming the file."""
    try:
        yield
    except OSError as exc:
        raise ModelDBError(f"cannot write {output}: {exc.strerror or exc}") from None


def as_result(frame: Any) -> Any:
    """A pandas DataFrame as a warehouse ``Result`` (NaN becomes NULL), to print like any answer."""
    from modeldb.warehouse.base import Result

    rows = [tuple(None if isinstance(v, float) and v != v else v for v in row)
            for row in frame.itertuples(index=False, name=None)]
    return Result([str(c) for c in frame.columns], [str(t) for t in frame.dtypes], rows)
