"""Pins behind a security fix: ``security-update`` findings and the ``outdated`` annotation.

An exact pin is how a team gets the same version everywhere; the price is that it can sit on
a version for which the distribution already shipped a security fix. The collector marks the
offered versions that come from a security source of the host (a Debian ``*-security`` suite,
an Ubuntu ``-security`` pocket, a dnf updateinfo security advisory); here a pin is behind when
such a version is newer than anything the pin allows. The fix named is the newest such version
(a later security upload carries the earlier fixes). A feature release in the ordinary suite
is never a security fix, however new.

Pure: snapshots with ``available`` filled in by the collector. A package whose sources were not
asked, or could not be read, is unknown, never a finding.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pinmgr.diff.installable import OutdatedRow, host_pins
from pinmgr.errors import VersionError
from pinmgr.model import (
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    HostSnapshot,
    Lockfile,
    Pin,
    SecurityFix,
)
from pinmgr.versions import compare
from pinmgr.versions.policy import evaluate

MAX_CVES_SHOWN = 3
"""CVE ids named in a finding's reason; the rest are counted (all are in SARIF and JSON)."""

FixKey = tuple[Ecosystem, str]


def _base(ecosystem: Ecosystem, name: str) -> str:
    return name.split(":", 1)[0] if ecosystem is Ecosystem.DEB else name


def _newer(ecosystem: Ecosystem, a: str, b: str) -> bool:
    try:
        return compare(ecosystem, a, b) > 0
    except VersionError:
        return False


def fixes_offered(snap: HostSnapshot) -> dict[FixKey, tuple[SecurityFix, ...]]:
    """(ecosystem, name) -> the security fixes the host's sources offer, newest first."""
    out: dict[FixKey, list[SecurityFix]] = {}
    for entry in snap.available:
        if entry.security:
            out.setdefault((entry.ecosystem, _base(entry.ecosystem, entry.name)), []).extend(
                entry.security
            )
    return {key: _newest_first(key[0], fixes) for key, fixes in out.items()}


def _newest_first(ecosystem: Ecosystem, fixes: Iterable[SecurityFix]) -> tuple[SecurityFix, ...]:
    valid = []
    for fix in dict.fromkeys(fixes):
        try:
            compare(ecosystem, fix.version, fix.version)
        except VersionError:
            continue  # host data the ecosystem cannot order: never a fix
        valid.append(fix)

    def order(a: SecurityFix, b: SecurityFix) -> int:
        return compare(ecosystem, a.version, b.version) or (a > b) - (a < b)

    return tuple(sorted(valid, key=functools.cmp_to_key(order), reverse=True))


def fix_for(pin: Pin, fixes: Sequence[SecurityFix]) -> SecurityFix | None:
    """The newest offered security fix above what ``pin`` allows, or None (newest first in)."""
    for fix in fixes:
        try:
            if evaluate(pin.ecosystem, pin.policy, fix.version) is Direction.NEWER:
                return fix
        except VersionError:
            continue
    return None


def describe_fix(fix: SecurityFix) -> str:
    """The finding's reason: ``security fix 1.2-1+deb12u1 from Debian-Security bookworm-...``."""
    text = f"security fix {fix.version} from {fix.source}"
    details = [d for d in (fix.advisory, fix.severity) if d]
    if fix.cves:
        more = len(fix.cves) - MAX_CVES_SHOWN
        details.append(", ".join(fix.cves[:MAX_CVES_SHOWN]) + (f" +{more}" if more > 0 else ""))
    return text + (f" ({'; '.join(details)})" if details else "")


def security_updates(lock: Lockfile, snapshots: Iterable[HostSnapshot]) -> list[Finding]:
    """A finding per host, role and pin whose host offers a security fix the pin does not allow."""
    findings: list[Finding] = []
    for snap in snapshots:
        offers = fixes_offered(snap)
        if not offers:
            continue
        installed = {(p.ecosystem, _base(p.ecosystem, p.name)): p.version for p in snap.packages}
        for role, release, pin in host_pins(lock, snap):
            key = (pin.ecosystem, _base(pin.ecosystem, pin.package))
            fix = fix_for(pin, offers.get(key, ()))
            if fix is None:
                continue
            findings.append(
                Finding(
                    kind=FindingKind.SECURITY_UPDATE,
                    host=snap.host.name,
                    env=snap.host.env,
                    role=role,
                    ecosystem=pin.ecosystem,
                    package=pin.package,
                    expected=pin.spec,
                    actual=installed.get(key, ""),
                    reason=describe_fix(fix),
                    os_release=release,
                    location=pin.location,
                    fix=fix,
                )
            )
    return findings


def annotate(
    rows: Sequence[OutdatedRow], lock: Lockfile, snapshots: Iterable[HostSnapshot]
) -> list[OutdatedRow]:
    """``outdated`` rows with the newest security fix any of their hosts offers filled in."""
    best: dict[tuple[str, str, Ecosystem, str], SecurityFix] = {}
    for snap in snapshots:
        offers = fixes_offered(snap)
        if not offers:
            continue
        for role, release, pin in host_pins(lock, snap):
            fix = fix_for(pin, offers.get((pin.ecosystem, _base(pin.ecosystem, pin.package)), ()))
            if fix is None:
                continue
            key = (role, release, pin.ecosystem, pin.package)
            old = best.get(key)
            if old is None or _newer(pin.ecosystem, fix.version, old.version):
                best[key] = fix
    return [
        replace(row, security=best.get((row.role, row.os_release, row.ecosystem, row.package)))
        for row in rows
    ]
