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
from itertools import compress
from operator import attrgetter, is_not

from packaging.utils import canonicalize_name

from pinmgr import versions
from pinmgr.errors import VersionError
from pinmgr.model import (
    Ecosystem,
    Finding,
    FindingKind,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
)

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


_NAME = attrgetter("name")


class _Deviation:
    """One key whose hosts disagree: the versions counted ("" = absent), the reference, and
    each differing host (index among the members) with its version."""

    __slots__ = ("hosts", "reference", "tally")

    def __init__(self, eco: Ecosystem, tally: Counter[str]) -> None:
        self.tally = tally
        self.reference = _reference(eco, tally)
        self.hosts: list[tuple[int, str]] = []


def _inconsistent(
    role: str, release: str, members: Sequence[HostSnapshot], pinned: set[_Key]
) -> list[Finding]:
    scan = _Scan(members)
    deviations = {**_by_identity(scan, pinned), **_by_table(scan, pinned)}
    total = len(members)
    findings: list[Finding] = []
    for key in sorted(deviations, key=lambda k: (k[0].value, k[1])):
        dev = deviations[key]
        present = total - dev.tally[""]
        summary = ", ".join(
            f"{v or 'absent'} on {n}"
            for v, n in sorted(dev.tally.items(), key=lambda i: (-i[1], i[0]))
        )
        reason = f"{present} of {total} {role} hosts ({release}) have it: {summary}"
        for index, version in sorted(dev.hosts):
            snap = members[index]
            findings.append(
                Finding(
                    kind=FindingKind.INCONSISTENT,
                    host=snap.host.name,
                    env=snap.host.env,
                    role=role,
                    ecosystem=key[0],
                    package=key[1],
                    expected=dev.reference,
                    actual=version,
                    reason=reason,
                    os_release=release,
                )
            )
    return findings


class _Scan:
    """A group's package values counted by identity (in C: ``map``, ``Counter``, ``zip``).

    ``exact``: the objects ``_by_identity`` cannot count exactly, left to ``_by_table``: pip
    (canonical names, only on hosts with interpreters) and a name twice on one host.

    Most hosts of a group hold the same objects in the same places as some host counted
    before them (the *reference*), a few versions apart: such a host is compared with it
    place by place (``is``, in C) and only its differing places are counted; the reference's
    own objects are counted for it at the end. Others are counted whole, and one of them
    becomes the reference when the current one stops matching.
    """

    def __init__(self, members: Sequence[HostSnapshot]) -> None:
        self.members = members
        # Per member: its reference and the places it differs from it, or None (counted whole).
        self.like: list[tuple[_Reference, list[int]] | None] = []
        self.counts: Counter[int] = Counter()
        self.objects: dict[int, InstalledPackage] = {}
        repeated: set[str] = set()
        refs: list[_Reference] = []
        ref: _Reference | None = None
        misses = 0
        for snap in members:
            pkgs = snap.packages
            if ref is not None:
                places = ref.holds_like(pkgs, self)
                if places is not None:
                    self.like.append((ref, places))
                    misses = 0
                    continue
            self.like.append(None)
            self.counts.update(map(id, pkgs))
            self.objects.update(zip(map(id, pkgs), pkgs, strict=True))
            if len(set(map(_NAME, pkgs))) != len(pkgs):
                repeated.update(n for n, c in Counter(map(_NAME, pkgs)).items() if c > 1)
            misses += 1
            if ref is None or misses > 1:  # (one odd host does not replace the reference)
                ref = _Reference(pkgs)
                refs.append(ref)
                misses = 0
        for r in refs:
            if r.hosts:
                r.count_into(self.counts)
        self.exact = {
            i for i, p in self.objects.items() if p.ecosystem is Ecosystem.PIP or p.name in repeated
        }


class _Reference:
    """A host counted whole, and the hosts since found to hold its packages' names in its
    places: ``missing`` counts, per place, those of them holding another object there."""

    __slots__ = ("hosts", "missing", "packages")

    def __init__(self, packages: Sequence[InstalledPackage]) -> None:
        self.packages = packages
        self.hosts = 0
        self.missing: Counter[int] = Counter()

    def holds_like(self, pkgs: Sequence[InstalledPackage], scan: _Scan) -> list[int] | None:
        """Count ``pkgs`` here if they are the reference's names in its places (a few
        versions apart): only the differing places are counted one by one. Those places, or
        None (not counted)."""
        ref = self.packages
        if len(pkgs) != len(ref):
            return None
        places = list(compress(range(len(pkgs)), map(is_not, pkgs, ref)))
        if len(places) > 8 + len(pkgs) // 4:  # not a few apart: counted whole, in C
            return None
        # The same keys in the same places: the same names repeated (``exact``), the same keys
        # lacked (``_by_identity``) as the reference.
        for i in places:
            mine, theirs = pkgs[i], ref[i]
            if mine.name != theirs.name or mine.ecosystem is not theirs.ecosystem:
                return None
        self.hosts += 1
        self.missing.update(places)
        for i in places:
            pkg = pkgs[i]
            scan.counts[id(pkg)] += 1
            scan.objects[id(pkg)] = pkg
        return places

    def count_into(self, counts: Counter[int]) -> None:
        missing = self.missing
        for i, pkg in enumerate(self.packages):
            counts[id(pkg)] += self.hosts - missing[i]


