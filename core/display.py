"""A query answer printed as a rich table: the one look that ``modeldb sql`` and ``modeldb demo`` share.

It sits in the core layer because both the CLI and the development tools print answers, and
neither may import the other. It takes anything with ``columns`` and ``rows`` (a warehouse
``Result``), so it needs nothing from the warehouse.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_table(console: Console, result: Any) -> None:
    """The columns and rows as a table, then how many rows there were."""
    table = Table(show_lines=False, header_style="bold")
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*[cell(v) for v in row])
    console.print(table)
    console.print(f"[dim]{len(result.rows)} row(s)[/dim]")


def cell(value: Any) -> str:
    """One value as shown: floats to six significant digits, everything else as ``str``."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
