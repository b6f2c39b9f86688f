"""Data shown on a terminal, literally: the one look that ``modeldb sql`` and ``modeldb demo`` share.

It sits in the core layer because both the CLI and the development tools print answers, and
neither may import the other. It takes anything with ``columns`` and ``rows`` (a warehouse
``Result``), so it needs nothing from the warehouse.

Data is never markup: a run named ``[/bold]`` prints as ``[/bold]``, ``root:x:0`` stays
``root:x:0`` (no emoji codes), and a control character (an escape sequence in a param, a
carriage return) is shown as its escape, ``\\x1b``, so data cannot move the cursor, recolour
the terminal or hide what was printed before it. Table cells are ``Text`` objects, which rich
never parses; ``literal`` makes a value safe to embed in a markup string. CSV and JSON output
are exact data and do not go through here.
"""
from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates (they reorder what the reader sees).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character shown as its escape (tab and newline kept)."""
    return _CONTROL.sub(_escaped, text)


def literal(value: Any) -> str:
    """Any value as text to embed in a rich markup string: shown as it is, never interpreted."""
    return escape(visible(str(value)))


def one_line(value: Any) -> str:
    """A message on one line (newlines become spaces), controls visible, for an error line."""
    return visible(" ".join(part.strip() for part in str(value).splitlines() if part.strip()))


def print_table(console: Console, result: Any) -> None:
    """The columns and rows as a table, then how many rows there were."""
    table = Table(show_lines=False, header_style="bold")
    for column in result.columns:
        table.add_column(Text(visible(str(column))))
    for row in result.rows:
        table.add_row(*[cell(v) for v in row])
    console.print(table)
    console.print(Text(f"{len(result.rows)} row(s)", style="dim"))


def cell(value: Any) -> Text:
    """One value as shown: floats to six significant digits, everything else as ``str``, literally."""
    if isinstance(value, float):
        return Text(f"{value:.6g}")
    return Text(visible(str(value)))
