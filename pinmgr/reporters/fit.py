"""Fit a table to the terminal without ever splitting a version or a package name.

rich, left alone, folds the widest columns first, and the widest are the versions: at 80
columns ``1.34+dfsg-1.2+deb12u1`` came out as ``1.34+dfsg-1.2+deb12u`` / ``1``, a different
version to anyone copying it. Here each column says what its cells are: *whole* values
(versions, names) keep their full width; prose (a status with its note, a list) wraps
between words. When that is too wide, in this order: a column with one value in every row
is said once above the table; context (env, host, role) is shortened in the middle with
``…``; the padding around the rules between columns goes; the least useful columns are left
out (the caller ranks them; a note says which). Widths are then
fixed per column, so rich has nothing left to fold. Only values that cannot fit side by side
at all (a version wider than the terminal) are still folded: there is no other way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Between two columns: " │ " (show_edge=False, pad_edge=False: nothing at the ends); in the
# compact layout, when that is too wide, the rule alone ("│", no padding).
SEPARATOR = 3
COMPACT_SEPARATOR = 1
ELLIPSIS_FLOOR = 10
# A whole value longer than this (no real version or package name we know of is: the long
# ones, linux-headers-6.1.0-13-cloud-amd64 or 1:2.38.1-5+deb12u3, are 34 and 18) may fold,
# rather than push every other column out of the table.
WHOLE_CAP = 36


@dataclass(frozen=True)
class Column:
    header: str
    whole: bool = True  # one value per cell (a version, a name): never split across lines
    shorten: bool = False  # may be cut with "…" (context: env, host, role)
    drop: int = 0  # > 0: may be left out when too narrow; the highest number goes first
    lift: bool = False  # one value in every row: said once above the table when too narrow


@dataclass(frozen=True)
class Fitted:
    table: Table
    left_out: tuple[str, ...]  # headers of the columns dropped for width
    context: str = ""  # "role app · release debian-12": lifted columns, to print above

    def print(self, console: Console, width: int) -> None:
        """The lifted context line, the table, and the note on what was left out."""
        if self.context:
            console.print(Text(self.context, style="bold"))
        console.print(self.table)
        if self.left_out:
            console.print(Text(self.note(width), style="dim"))

    def note(self, width: int) -> str:
        """One line naming what was left out, or ""."""
        if not self.left_out:
            return ""
        return (
            f"(at {width} columns, left out: {', '.join(self.left_out)}; "
            "a wider terminal or --format json shows them)"
        )


def _needed(column: Column, cells: Sequence[Text]) -> tuple[int, int]:
    """(width to show every cell on one line, narrowest width that splits nothing)."""
    texts = [column.header, *(c.plain for c in cells)]
    full = max(cell_len(line) for t in texts for line in t.split("\n"))
    if column.whole:
        return full, min(full, max(WHOLE_CAP, cell_len(column.header)))
    words = [w for t in texts for w in t.split()]
    return full, max((cell_len(w) for w in words), default=1)


def _shortened(cell: Text, width: int) -> Text:
    """``web-prod-eu-west-1a-017`` as ``web-p…-017``: hosts of a fleet differ at the end."""
    plain = cell.plain
    if cell_len(plain) <= width or "\n" in plain:
        return cell
    tail = (width - 1) // 2
    head = width - 1 - tail
    return Text(f"{plain[:head]}…{plain[len(plain) - tail :]}", style=cell.style)


def fitted(columns: Sequence[Column], rows: Sequence[Sequence[Text]], width: int) -> Fitted:
    """A rich table of ``rows`` no wider than ``width`` (see the module docstring)."""
    n = len(columns)
    needs = [_needed(c, [r[i] for r in rows]) for i, c in enumerate(columns)]
    widths = [least for _, least in needs]
    keep = list(range(n))
    separator = SEPARATOR

    def total() -> int:
        return sum(widths[i] for i in keep) + separator * (len(keep) - 1)

    lifted: list[str] = []
    if total() > width:  # a column saying the same in every row: say it once, above
        for i in list(keep):
            values = {r[i].plain for r in rows}
            if columns[i].lift and len(values) == 1:
                keep.remove(i)
                lifted.append(f"{columns[i].header} {values.pop()}")
    if total() > width:  # shorten context columns next: some of the value stays
        for i in keep:
            if columns[i].shorten:
                floor = max(ELLIPSIS_FLOOR, cell_len(columns[i].header))
                widths[i] = min(widths[i], floor)
    if total() > width:  # tighter rules cost nothing but looks: before any column goes
        separator = COMPACT_SEPARATOR
    droppable = sorted((i for i in keep if columns[i].drop), key=lambda i: -columns[i].drop)
    for i in droppable:
        if total() <= width:
            break
        keep.remove(i)
    # Room left: give it back, to shortened and wrapped columns, in column order.
    for i in keep:
        spare = width - total()
        if spare <= 0:
            break
        widths[i] = min(needs[i][0], widths[i] + spare)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    if separator == COMPACT_SEPARATOR:
        table = Table(show_edge=False, padding=0, header_style="bold")
    for i in keep:
        column = columns[i]
        cut = column.shorten and widths[i] < needs[i][0]
        table.add_column(
            Text(column.header),  # Text: a header (an environment's name) is never markup
            width=widths[i],
            no_wrap=cut,
            overflow="ellipsis" if cut else "fold",
        )
    for row in rows:
        table.add_row(
            *(_shortened(row[i], widths[i]) if columns[i].shorten else row[i] for i in keep)
        )
    left_out = tuple(
        c.header
        for i, c in enumerate(columns)
        if i not in keep and not any(lift.startswith(f"{c.header} ") for lift in lifted)
    )
    return Fitted(table, left_out, " · ".join(lifted))
