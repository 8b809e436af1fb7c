"""``pinmgr diff`` output: a table or JSON of the packages that differ between two sides."""

from __future__ import annotations

from typing import Any, Protocol

from rich.text import Text

from pinmgr.diff.envdiff import ALL_ROLES, DiffRow
from pinmgr.model import Direction, HostFailure
from pinmgr.reporters.fit import Column, fitted
from pinmgr.reporters.text import json_text, log_safe, rendered, string_console

SCHEMA = "pinmgr.diff/1"


class DiffLike(Protocol):
    @property
    def left(self) -> str: ...
    @property
    def right(self) -> str: ...
    @property
    def rows(self) -> tuple[DiffRow, ...]: ...
    @property
    def failures(self) -> tuple[HostFailure, ...]: ...
    @property
    def notes(self) -> tuple[str, ...]: ...


def _versions(values: tuple[str, ...]) -> str:
    return ", ".join(log_safe(v) if v else "absent" for v in values)


def _direction(row: DiffRow, right: str) -> str:
    if row.direction is Direction.NEWER:
        return f"{right} newer"
    if row.direction is Direction.OLDER:
        return f"{right} older"
    return "presence differs" if "" in row.left + row.right else "mixed"


def render_table(result: DiffLike, *, color: bool = False, width: int = 100) -> str:
    console = string_console(width, color)
    if result.rows:
        # Compared without roles (--no-roles): every row's role is "*", a column saying nothing.
        by_role = any(row.role != ALL_ROLES for row in result.rows)
        columns = (
            *((Column("role", shorten=True, drop=1, lift=True),) if by_role else ()),
            Column("eco", drop=2, lift=True),
            Column("package"),
            # Versions are listed ", "-separated: the cell wraps between them, never inside.
            Column(log_safe(result.left), whole=False),
            Column(log_safe(result.right), whole=False),
            Column("change", whole=False),  # short: its header must not widen the column
        )
        rows = [
            [
                *((Text(log_safe(row.role)),) if by_role else ()),
                Text(row.ecosystem.value),
                Text(log_safe(row.package)),
                Text(_versions(row.left)),
                Text(_versions(row.right)),
                Text(_direction(row, log_safe(result.right)), style="yellow"),
            ]
            for row in result.rows
        ]
        fit = fitted(columns, rows, width)
        fit.print(console, width)
    for failure in result.failures:
        name, reason = log_safe(failure.host.name), log_safe(failure.reason)
        console.print(Text(f"host {name}: {failure.kind.value}: {reason}", style="bold red"))
    for note in result.notes:
        console.print(Text(f"note: {log_safe(note)}"))
    n = len(result.rows)
    verdict = (
        f"{n} package{'s' if n != 1 else ''} differ between {result.left} and {result.right}"
        if n
        else f"{result.left} and {result.right} agree"
    )
    console.print(Text(log_safe(verdict), style="bold"))
    return rendered(console)


def render_json(result: DiffLike) -> str:
    def row(r: DiffRow) -> dict[str, Any]:
        return {
            "role": r.role,
            "ecosystem": r.ecosystem.value,
            "package": r.package,
            "left": [v or None for v in r.left],
            "right": [v or None for v in r.right],
            "direction": r.direction.value if r.direction else None,
        }

    doc = {
        "schema": SCHEMA,
        "left": result.left,
        "right": result.right,
        "differences": [row(r) for r in result.rows],
        "notes": list(result.notes),
        "failures": [
            {"host": f.host.name, "env": f.host.env, "kind": f.kind.value, "reason": f.reason}
            for f in result.failures
        ],
    }
    return json_text(doc)
