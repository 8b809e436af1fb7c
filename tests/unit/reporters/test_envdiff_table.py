"""``pinmgr diff`` table headers (#14): no ``*`` role column when roles were not compared, and
no blank header over the last column."""

from __future__ import annotations

from dataclasses import dataclass

from pinmgr.diff.envdiff import ALL_ROLES, DiffRow
from pinmgr.model import Direction, Ecosystem, HostFailure
from pinmgr.reporters.envdiff import render_table


@dataclass(frozen=True)
class Result:
    left: str
    right: str
    rows: tuple[DiffRow, ...]
    failures: tuple[HostFailure, ...] = ()
    notes: tuple[str, ...] = ()


def _row(role: str) -> DiffRow:
    return DiffRow(role, Ecosystem.DEB, "nginx", ("1.22.1-9",), ("1.22.1-10",), Direction.NEWER)


def _header(text: str) -> list[str]:
    return [cell for cell in text.splitlines()[0].split() if cell != "┃"]


def test_without_roles_there_is_no_role_column() -> None:
    out = render_table(Result("staging", "production", (_row(ALL_ROLES),)))
    assert _header(out) == ["eco", "package", "staging", "production", "change"]
    assert "*" not in out


def test_with_roles_every_column_is_named() -> None:
    out = render_table(Result("staging", "production", (_row("app"),)))
    assert _header(out) == ["role", "eco", "package", "staging", "production", "change"]
    assert "production newer" in out
