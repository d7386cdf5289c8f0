"""One renderer for every listing: a rich table sized to the terminal, or the same rows as JSON.

Tables stay readable at 80 columns and wider: each column says whether it
holds text (wraps, never cut) or a number (never wrapped or cut: a column too
narrow for a number is dropped instead, least important first), and below
which terminal width it is dropped. ``--json`` prints every field of the same
rows, so a table never shows what the JSON does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.cli.output import out, print_json


@dataclass(frozen=True)
class Column:
    """One column: its header, how to read a cell from a row, and when to show it.

    Attributes:
        cell: row -> the cell's text (plain text: escaped here).
        number: right-aligned, never wrapped or cut.
        min_width: the terminal width below which the column is left out (0: always shown).
    """

    header: str
    cell: Callable[[Any], str]
    number: bool = False
    min_width: int = 0


def build_table(
    rows: Sequence[Any],
    columns: Sequence[Column],
    *,
    width: int,
    title: str = "",
    caption: str = "",
    style: Callable[[Any], str | None] = lambda row: None,
) -> Table:
    """A table of the columns that fit ``width``; text wraps, numbers are whole."""
    shown = [c for c in columns if width >= c.min_width]
    table = Table(title=escape(title) if title else None, caption=escape(caption) if caption else None)
    table.caption_justify = "left"
    for column in shown:
        if column.number:
            table.add_column(escape(column.header), justify="right", no_wrap=True, overflow="ignore")
        else:
            table.add_column(escape(column.header), overflow="fold")
    for row in rows:
        table.add_row(*(escape(column.cell(row)) for column in shown), style=style(row))
    return table


def emit(data: Any, as_json: bool, tables: Callable[[int], Sequence[Any]], empty: str | None = None) -> None:
    """Print ``data`` as JSON, or the renderables ``tables(width)`` builds for this terminal's width."""
    if as_json:
        print_json(data)
        return
    console = out()
    items = list(tables(console.width))
    if not items and empty:
        from bench.cli.output import err

        err().print(empty, highlight=False)
    for item in items:
        console.print(item)
