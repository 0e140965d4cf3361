"""Tables an operator can read at 80 columns, and ``--wide`` for every column.

A :class:`FittingTable` never cuts an identifier: each column is given at least the width its
longest word needs (its longest cell, if it does not wrap). When the terminal is too narrow for
that, it drops columns in the order the table declares (least important first) and says which
it hid; when even the remaining ones do not fit, it prints each row as a block of ``column
value`` lines. ``--wide`` prints every column whatever the terminal's width (lines longer than
the terminal wrap there, as ``kubectl -o wide`` does): :func:`table_console` gives the console.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

WideOption = Annotated[
    bool, typer.Option("--wide", help="print every column, however wide the terminal (lines may wrap there)")
]
# Wide enough for any table: it takes its natural width, never this (tables do not expand).
WIDE_WIDTH = 10_000


def table_console(wide: bool = False, **kwargs: Any) -> Console:
    """The stdout console tables print to: the terminal's width, or with ``wide`` unlimited."""
    return Console(width=WIDE_WIDTH, **kwargs) if wide else Console(**kwargs)


class FittingTable(Table):
    """A rich Table that fits the width it is given without cutting a word or identifier.

    ``drop`` names columns (by header) in the order they are hidden when the table is too
    wide, least important first; columns not named are never hidden. Mark identifier columns
    ``no_wrap=True`` so they are never split across lines either.
    """

    def __init__(self, *headers: str | Column, drop: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*headers, **kwargs)
        self.drop = tuple(drop)

    def without(self, hidden: Sequence[str]) -> FittingTable:
        """A copy of this table without the columns headed ``hidden``."""
        table = copy.copy(self)
        kept = [c for c in self.columns if str(c.header) not in hidden]
        table.columns = [dataclasses.replace(c, _index=i) for i, c in enumerate(kept)]
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.rows:
            yield from super().__rich_console__(console, options)
            return
        headers = {str(c.header) for c in self.columns}
        droppable = [h for h in self.drop if h in headers]
        for n in range(len(droppable) + 1):
            table = self.without(droppable[:n])
            if fits(table, console, options):
                yield from Table.__rich_console__(table, console, options)
                if n:
                    yield Text(f"(hidden at this width: {', '.join(droppable[:n])}; --wide shows them)", style="dim")
                return
        yield from self._blocks(console, options)

    def _blocks(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Each row as ``column  value`` lines, every column; a value too long to sit beside its
        column's name goes on the line below it, at the full width (folded only if it is longer
        than the terminal)."""
        if self.title:
            yield Text(str(self.title), style="italic")
        names = [str(c.header) for c in self.columns]
        cells = [list(c.cells) for c in self.columns]
        label = max(cell_len(n) for n in names)
        beside = options.max_width - label - 2
        for r in range(len(self.rows)):
            block = _block(label)
            for name, column in zip(names, cells, strict=True):
                if Measurement.get(console, options, column[r]).maximum <= beside:
                    block.add_row(name, column[r])
                    continue
                block.add_row(name, "")
                yield block
                yield column[r]
                block = _block(label)
            yield block
            yield Text("")


def _block(label: int) -> Table:
    block = Table.grid(padding=(0, 2))
    block.add_column(style="bold", no_wrap=True, min_width=label)
    block.add_column(overflow="fold")
    return block


def fits(table: Table, console: Console, options: ConsoleOptions) -> bool:
    """True if rich lays ``table`` out within ``options.max_width`` giving every column at least
    its longest word (its longest line, for a no_wrap column): no identifier is cut or folded."""
    inner = options.update_width(max(options.max_width - table._extra_width, 1))
    widths = table._calculate_column_widths(console, inner)
    natural = inner.update_width(WIDE_WIDTH)
    for width, column in zip(widths, table.columns, strict=True):
        need = table._measure_column(console, natural, column)
        if width < (need.maximum if column.no_wrap else need.minimum):
            return False
    return sum(widths) + table._extra_width <= options.max_width