def _by_identity(scan: _Scan, pinned: set[_Key]) -> dict[_Key, _Deviation]:
    """Deviating keys found by counting package values by identity, not host by host.

    Hosts of a fleet share their package values (the readers intern them): a role's hosts
    hold the same few objects each. Counting ``id``s (in C) gives every version's number of
    hosts; only the objects that are not their key's reference are then looked for on each
    host, again by ``id``. Keys this cannot count exactly (see ``_exact``) are left out.
    """
    members, counts, objects = scan.members, scan.counts, scan.objects
    held: dict[_Key, dict[str, int]] = {}
    ids_of: dict[_Key, list[int]] = {}
    for ident, pkg in objects.items():
        key = (pkg.ecosystem, pkg.name)
        if key in pinned or ident in scan.exact:
            continue
        seen = held.get(key)
        if seen is None:
            seen = held[key] = {}
            ids_of[key] = []
        seen[pkg.version] = seen.get(pkg.version, 0) + counts[ident]
        ids_of[key].append(ident)
    total = len(members)
    deviations: dict[_Key, _Deviation] = {}
    odd: dict[int, _Deviation] = {}  # objects that are not their key's reference
    held_by: dict[int, _Key] = {}  # every object of a key some host lacks (reference present)
    for key, seen in held.items():
        present = sum(seen.values())  # each host holds a key once at most (no name repeats)
        if len(seen) == 1 and present == total:
            continue
        tally = Counter(seen)
        if present < total:
            tally[""] = total - present
        dev = deviations[key] = _Deviation(key[0], tally)
        for ident in ids_of[key]:
            if objects[ident].version != dev.reference:
                odd[ident] = dev
            if dev.reference and present < total:
                held_by[ident] = key
    lacked = set(held_by.values())
    # Per reference (``_Scan``): its odd objects by place, and the keys it lacks; a host
    # like it holds the same, but at its own differing places.
    of_reference: dict[int, tuple[list[tuple[int, int]], set[_Key]]] = {}
    for index, snap in enumerate(members):
        like = scan.like[index]
        if like is None:
            ids = list(map(id, snap.packages))
            for ident in filter(odd.__contains__, ids):
                odd[ident].hosts.append((index, objects[ident].version))
            if lacked:
                has = {held_by[i] for i in filter(held_by.__contains__, ids)}
                for key in lacked - has:
                    deviations[key].hosts.append((index, ""))
            continue
        ref, places = like
        known = of_reference.get(id(ref))
        if known is None:
            ref_ids = list(map(id, ref.packages))
            odd_places = [(i, ident) for i, ident in enumerate(ref_ids) if ident in odd]
            has = {held_by[i] for i in filter(held_by.__contains__, ref_ids)}
            known = of_reference[id(ref)] = (odd_places, lacked - has)
        odd_places, ref_lacks = known
        differ = set(places)
        for i, ident in odd_places:
            if i not in differ:
                odd[ident].hosts.append((index, objects[ident].version))
        for ident in filter(odd.__contains__, map(id, map(snap.packages.__getitem__, places))):
            odd[ident].hosts.append((index, objects[ident].version))
        for key in ref_lacks:
            deviations[key].hosts.append((index, ""))
    return deviations


def _by_table(scan: _Scan, pinned: set[_Key]) -> dict[_Key, _Deviation]:
    """The keys ``_by_identity`` leaves out, host by host: each host's table of them."""
    if not scan.exact:
        return {}
    exact, objects = scan.exact.__contains__, scan.objects
    installed = [
        _table(snap, [objects[i] for i in filter(exact, map(id, snap.packages))])
        for snap in scan.members
    ]
    deviations: dict[_Key, _Deviation] = {}
    for key in set().union(*installed) - pinned:
        seen = [t.get(key, "") for t in installed]
        if len(set(seen)) == 1:
            continue
        dev = deviations[key] = _Deviation(key[0], Counter(seen))
        dev.hosts = [(i, v) for i, v in enumerate(seen) if v != dev.reference]
    return deviations


def _table(snap: HostSnapshot, pkgs: Sequence[InstalledPackage]) -> dict[_Key, str]:
    """``pkgs`` of a host by (ecosystem, name); a name listed twice keeps the lowest version.

    pip names are canonical, and count only on a host whose inventory names interpreters.
    """
    pip = Ecosystem.PIP
    table: dict[_Key, str] = {}
    for p in pkgs:
        if p.ecosystem is not pip:
            _keep_lowest(table, (p.ecosystem, p.name), p.version)
        elif snap.host.pip:
            _keep_lowest(table, (pip, canonicalize_name(p.name)), p.version)
    return table


def _keep_lowest(table: dict[_Key, str], key: _Key, version: str) -> None:
    table[key] = version if key not in table else min(table[key], version)


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
