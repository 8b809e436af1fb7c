"""Assemble a ``CheckReport``: one sort key, one place that counts findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pinmgr.model import (
    CheckReport,
    Finding,
    FindingKind,
    HostFailure,
    HostSnapshot,
    HostWarning,
    Summary,
)

# Kinds shown first within a host: what needs action before what is fine.
_KIND_ORDER = {kind: i for i, kind in enumerate(FindingKind)}


def sort_key(f: Finding) -> tuple[str, str, str, str, str, int]:
    eco = f.ecosystem._value_ if f.ecosystem else ""  # (``value`` is a Python property)
    return (f.env, f.host, f.role, eco, f.package, _KIND_ORDER[f.kind])


def build(
    findings: Iterable[Finding],
    *,
    hosts_total: int,
    hosts_collected: int,
    lockfile: str = "",
    environments: Sequence[str] = (),
    warnings: Sequence[HostWarning] = (),
    ok_unlisted: int = 0,
) -> CheckReport:
    """Findings sorted and counted; ``ok_unlisted``: ok findings counted but not listed."""
    ordered = tuple(sorted(findings, key=sort_key))
    counts = Counter(f.kind for f in ordered)
    counts[FindingKind.OK] += ok_unlisted
    summary = Summary(
        hosts_total=hosts_total,
        hosts_collected=hosts_collected,
        counts=tuple((k, counts[k]) for k in FindingKind if counts[k]),
    )
    return CheckReport(
        findings=ordered,
        summary=summary,
        lockfile=lockfile,
        environments=tuple(environments),
        warnings=tuple(warnings),
    )


def host_warnings(results: Iterable[HostSnapshot | HostFailure]) -> tuple[HostWarning, ...]:
    """Every host's warnings (a snapshot's unparsed lines, a failure's stderr), in host order:
    the report carries them so every format can show them."""
    return tuple(
        HostWarning(r.host.name, r.host.env, message) for r in results for message in r.warnings
    )


def without_ok(report: CheckReport) -> CheckReport:
    """The report with its ``ok`` findings counted (summary unchanged) but not listed.

    Most of a fleet's findings are ``ok`` (87% on the benchmark fleet; a 10,000-host JSON
    report listing them is over a gigabyte): ``check --no-ok`` keeps what needs action.
    """
    kept = tuple(f for f in report.findings if f.kind is not FindingKind.OK)
    return replace(report, findings=kept)


def only_new(report: CheckReport) -> CheckReport:
    """``check --new-only``: list only the findings the previous recorded run did not have
    (summary unchanged); ``ok`` findings are never new."""
    kept = tuple(f for f in report.findings if report.is_new(f))
    return replace(report, findings=kept)
