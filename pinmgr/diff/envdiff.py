"""Environment vs environment (or host vs host) without a lockfile.

For teams that have not written pins yet: which packages differ between production and
staging, per role, and in which direction.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from packaging.utils import canonicalize_name

from pinmgr import versions
from pinmgr.errors import VersionError
from pinmgr.model import Direction, Ecosystem, HostSnapshot, InstalledPackage


@dataclass(frozen=True)
class DiffRow:
    """One package whose versions differ between the two sides (for one role)."""

    role: str
    ecosystem: Ecosystem
    package: str
    left: tuple[str, ...]  # distinct versions on the left side ("" = absent on some host)
    right: tuple[str, ...]
    # Right relative to left, comparing the highest version on each side; None if one is absent.
    direction: Direction | None


ALL_ROLES = "*"
"""The role of every row when hosts are compared without their roles."""

_Table = dict[tuple[str, Ecosystem, str], set[str]]
_NAME = attrgetter("name")

SYSTEM_FAMILIES = frozenset({Ecosystem.DEB, Ecosystem.RPM})
"""OS package families: a Debian host and a RHEL host share no package namespace (``libc6``
is ``glibc``), so their packages are only compared within one family."""


def _families(snaps: Iterable[HostSnapshot], by_role: bool) -> dict[str, set[Ecosystem]]:
    """role -> the OS package families its hosts on one side report."""
    out: dict[str, set[Ecosystem]] = defaultdict(set)
    for snap in snaps:
        found = {p.ecosystem for p in snap.packages} & SYSTEM_FAMILIES
        for role in snap.host.roles if by_role else ("*",):
            out[role] |= found
    return out


def _unshared(left: set[Ecosystem], right: set[Ecosystem]) -> set[Ecosystem]:
    """Families one side has and the other, using another family, lacks: not compared."""
    if not left or not right or left == right:
        return set()
    return (left | right) - (left & right)


def family_notes(
    left: Sequence[HostSnapshot],
    right: Sequence[HostSnapshot],
    *,
    left_name: str,
    right_name: str,
    by_role: bool = True,
) -> list[str]:
    """One line per role whose sides run different OS package families (deb vs rpm): what
    ``envdiff`` left out, instead of every package listed as absent on the other side."""
    fl, fr = _families(left, by_role), _families(right, by_role)
    notes = []
    for role in sorted(set(fl) & set(fr)):
        if _unshared(fl[role], fr[role]):
            lhs = "+".join(sorted(e.value for e in fl[role]))
            rhs = "+".join(sorted(e.value for e in fr[role]))
            where = f"role {role}: " if by_role else ""
            notes.append(
                f"{where}{left_name} has {lhs} packages, {right_name} has {rhs}: package names "
                "are compared per family, so a family only one side uses is not listed"
            )
    return notes


def _table(
    snaps: Iterable[HostSnapshot], by_role: bool, ecosystems: Sequence[Ecosystem]
) -> tuple[_Table, set[str]]:
    """(role, ecosystem, package) -> versions seen, "" where some host of the role lacks it."""
    per_role: dict[str, list[HostSnapshot]] = defaultdict(list)
    for snap in snaps:
        for role in snap.host.roles if by_role else (ALL_ROLES,):
            per_role[role].append(snap)
    out: _Table = defaultdict(set)
    for role, hosts in per_role.items():
        for (eco, name), seen in _versions(hosts, ecosystems).items():
            out[(role, eco, name)] = seen
    return out, set(per_role)


def _versions(
    hosts: Sequence[HostSnapshot], ecosystems: Sequence[Ecosystem]
) -> dict[tuple[Ecosystem, str], set[str]]:
    """Every package key of ``hosts`` with the versions they have ("" = some host lacks it).

    Hosts share their package values (the readers intern them): values are counted by
    identity in C, so a key's versions and whether every host has it come from its few
    distinct values, not from every host. pip (canonical names) and a name listed twice on a
    host (the first copy counts) are taken host by host, as before.
    """
    counts: Counter[int] = Counter()
    objects: dict[int, InstalledPackage] = {}
    repeated: set[str] = set()
    for snap in hosts:
        pkgs = snap.packages
        counts.update(map(id, pkgs))
        objects.update(zip(map(id, pkgs), pkgs, strict=True))
        if len(set(map(_NAME, pkgs))) != len(pkgs):
            repeated.update(n for n, c in Counter(map(_NAME, pkgs)).items() if c > 1)
    found: dict[tuple[Ecosystem, str], set[str]] = {}
    present: Counter[tuple[Ecosystem, str]] = Counter()
    exact: set[int] = set()
    for ident, pkg in objects.items():
        if ecosystems and pkg.ecosystem not in ecosystems:
            continue
        if pkg.ecosystem is Ecosystem.PIP or pkg.name in repeated:
            exact.add(ident)
            continue
        key: tuple[Ecosystem, str] = (pkg.ecosystem, pkg.name)
        found.setdefault(key, set()).add(pkg.version)
        present[key] += counts[ident]
    for key, n in present.items():
        if n < len(hosts):
            found[key].add("")
    if exact:
        tables = []
        for snap in hosts:
            installed: dict[tuple[Ecosystem, str], str] = {}
            for pkg in (objects[i] for i in filter(exact.__contains__, map(id, snap.packages))):
                name = canonicalize_name(pkg.name) if pkg.ecosystem is Ecosystem.PIP else pkg.name
                installed.setdefault((pkg.ecosystem, name), pkg.version)
            tables.append(installed)
        for key in set().union(*tables):
            found[key] = {t.get(key, "") for t in tables}
    return found


def _highest(eco: Ecosystem, values: Iterable[str]) -> str | None:
    present = [v for v in values if v]
    if not present:
        return None
    try:
        return max(present, key=lambda v: versions.sort_key(eco, v))
    except VersionError:
        return max(present)


def envdiff(
    left: Sequence[HostSnapshot],
    right: Sequence[HostSnapshot],
    *,
    by_role: bool = True,
    only: Sequence[str] = (),
    ecosystems: Sequence[Ecosystem] = (),
    roles: Sequence[str] = (),
) -> list[DiffRow]:
    """Packages whose set of versions differs between the two sides, sorted by role and name.

    Where the sides of a role run different OS package families (Debian vs RHEL hosts), the
    packages of a family only one side has are left out (``family_notes`` says so).
    """
    lt, role_left = _table(left, by_role, ecosystems)
    rt, role_right = _table(right, by_role, ecosystems)
    fl, fr = _families(left, by_role), _families(right, by_role)
    skip = {role: _unshared(fl[role], fr[role]) for role in set(fl) & set(fr)}
    keys = set(lt) | set(rt)
    rows: list[DiffRow] = []
    for role, eco, name in sorted(keys, key=lambda k: (k[0], k[1].value, k[2])):
        if roles and role not in roles:
            continue
        if only and not any(fnmatch.fnmatchcase(name, pat) for pat in only):
            continue
        if role not in role_left or role not in role_right:
            continue  # a role present on one side only: nothing to compare
        if eco in skip.get(role, ()):
            continue  # deb vs rpm: see family_notes
        lv = lt.get((role, eco, name), {""})
        rv = rt.get((role, eco, name), {""})
        if lv == rv:
            continue
        hl, hr = _highest(eco, lv), _highest(eco, rv)
        direction: Direction | None = None
        if hl is not None and hr is not None and hl != hr:
            try:
                cmp = versions.compare(eco, hr, hl)
            except VersionError:
                cmp = (hr > hl) - (hr < hl)
            direction = Direction.NEWER if cmp > 0 else Direction.OLDER if cmp < 0 else None
        rows.append(DiffRow(role, eco, name, tuple(sorted(lv)), tuple(sorted(rv)), direction))
    return rows
