"""Waivers: accepted drift, shown as ``waived`` (never hidden) until the waiver expires."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pinmgr.model import Ecosystem, Finding, FindingKind, Waiver
from pinmgr.versions.names import split_arch

WAIVABLE = frozenset({FindingKind.DRIFT, FindingKind.MISSING})


def matches(waiver: Waiver, finding: Finding) -> bool:
    """A waiver selects by package, and optionally ecosystem, host, role and environment.

    A waiver for ``glibc`` also covers the per-architecture findings of that pin
    (``glibc.i686``, ``libssl3:i386``); one naming an architecture covers only that one.
    """
    return (
        waiver.package in (finding.package, _base_name(finding))
        and (waiver.ecosystem is None or waiver.ecosystem == finding.ecosystem)
        and (waiver.host is None or waiver.host == finding.host)
        and (waiver.role is None or waiver.role == finding.role)
        and (waiver.env is None or waiver.env == finding.env)
    )


def apply(findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date) -> list[Finding]:
    """Turn waivable findings covered by an unexpired waiver into ``waived``.

    An expired waiver leaves the finding as it was and says so in its reason, so the team sees
    why an old acceptance no longer holds.
    """
    out: list[Finding] = []
    for finding in findings:
        if finding.kind not in WAIVABLE:
            out.append(finding)
            continue
        hits = [w for w in waivers if matches(w, finding)]
        live = [w for w in hits if today <= w.expires]
        if live:
            out.append(replace(finding, kind=FindingKind.WAIVED, waiver_reason=_describe(live[0])))
        elif hits:
            expired = max(hits, key=lambda w: w.expires)
            note = f"waiver expired {expired.expires.isoformat()}"
            reason = f"{finding.reason}; {note}" if finding.reason else note
            out.append(replace(finding, reason=reason))
        else:
            out.append(finding)
    return out


def _base_name(finding: Finding) -> str:
    """The finding's package without its architecture (rpm ``name.arch``, deb ``name:arch``)."""
    if finding.ecosystem is Ecosystem.RPM:
        return split_arch(finding.package)[0]
    if finding.ecosystem is Ecosystem.DEB:
        return finding.package.split(":", 1)[0]
    return finding.package


def _describe(waiver: Waiver) -> str:
    return f"{waiver.reason} (until {waiver.expires.isoformat()})"
