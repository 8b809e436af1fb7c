"""Hosts of one role that disagree with each other, even where the lockfile pins nothing.

Two checks on collected snapshots:
- ``inconsistent``: for hosts of one role on one OS release (across the environments checked),
  an unpinned package whose version (or presence) differs between hosts. The most common
  version is taken as the reference; each host that differs gets a finding.
- ``mixed-os``: hosts of one role within one environment run different OS releases.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from packaging.utils import canonicalize_name

from pinmgr import versions
from pinmgr.errors import VersionError
from pinmgr.model import Ecosystem, Finding, FindingKind, HostSnapshot, Lockfile

_Key = tuple[Ecosystem, str]


def _name(eco: Ecosystem, name: str) -> str:
    return canonicalize_name(name) if eco is Ecosystem.PIP else name


def _pinned(lockfile: Lockfile | None, role: str, release: str) -> set[_Key]:
    if lockfile is None:
        return set()
    return {(p.ecosystem, _name(p.ecosystem, p.package)) for p in lockfile.pins_for(role, release)}


def _reference(eco: Ecosystem, counts: Counter[str]) -> str:
    """Most common value ("" = not installed); ties go to the highest version.

    ``sorted`` first makes the choice independent of host order, so reports are stable.
    """
    top = max(counts.values())
    tied = sorted(v for v, n in counts.items() if n == top)
    if len(tied) == 1:
        return tied[0]
    present = [v for v in tied if v]
    try:
        return max(present, key=lambda v: versions.sort_key(eco, v))
    except VersionError:
        return present[-1]


def inconsistencies(
    snapshots: Iterable[HostSnapshot], lockfile: Lockfile | None = None
) -> list[Finding]:
    groups: dict[tuple[str, str], list[HostSnapshot]] = defaultdict(list)
    for snap in snapshots:
        if snap.os_release is None:
            continue
        for role in snap.host.roles:
            groups[(role, snap.os_release.key)].append(snap)
    findings: list[Finding] = []
    for (role, release), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        findings.extend(_inconsistent(role, release, members, _pinned(lockfile, role, release)))
    return findings


def _table(snap: HostSnapshot) -> dict[_Key, str]:
    """A host's installed versions by (ecosystem, name); a name listed twice keeps the lowest.

    Built by one comprehension when no name repeats (the common case: dpkg qualifies a
    second architecture's name), else package by package.
    """
    pkgs = snap.packages
    pip = Ecosystem.PIP
    table = {(p.ecosystem, p.name): p.version for p in pkgs if p.ecosystem is not pip}
    pips = [p for p in pkgs if p.ecosystem is pip]
    if len(table) + len(pips) != len(pkgs):
        table = {}
        for p in pkgs:
            if p.ecosystem is not pip:
                _keep_lowest(table, (p.ecosystem, p.name), p.version)
    if snap.host.pip:
        for p in pips:
            _keep_lowest(table, (pip, canonicalize_name(p.name)), p.version)
    return table


def _keep_lowest(table: dict[_Key, str], key: _Key, version: str) -> None:
    table[key] = version if key not in table else min(table[key], version)


def _inconsistent(
    role: str, release: str, members: Sequence[HostSnapshot], pinned: set[_Key]
) -> list[Finding]:
    installed = [_table(snap) for snap in members]
    keys = sorted(set().union(*installed) - pinned, key=lambda k: (k[0].value, k[1]))
    total = len(members)
    findings: list[Finding] = []
    for key in keys:
        seen = [t.get(key, "") for t in installed]
        if len(set(seen)) == 1:
            continue
        counts = Counter(seen)
        reference = _reference(key[0], counts)
        present = total - counts[""]
        summary = ", ".join(
            f"{v or 'absent'} on {n}"
            for v, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        )
        reason = f"{present} of {total} {role} hosts ({release}) have it: {summary}"
        for snap, version in zip(members, seen, strict=True):
            if version == reference:
                continue
            findings.append(
                Finding(
                    kind=FindingKind.INCONSISTENT,
                    host=snap.host.name,
                    env=snap.host.env,
                    role=role,
                    ecosystem=key[0],
                    package=key[1],
                    expected=reference,
                    actual=version,
                    reason=reason,
                    os_release=release,
                )
            )
    return findings


def mixed_os(snapshots: Iterable[HostSnapshot]) -> list[Finding]:
    groups: dict[tuple[str, str], list[HostSnapshot]] = defaultdict(list)
    for snap in snapshots:
        for role in snap.host.roles:
            groups[(snap.host.env, role)].append(snap)
    findings: list[Finding] = []
    for (env, role), members in sorted(groups.items()):
        releases = Counter(s.os_release.key if s.os_release else "unknown" for s in members)
        if len(releases) < 2:
            continue
        reference = max(sorted(releases), key=lambda r: releases[r])
        summary = ", ".join(f"{r} ({n})" for r, n in sorted(releases.items()))
        for snap in members:
            release = snap.os_release.key if snap.os_release else "unknown"
            if release == reference:
                continue
            findings.append(
                Finding(
                    kind=FindingKind.MIXED_OS,
                    host=snap.host.name,
                    env=env,
                    role=role,
                    expected=reference,
                    actual=release,
                    reason=f"{role} hosts in {env} run {summary}",
                    os_release=release,
                )
            )
    return findings
