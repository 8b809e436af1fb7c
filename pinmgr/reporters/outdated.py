"""``pinmgr outdated`` output: pins the hosts' sources already offer something newer than.

Like ``pip list --outdated``: informational, one row per role, OS release and pin. Pure: rows
and failures in, text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from pinmgr.diff.installable import OutdatedRow
from pinmgr.model import HostFailure
from pinmgr.reporters.fit import Column, fitted
from pinmgr.reporters.text import json_text, log_safe, rendered, string_console

SCHEMA = "pinmgr.outdated/1"
COLUMNS = ("role", "release", "eco", "package", "pinned", "newest offered", "hosts")
SECURITY_COLUMN = "security fix"
"""Shown only when some row has one (diff.security): which offered version is a fix, whence."""
# Narrow terminals: eco goes first, then the hosts (a list that also wraps between names);
# a glob pin shows "(newest it allows)" after a space, where it may wrap.
FIT = (
    Column("role", shorten=True, lift=True),
    Column("release", lift=True),
    Column("eco", drop=2, lift=True),
    Column("package"),
    Column("pinned", whole=False),
    Column("newest offered"),
    Column("hosts", whole=False, drop=1),
)
MAX_HOSTS_SHOWN = 3


def _hosts(hosts: tuple[str, ...]) -> str:
    shown = ", ".join(log_safe(h) for h in hosts[:MAX_HOSTS_SHOWN])
    more = len(hosts) - MAX_HOSTS_SHOWN
    return shown + (f" +{more}" if more > 0 else "")


def _pinned(row: OutdatedRow) -> str:
    """The pin; for a glob/range also the newest offered version it allows."""
    if row.allowed and row.allowed != row.pinned:
        return f"{log_safe(row.pinned)} ({log_safe(row.allowed)})"
    return log_safe(row.pinned)


def _fix(row: OutdatedRow) -> str:
    """``1.2-1+deb12u1 (Debian-Security bookworm-security; DSA-1)`` or empty."""
    fix = row.security
    if fix is None:
        return ""
    where = "; ".join(x for x in (fix.source, fix.advisory, fix.severity) if x)
    return log_safe(f"{fix.version} ({where})")


def render_table(
    rows: Sequence[OutdatedRow],
    failures: Sequence[HostFailure] = (),
    *,
    hosts_checked: int = 0,
    color: bool = False,
    width: int = 100,
) -> str:
    console = string_console(width, color)
    if rows:
        security = any(row.security is not None for row in rows)
        rows_text = [
            [
                Text(log_safe(row.role)),
                Text(log_safe(row.os_release)),
                Text(row.ecosystem.value),
                Text(log_safe(row.package)),
                Text(_pinned(row)),
                Text(log_safe(row.newest), style="yellow"),
                Text(_hosts(row.hosts)),
            ]
            + ([Text(_fix(row), style="bold red")] if security else [])
            for row in rows
        ]
        columns = (*FIT, Column(SECURITY_COLUMN, whole=False)) if security else FIT
        fit = fitted(columns, rows_text, width)
        fit.print(console, width)
    for failure in failures:
        name, reason = log_safe(failure.host.name), log_safe(failure.reason)
        console.print(Text(f"host {name}: {failure.kind.value}: {reason}", style="bold red"))
    n = len(rows)
    checked = f" ({hosts_checked} host{'s' if hosts_checked != 1 else ''} asked)"
    verdict = (
        f"{n} pin{'s' if n != 1 else ''} behind what the sources offer"
        if n
        else "no pin is behind what the sources offer"
    )
    console.print(Text(verdict + (checked if hosts_checked else ""), style="bold"))
    return rendered(console)


def _fix_json(row: OutdatedRow) -> dict[str, Any] | None:
    fix = row.security
    if fix is None:
        return None
    return {
        "version": fix.version,
        "source": fix.source,
        "advisory": fix.advisory or None,
        "severity": fix.severity or None,
        "cves": list(fix.cves),
    }


def to_json(rows: Sequence[OutdatedRow], failures: Sequence[HostFailure] = ()) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "outdated": [
            {
                "role": r.role,
                "os_release": r.os_release,
                "ecosystem": r.ecosystem.value,
                "package": r.package,
                "pinned": r.pinned,
                "newest_allowed": r.allowed or None,
                "newest_offered": r.newest,
                "hosts": list(r.hosts),
                "security_fix": _fix_json(r),
            }
            for r in rows
        ],
        "failures": [
            {"host": f.host.name, "env": f.host.env, "kind": f.kind.value, "reason": f.reason}
            for f in failures
        ],
    }


def render_json(rows: Sequence[OutdatedRow], failures: Sequence[HostFailure] = ()) -> str:
    return json_text(to_json(rows, failures))
