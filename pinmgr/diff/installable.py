"""Pins against what the hosts' package sources offer: ``not-installable`` and ``outdated``.

A pin can hold on every host today and still be a trap: once the mirror drops that version,
a rebuilt or new host cannot be put on it. ``not_installable`` says so before it bites;
``outdated`` is the other side (the sources already carry something newer than the pin).

Pure: it sees only snapshots with ``available`` filled in by the collector. A package the
snapshot says nothing about (no apt lists, no dnf cache, pip) is unknown, never a finding.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pinmgr.diff.check import declared_release
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

MAX_LISTED = 3
"""Offered versions named in a not-installable reason (newest first); the rest are counted."""


def _base(ecosystem: Ecosystem, name: str) -> str:
    return name.split(":", 1)[0] if ecosystem is Ecosystem.DEB else name


def offered(snap: HostSnapshot) -> dict[tuple[Ecosystem, str], tuple[str, ...]]:
    """(ecosystem, name) -> versions the host's sources offer, newest first (valid ones only)."""
    out: dict[tuple[Ecosystem, str], tuple[str, ...]] = {}
    for entry in snap.available:
        key = (entry.ecosystem, _base(entry.ecosystem, entry.name))
        out[key] = newest_first(entry.ecosystem, (*out.get(key, ()), *entry.versions))
    return out


def newest_first(ecosystem: Ecosystem, versions: Iterable[str]) -> tuple[str, ...]:
    """Distinct versions the ecosystem can order, newest first; others dropped (host data)."""
    valid: dict[str, None] = {}
    for version in versions:
        try:
            compare(ecosystem, version, version)
        except VersionError:
            continue
        valid[version] = None
    cmp = functools.partial(compare, ecosystem)
    return tuple(sorted(valid, key=functools.cmp_to_key(cmp), reverse=True))


def _satisfies(pin: Pin, version: str) -> bool:
    try:
        return evaluate(pin.ecosystem, pin.policy, version) is None
    except VersionError:
        return False


def _direction(pin: Pin, version: str) -> Direction | None:
    try:
        return evaluate(pin.ecosystem, pin.policy, version)
    except VersionError:
        return None


def describe_offer(versions: Sequence[str]) -> str:
    """The short reason: what the sources do offer."""
    if not versions:
        return "no configured source offers it"
    shown = ", ".join(versions[:MAX_LISTED])
    more = len(versions) - MAX_LISTED
    return f"sources offer {shown}" + (f" and {more} older" if more > 0 else "")


def host_pins(lock: Lockfile, snap: HostSnapshot) -> Iterable[tuple[str, str, Pin]]:
    """(role, release, pin) for every role of the host whose OS release is declared."""
    for role in snap.host.roles:
        release = declared_release(snap.os_release, lock.releases_for(role))
        if release is None:
            continue  # unsupported-os: check already says so
        for pin in lock.pins_for(role, release):
            yield role, release, pin


def not_installable(lock: Lockfile, snapshots: Iterable[HostSnapshot]) -> list[Finding]:
    """A finding per host, role and pin that no version offered by the host's sources meets."""
    findings: list[Finding] = []
    for snap in snapshots:
        if not snap.available:
            continue
        offers = offered(snap)
        installed = {(p.ecosystem, _base(p.ecosystem, p.name)): p.version for p in snap.packages}
        for role, release, pin in host_pins(lock, snap):
            key = (pin.ecosystem, _base(pin.ecosystem, pin.package))
            versions = offers.get(key)
            if versions is None or any(_satisfies(pin, v) for v in versions):
                continue
            findings.append(
                Finding(
                    kind=FindingKind.NOT_INSTALLABLE,
                    host=snap.host.name,
                    env=snap.host.env,
                    role=role,
                    ecosystem=pin.ecosystem,
                    package=pin.package,
                    expected=pin.spec,
                    actual=installed.get(key, ""),
                    reason=describe_offer(versions),
                    os_release=release,
                    location=pin.location,
                )
            )
    return findings


@dataclass(frozen=True, order=True)
class OutdatedRow:
    """One pin whose hosts' sources offer something newer than it allows."""

    role: str
    os_release: str
    ecosystem: Ecosystem
    package: str
    pinned: str
    newest: str
    # Newest offered version the pin allows ("" when none is offered): for glob/range pins.
    allowed: str
    hosts: tuple[str, ...]
    # The newest security fix above the pin some host's security source offers (diff.security).
    security: SecurityFix | None = None


def outdated(lock: Lockfile, snapshots: Iterable[HostSnapshot]) -> list[OutdatedRow]:
    """Per role, release and pin: the newest offered version above what the pin allows.

    Exact pins: an offered version newer than the pin. Glob/range pins: an offered version
    newer than the highest offered one the pin allows (or, if none is allowed, above the
    pin's range). Hosts whose sources disagree are merged; the newest offer is shown.
    """
    rows: dict[tuple[str, str, Ecosystem, str], tuple[Pin, str, str, set[str]]] = {}
    for snap in snapshots:
        if not snap.available:
            continue
        offers = offered(snap)
        for role, release, pin in host_pins(lock, snap):
            versions = offers.get((pin.ecosystem, _base(pin.ecosystem, pin.package)))
            if not versions:
                continue
            newest = versions[0]
            allowed = next((v for v in versions if _satisfies(pin, v)), "")
            if allowed:
                if allowed == newest or compare(pin.ecosystem, newest, allowed) <= 0:
                    continue
            elif _direction(pin, newest) is not Direction.NEWER:
                continue
            key = (role, release, pin.ecosystem, pin.package)
            if key in rows:
                _, best, best_allowed, hosts = rows[key]
                if compare(pin.ecosystem, newest, best) > 0:
                    best = newest
                if allowed and (
                    not best_allowed or compare(pin.ecosystem, allowed, best_allowed) > 0
                ):
                    best_allowed = allowed
                rows[key] = (pin, best, best_allowed, {*hosts, snap.host.name})
            else:
                rows[key] = (pin, newest, allowed, {snap.host.name})
    return sorted(
        OutdatedRow(
            role=role,
            os_release=release,
            ecosystem=eco,
            package=package,
            pinned=pin.spec,
            newest=newest,
            allowed=allowed,
            hosts=tuple(sorted(hosts)),
        )
        for (role, release, eco, package), (pin, newest, allowed, hosts) in rows.items()
    )
