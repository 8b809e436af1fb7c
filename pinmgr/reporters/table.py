"""Terminal table: findings grouped across hosts, an environment matrix, a one-line summary.

Identical findings on many hosts (same env, role, package, pin, installed version and kind)
collapse into one row ("37 hosts"), so a fleet-wide upgrade reads as one event; ``by_host``
lists every host. When the report spans several environments, a matrix shows per package
what each environment really has next to the pin.

Renders into a string (``Console(file=StringIO())``) so the CLI decides where it goes and tests
compare it byte for byte. Host-supplied text goes through ``log_safe`` and ``rich.text.Text``
so neither escape sequences, ``[markup]`` nor CI runner commands (``::error``) from a host are
ever interpreted, however a narrow terminal wraps the cells.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from pinmgr.model import CheckReport, Direction, Finding, FindingKind
from pinmgr.reporters.fit import Column, Fitted, fitted
from pinmgr.reporters.text import (
    history_mark,
    log_safe,
    rendered,
    string_console,
    warnings_by_host,
)

STYLES: dict[FindingKind, str] = {
    FindingKind.OK: "green",
    FindingKind.DRIFT: "bold red",
    FindingKind.MISSING: "bold yellow",
    FindingKind.UNSUPPORTED_OS: "bold magenta",
    FindingKind.UNPINNED: "cyan",
    FindingKind.WAIVED: "blue",
    FindingKind.INCONSISTENT: "yellow",
    FindingKind.MIXED_OS: "magenta",
    FindingKind.NOT_CHECKED: "yellow",
}
FAILURE_STYLE = "bold red"
# Hosts whose warnings the table lists (each with its first MAX_WARNINGS_PER_HOST).
MAX_WARNING_HOSTS = 20
# Kinds whose versions describe what an environment has, for the matrix.
_MATRIX_KINDS = frozenset(
    {FindingKind.OK, FindingKind.DRIFT, FindingKind.MISSING, FindingKind.WAIVED}
)


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


def _group_key(f: Finding) -> tuple[object, ...]:
    eco = f.ecosystem.value if f.ecosystem else ""
    return (
        f.env,
        f.role,
        eco,
        f.package,
        f.expected,
        f.actual,
        f.kind,
        f.direction,
        f.reason,
        f.waiver_reason,
    )


def grouped(
    findings: tuple[Finding, ...], mark: Callable[[Finding], str] | None = None
) -> list[tuple[Finding, list[str]]]:
    """Findings that differ only by host, as (first finding, hosts); order kept.

    Host failures never group: their reason names the host and is the point. ``mark``
    (the history mark) splits groups, so a row's hosts share it.
    """
    groups: dict[tuple[object, ...], tuple[Finding, list[str]]] = {}
    order: list[tuple[object, ...]] = []
    for f in findings:
        key = (f.host, *_group_key(f)) if f.kind.is_host_failure else _group_key(f)
        if mark is not None:
            key = (*key, mark(f))
        if key not in groups:
            groups[key] = (f, [])
            order.append(key)
        groups[key][1].append(f.host)
    rows = [groups[k] for k in order]
    # Problems before ok: what needs action is read first.
    return sorted(rows, key=lambda r: (r[0].kind is FindingKind.OK,))


_CONTEXT_COLUMNS = ("env", "host", "role", "eco")
# At narrow widths context is shortened, then left out: eco first (the versions show it),
# then role, env, and host last (which host drifted is the point of the row).
_CONTEXT_FIT = (
    Column("env", shorten=True, drop=2),
    Column("host", shorten=True, drop=1),
    Column("role", shorten=True, drop=3),
    Column("eco", drop=4),
)
_MATRIX_FIT = (Column("role", shorten=True, drop=2), Column("eco", drop=4))


def _findings_table(
    report: CheckReport, *, by_host: bool, show_ok: bool, width: int
) -> tuple[Fitted | None, str, list[tuple[str, str]]]:
    """The findings table, a context line naming the columns left out, and footnotes.

    A column holding one value in every row (one environment, one host...) is said once
    above the table instead, and reasons (why a host failed, how hosts disagree, a waiver)
    are numbered footnotes under it: the columns keep their width for versions at 80 columns.
    """
    findings = tuple(f for f in report.findings if show_ok or f.kind is not FindingKind.OK)
    if not findings:
        return None, "", []

    def history_of(f: Finding) -> str:
        return history_mark(report, f)

    split = history_of if report.known_since is not None else None
    rows = [(f, [f.host]) for f in findings] if by_host else grouped(findings, split)

    def context(f: Finding, hosts: list[str]) -> tuple[str, str, str, str]:
        where = hosts[0] if len(hosts) == 1 else f"{len(hosts)} hosts"
        return (f.env, where, f.role, f.ecosystem.value if f.ecosystem else "")

    cells = [context(f, hosts) for f, hosts in rows]
    keep = [i for i in range(4) if len({c[i] for c in cells}) > 1]
    constant = [
        f"{_CONTEXT_COLUMNS[i]} {log_safe(cells[0][i])}"
        for i in range(4)
        if i not in keep and cells[0][i]
    ]
    notes: dict[str, int] = {}
    table_rows: list[list[Text]] = []
    for (f, _hosts), ctx in zip(rows, cells, strict=True):
        style = STYLES.get(f.kind, FAILURE_STYLE)
        detail = log_safe(f.reason or f.waiver_reason)
        mark = ""
        if detail:
            number = notes.setdefault(detail, len(notes) + 1)
            mark = f" [{number}]"
        table_rows.append(
            [
                *(Text(log_safe(ctx[i])) for i in keep),
                Text(log_safe(f.package)),
                Text(log_safe(f.expected)),
                Text(log_safe(f.actual) if f.actual else "-"),
                # Status is short now that reasons are footnotes; it may wrap between words.
                Text(
                    status(f) + mark + (f" · {h}" if (h := history_mark(report, f)) else ""),
                    style=style,
                ),
            ]
        )
    columns = [
        *(_CONTEXT_FIT[i] for i in keep),
        Column("package"),
        Column("pinned"),
        Column("installed"),
        Column("status", whole=False),
    ]
    table = fitted(columns, table_rows, width)
    footnotes = [(f"[{n}]", text) for text, n in notes.items()]
    return table, " · ".join(constant), footnotes


def _cell(counts: Counter[str], pinned_ok: set[str]) -> Text:
    text = Text()
    for i, (version, n) in enumerate(sorted(counts.items())):
        if i:
            text.append(" ")
        label = log_safe(version) if version else "missing"
        style = "green" if version in pinned_ok else "bold red"
        text.append(f"{label}×{n}" if n > 1 or len(counts) > 1 else label, style=style)
    return text


def _matrix(report: CheckReport, width: int) -> tuple[Fitted | None, str]:
    present = {f.env for f in report.findings if f.kind in _MATRIX_KINDS}
    if len(present) < 2:
        return None, ""
    # Columns in the report's order (the inventory's, usually dev -> staging -> production),
    # so the matrix reads like the promotion path; any others after them, sorted.
    envs = [e for e in report.environments if e in present]
    envs += sorted(present - set(envs))
    cells: dict[tuple[str, str, str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    ok_versions: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for f in report.findings:
        if f.kind not in _MATRIX_KINDS or f.ecosystem is None:
            continue
        key = (f.role, f.ecosystem.value, f.package, f.expected)
        cells[key][f.env][f.actual] += 1
        if f.kind in (FindingKind.OK, FindingKind.WAIVED):
            ok_versions[key].add(f.actual)
    # Like the findings table: a role or ecosystem column with one value is said once above
    # the matrix, which leaves the versions room at 80 columns.
    if not cells:
        return None, ""
    keep = [i for i in (0, 1) if len({k[i] for k in cells}) > 1]
    first = min(cells)
    constant = [f"{_CONTEXT_COLUMNS[i + 2]} {log_safe(first[i])}" for i in (0, 1) if i not in keep]
    table_rows: list[list[Text]] = []
    for key in sorted(cells):
        row = cells[key]
        divergent = len({v for env in row.values() for v in env}) > 1 or any(
            v not in ok_versions[key] for env in row.values() for v in env
        )
        cols = [_cell(row[e], ok_versions[key]) if e in row else Text("") for e in envs]
        table_rows.append(
            [
                *(Text(log_safe(key[i])) for i in keep),
                Text(log_safe(key[2]), style="bold" if divergent else ""),
                Text(log_safe(key[3])),
                *cols,
            ]
        )
    columns = [
        *(_MATRIX_FIT[i] for i in keep),
        Column("package"),
        # Without colour the pin tells which cells match it; at 80 columns the environments'
        # versions matter more (the findings below still show every problem's pin), and the
        # role keeps rows of one package apart.
        Column("pinned", drop=3),
        # An environment's cell lists versions ("1.2-3×4 1.2-4"): it wraps between them.
        *(Column(log_safe(e), whole=False) for e in envs),
    ]
    table = fitted(columns, table_rows, width)
    return table, " · ".join(constant)


def render(
    report: CheckReport,
    *,
    width: int = 100,
    color: bool = True,
    show_ok: bool = True,
    by_host: bool = False,
) -> str:
    console = string_console(width, color)
    matrix, matrix_context = _matrix(report, width)
    if matrix is not None:
        console.print(Text("Pinned packages per environment", style="bold underline"))
        if matrix_context:
            console.print(Text(matrix_context, style="bold"))
        matrix.print(console, width)
        console.print()
    # With a matrix, every ok version is already in it: the findings list the problems
    # (``--by-host`` still lists every host's rows).
    show_ok = show_ok and (matrix is None or by_host)
    table, context, footnotes = _findings_table(
        report, by_host=by_host, show_ok=show_ok, width=width
    )
    if table is not None:
        if matrix is not None:
            console.print(Text("Findings", style="bold underline"))
        if context:
            console.print(Text(context, style="bold"))
        table.print(console, width)
        if footnotes:
            console.print(hanging(footnotes))
    warned = warning_items(report)
    if warned:
        n, hosts = len(report.warnings), len({(w.env, w.host) for w in report.warnings})
        console.print(Text(f"host warnings ({n} on {hosts} host{'s' if hosts != 1 else ''}):"))
        console.print(hanging(warned))
    console.print(Text(summary_line(report), style="bold"))
    return rendered(console)


def hanging(items: list[tuple[str, str]]) -> Table:
    """``label text`` lines whose text wraps under itself, never back to column 0.

    A wrapped footnote or warning then starts with spaces and stays readable; what protects
    the CI log is ``log_safe`` (no command token in the text, wherever it wraps).
    """
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in items:
        grid.add_row(Text(label), Text(text))  # Text: a "[1]" label is not markup
    return grid


def warning_items(report: CheckReport) -> list[tuple[str, str]]:
    """The host warnings block: ``- host (env): message``, a few per host, for a few hosts."""
    items: list[tuple[str, str]] = []
    groups = warnings_by_host(report.warnings)
    for g in groups[:MAX_WARNING_HOSTS]:
        where = f"{log_safe(g.host)} ({log_safe(g.env)})"
        items += [("-", f"{where}: {log_safe(message)}") for message in g.messages]
        if g.more:
            items.append(("-", f"{where}: … and {g.more} more (--format json lists all)"))
    if len(groups) > MAX_WARNING_HOSTS:
        rest = len(groups) - MAX_WARNING_HOSTS
        items.append(("-", f"… and {rest} more host{'s' if rest != 1 else ''} with warnings"))
    return items
