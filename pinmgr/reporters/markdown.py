"""Markdown for ``$GITHUB_STEP_SUMMARY`` and merge-request comments.

A verdict heading, the counts, then only what needs a look: a table of problems (hosts not
collected, drift, missing, unsupported-os, inconsistent, mixed-os) and one of waived findings;
ok and unpinned rows are just counted, so a fleet of thousands of green pins stays one line
(GitHub caps a step summary at 1 MiB, hence also ``max_rows``).

Host text is untrusted and is rendered by GitHub/GitLab: control characters become visible
escapes, and every character with inline Markdown meaning (``|`` ````` ``*`` ``_`` ``[`` ``<``
``&`` ``~`` ``$`` and backslash) is backslash-escaped, as are the ``:`` of ``://`` and the
``.`` of ``www.``, so a package name can neither break the table nor inject links, autolinks,
HTML, emphasis or math. CI runner command tokens (``::``, ``##[``...) get a backslash too
(``:\\:``): the page shows the exact text, the raw file printed into a CI log runs nothing.

Host warnings (output pinmgr could not use) get their own table, a few per host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pinmgr.model import CheckReport, Direction, Finding, FindingKind
from pinmgr.reporters.junit import clean, outcome
from pinmgr.reporters.text import history_mark, neutralise, warnings_by_host

MAX_ROWS = 500
_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|$])")
_AUTOLINK = re.compile(r"(?i)(:(?=//)|(?<=www)\.)")


def md(value: str) -> str:
    """Host text safe inside a GitHub/GitLab Markdown table cell or heading."""
    escaped = _SPECIAL.sub(r"\\\1", clean(value))
    # GFM turns bare ``http://`` and ``www.`` into links: an escaped ':' or '.' stops that.
    return neutralise(_AUTOLINK.sub(r"\\\1", escaped), lambda char: "\\" + char)


def verdict(report: CheckReport) -> str:
    """The heading's verdict; mirrors exit-code precedence (hosts, then drift, then fine)."""
    s = report.summary
    failed_hosts = s.hosts_total - s.hosts_collected
    failed_hosts = max(failed_hosts, sum(1 for f in report.findings if f.kind.is_host_failure))
    problems = sum(n for k, n in s.counts if outcome(k) == "failure")
    parts: list[str] = []
    if problems:
        parts.append(f"{problems} problem{'s' if problems != 1 else ''}")
    if failed_hosts:
        parts.append(f"{failed_hosts} host{'s' if failed_hosts != 1 else ''} not collected")
    if failed_hosts:
        return "⚠️ " + ", ".join(parts)
    if problems:
        return "❌ " + ", ".join(parts)
    return "✅ all hosts match their pins"


def _status(f: Finding) -> str:
    if f.kind is FindingKind.DRIFT and f.direction is Direction.OLDER:
        return "drift (older)"
    if f.kind is FindingKind.DRIFT and f.direction is Direction.NEWER:
        return "drift (newer)"
    return f.kind.value


def _package(f: Finding) -> str:
    if not f.package:
        return ""
    return md(f"{f.ecosystem.value}:{f.package}" if f.ecosystem else f.package)


def _where(f: Finding) -> str:
    return md(f"{f.location.file}:{f.location.line}") if f.location else ""


def _table(header: Sequence[str], rows: Sequence[tuple[str, ...]], max_rows: int) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows[:max_rows]]
    if len(rows) > max_rows:
        lines += ["", f"… and {len(rows) - max_rows} more (see the JUnit, SARIF or JSON report)."]
    return lines


def _warnings(report: CheckReport, max_rows: int) -> list[str]:
    """The host warnings table: the first few of each host and how many more there are."""
    groups = warnings_by_host(report.warnings)
    if not groups:
        return []
    rows: list[tuple[str, ...]] = []
    for g in groups:
        rows += [(md(g.host), md(g.env), md(message)) for message in g.messages]
        if g.more:
            rows.append((md(g.host), md(g.env), f"… and {g.more} more (the JSON report lists all)"))
    out = [f"### Host warnings ({len(report.warnings)})", ""]
    out += _table(("host", "env", "output pinmgr could not use"), rows, max_rows)
    return [*out, ""]


def render(report: CheckReport, *, max_rows: int = MAX_ROWS) -> str:
    """The summary document; deterministic, ends with one newline."""
    s = report.summary
    out = [f"## pinmgr check: {verdict(report)}", ""]
    hosts = f"**{s.hosts_total} host{'s' if s.hosts_total != 1 else ''} checked**"
    if s.hosts_total != s.hosts_collected:
        hosts += f" ({s.hosts_total - s.hosts_collected} not collected)"
    if report.lockfile:
        hosts += f" against {md(report.lockfile)}"
    if report.environments:
        hosts += " · environments: " + ", ".join(md(e) for e in report.environments)
    out += [hosts, ""]
    if s.counts:
        out += _table(("result", "count"), [(k.value, str(n)) for k, n in s.counts], max_rows)
        out.append("")

    # Hosts not collected first: without them the rest of the answer is incomplete.
    problems = [f for f in report.findings if outcome(f.kind) == "error"] + [
        f for f in report.findings if outcome(f.kind) == "failure"
    ]
    if problems:
        rows: list[tuple[str, ...]] = [
            (
                _status(f) + (f" ({mark})" if (mark := history_mark(report, f)) else ""),
                md(f.env),
                md(f.host),
                md(f.role),
                _package(f),
                md(f.expected),
                md(f.actual),
                md(f.reason),
                _where(f),
            )
            for f in problems
        ]
        header = ("status", "env", "host", "role", "package", "expected", "installed", "detail")
        out += [f"### Problems ({len(problems)})", ""]
        out += _table((*header, "lockfile"), rows, max_rows)
        out.append("")

    waived = [f for f in report.findings if f.kind is FindingKind.WAIVED]
    if waived:
        rows = [
            (
                md(f.env),
                md(f.host),
                md(f.role),
                _package(f),
                md(f.expected),
                md(f.actual) or "not installed",
                md(f.waiver_reason),
                _where(f),
            )
            for f in waived
        ]
        header = ("env", "host", "role", "package", "pinned", "installed", "waiver", "lockfile")
        out += [f"### Waived ({len(waived)})", ""]
        out += _table(header, rows, max_rows)
        out.append("")

    out += _warnings(report, max_rows)
    quiet = [
        f"{n} {label}"
        for n, label in (
            (s.count(FindingKind.OK), "ok (installed as pinned)"),
            (s.count(FindingKind.UNPINNED), "unpinned (installed, no pin)"),
        )
        if n
    ]
    if quiet:
        out += ["Not listed: " + ", ".join(quiet) + ".", ""]
    return "\n".join(out).rstrip("\n") + "\n"
