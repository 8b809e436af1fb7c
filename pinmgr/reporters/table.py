"""Terminal table: one row per finding, problems first in colour, a one-line summary.

Renders into a string (``Console(file=StringIO())``) so the CLI decides where it goes and tests
compare it byte for byte. Host-supplied text goes through ``printable`` and ``rich.text.Text``
so neither escape sequences nor ``[markup]`` from a host are ever interpreted.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pinmgr.model import CheckReport, Direction, Finding, FindingKind
from pinmgr.reporters.text import printable

STYLES: dict[FindingKind, str] = {
    FindingKind.OK: "green",
    FindingKind.DRIFT: "bold red",
    FindingKind.MISSING: "bold yellow",
    FindingKind.UNSUPPORTED_OS: "bold magenta",
    FindingKind.UNPINNED: "cyan",
    FindingKind.WAIVED: "blue",
}
FAILURE_STYLE = "bold white on red"


def status(f: Finding) -> str:
    """The status cell: the kind, with the direction of a drift (older/newer than pinned)."""
    if f.kind is FindingKind.DRIFT and f.direction is Direction.OLDER:
        return "drift (older)"
    if f.kind is FindingKind.DRIFT and f.direction is Direction.NEWER:
        return "drift (newer)"
    return f.kind.value


def summary_line(report: CheckReport) -> str:
    s = report.summary
    parts = [f"{n} {k.value}" for k, n in s.counts]
    failed = s.hosts_total - s.hosts_collected
    hosts = f"{s.hosts_total} host{'s' if s.hosts_total != 1 else ''} checked"
    if failed:
        hosts += f" ({failed} not collected)"
    return f"{hosts}: {', '.join(parts) if parts else 'nothing to check'}"


def render(
    report: CheckReport, *, width: int = 100, color: bool = True, show_ok: bool = True
) -> str:
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    rows = [f for f in report.findings if show_ok or f.kind is not FindingKind.OK]
    if rows:
        table = Table(show_edge=False, pad_edge=False, expand=False, header_style="bold")
        for name in ("env", "host", "role", "eco", "package", "pinned", "installed", "status"):
            table.add_column(name, overflow="fold")
        for f in rows:
            style = STYLES.get(f.kind, FAILURE_STYLE)
            detail = f.reason or f.waiver_reason
            table.add_row(
                Text(printable(f.env)),
                Text(printable(f.host)),
                Text(printable(f.role)),
                Text(f.ecosystem.value if f.ecosystem else ""),
                Text(printable(f.package)),
                Text(printable(f.expected)),
                Text(printable(f.actual)),
                Text(status(f) + (f": {printable(detail)}" if detail else ""), style=style),
            )
        console.print(table)
    console.print(Text(summary_line(report), style="bold"))
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()
