"""Lockfile x host snapshots -> findings: the heart of ``pinmgr check``.

Pure: it sees only model values, so every rule here is tested without a host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import compress
from operator import attrgetter, is_not
from typing import cast

from packaging.utils import canonicalize_name

from pinmgr.diff.copies import judge_copies
from pinmgr.errors import VersionError
from pinmgr.model import (
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    PackageState,
    Pin,
    PinPolicy,
)
from pinmgr.versions.names import split_arch
from pinmgr.versions.policy import evaluate

CollectResult = HostSnapshot | HostFailure
_NAME = attrgetter("name")
_ECOSYSTEM = attrgetter("ecosystem")
_DEB, _RPM, _PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP
"""Module constants: ``Ecosystem.DEB`` is a descriptor call per use, millions in a fleet."""
_QUALIFIED = re.compile(r"^[^\n:]*:[^\n]*$", re.MULTILINE)
"""A name with an architecture (``libssl3:i386``), one per line of the joined names."""
_UNKNOWN = object()
_REBASE_AT = 16
"""A host differing from its plan's reference in more plain deb pins than this (and 1/8 of
them) becomes the reference: the first host seen may be an odd one."""


class OkCount:
    """``ok`` findings counted instead of built, where the report will not list them.

    They are most of a fleet's findings (87% on the benchmark fleet): ``check --no-ok``
    needs their number for the summary, not 3 million values.
    """

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def check(
    lockfile: Lockfile,
    results: Iterable[CollectResult],
    *,
    unpinned: bool = False,
    ok_count: OkCount | None = None,
) -> list[Finding]:
    """Every finding for every host, unsorted (``diff.report`` sorts once).

    With ``ok_count``, ``ok`` findings are only counted there, not returned.
    """
    findings: list[Finding] = []
    verdicts = _Verdicts()
    for result in results:
        if isinstance(result, HostFailure):
            findings.append(_failure(result))
        else:
            for role in result.host.roles:
                findings.extend(
                    _check_role(
                        lockfile,
                        result,
                        role,
                        verdicts=verdicts,
                        unpinned=unpinned,
                        ok_count=ok_count,
                    )
                )
    return findings


class _Verdicts:
    """``evaluate`` per (ecosystem, policy, installed version), computed once per run.

    A fleet reports the same few thousand versions from every host against the same pins;
    the verdict is a pure function of those three (a Direction, None, or the refusal text).
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[Ecosystem, PinPolicy, str], Direction | str | None] = {}
        # Per pin object, by installed version: no PinPolicy hash (a dataclass's, in Python)
        # per host and pin. The pin is kept beside its table so its id stays its own.
        self._by_pin: dict[int, tuple[Pin, dict[str, Direction | str | None]]] = {}
        # Per pins tuple (the lockfile memoizes one per role and release), kept beside it.
        self._plans: dict[int, tuple[tuple[Pin, ...], _Plan]] = {}

    def plan(self, pins: tuple[Pin, ...]) -> _Plan:
        """The ``_Plan`` of one (role, release)'s pins, made once per run."""
        kept = self._plans.get(id(pins))
        if kept is not None:
            return kept[1]
        entries = []
        for pin in pins:
            mine = self._by_pin.get(id(pin))
            if mine is None:
                mine = self._by_pin[id(pin)] = (pin, {})
            simple = pin.ecosystem is Ecosystem.DEB and ":" not in pin.package
            entries.append((pin, simple, cast("dict[str, object]", mine[1])))
        plan = _Plan(entries)
        self._plans[id(pins)] = (pins, plan)
        return plan

    def of(self, pin: Pin, installed: str) -> Direction | str | None:
        mine = self._by_pin.get(id(pin))
        if mine is None:
            mine = self._by_pin[id(pin)] = (pin, {})
        try:
            return mine[1][installed]
        except KeyError:
            pass
        key = (pin.ecosystem, pin.policy, installed)
        verdict: Direction | str | None
        try:
            verdict = self._seen[key]
        except KeyError:
            try:
                verdict = evaluate(pin.ecosystem, pin.policy, installed)
            except VersionError as exc:
                verdict = exc.message
            self._seen[key] = verdict
        mine[1][installed] = verdict
        return verdict


_Entry = tuple[Pin, bool, dict[str, object]]
"""A pin, whether it is a plain deb name, and its verdicts by installed version."""


class _Plan:
    """One (role, release)'s pins, and what a reference host of it had for the plain deb ones.

    Hosts of one role and release run mostly the same packages, and with a snapshot those are
    the same values (``snapshot`` shares them between hosts and files). So a host's plain deb
    pins are compared with the reference's by identity, in C; only the few that differ, those
    the reference did not satisfy, and those with an architecture twin on this host are judged
    one by one. The rest are ``ok`` exactly as the reference's were: counted, not built.
    """

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self._simple = [e for e in entries if e[1]]
        self._rest = [e for e in entries if not e[1]]
        self._names = tuple(e[0].package for e in self._simple)
        self._position = {name: i for i, name in enumerate(self._names)}
        self._ref: tuple[InstalledPackage | None, ...] | None = None
        self._ref_ok: list[bool] = []
        self._ref_ok_total = 0
        self._ref_bad: list[int] = []

    def _rebase(self, sig: tuple[InstalledPackage | None, ...], verdicts: _Verdicts) -> None:
        self._ref = sig
        self._ref_ok = [
            found is not None
            and found.ecosystem is _DEB
            and found.state is not PackageState.HALF_INSTALLED
            and verdicts.of(entry[0], found.version) is None
            for entry, found in zip(self._simple, sig, strict=True)
        ]
        self._ref_ok_total = sum(self._ref_ok)
        self._ref_bad = [i for i, ok in enumerate(self._ref_ok) if not ok]

    def todo(self, index: _Index, verdicts: _Verdicts, ok_count: OkCount) -> list[_Entry]:
        """The entries this host needs judged one by one; the others are counted ok."""
        only = index.only
        assert only is not None
        sig = tuple(map(only.get, self._names))
        if self._ref is None:
            self._rebase(sig, verdicts)
        ref = self._ref
        assert ref is not None
        check = set(compress(range(len(sig)), map(is_not, sig, ref)))
        if (
            len(check) > _REBASE_AT and len(check) > len(sig) // 8
        ):  # an odd reference: take this host
            self._rebase(sig, verdicts)
            check = set()
        check.update(self._ref_bad)
        ref_ok = self._ref_ok
        ok_count.n += self._ref_ok_total - sum(ref_ok[i] for i in check)
        return [self._simple[i] for i in sorted(check)] + self._rest


def _failure(failure: HostFailure) -> Finding:
    host = failure.host
    return Finding(
        kind=FindingKind(failure.kind.value),
        host=host.name,
        env=host.env,
        role=",".join(host.roles),
        reason=failure.reason,
    )


def _check_role(
    lockfile: Lockfile,
    snap: HostSnapshot,
    role: str,
    *,
    verdicts: _Verdicts,
    unpinned: bool,
    ok_count: OkCount | None = None,
) -> list[Finding]:
    host = snap.host
    declared = lockfile.releases_for(role)
    release = declared_release(snap.os_release, declared) or (
        snap.os_release.key if snap.os_release else ""
    )
    if release not in declared:
        reason = (
            f"OS release {release} is not declared for role {role}"
            if release
            else "the host did not report an OS release (/etc/os-release missing)"
        )
        return [
            Finding(
                kind=FindingKind.UNSUPPORTED_OS,
                host=host.name,
                env=host.env,
                role=role,
                expected=", ".join(declared) or "(none)",
                actual=release or "unknown",
                reason=reason,
                os_release=release,
            )
        ]
    index = _Index(snap.packages)
    findings: list[Finding] = []
    pinned: set[tuple[Ecosystem, str]] = set()
    pins = lockfile.pins_for(role, release)
    unchecked = unchecked_ecosystems(snap, pins)
    if unchecked:
        findings.extend(_not_checked(snap, role, release, pins, unchecked))
    plan = verdicts.plan(pins)
    todo = plan.entries
    fast = ok_count is not None and not unpinned and not unchecked and index.only is not None
    if fast:
        todo = plan.todo(index, verdicts, ok_count)  # type: ignore[arg-type]
    for pin, simple, known in todo:
        if fast and simple:
            # Most of a fleet's findings: a plain deb pin, its one copy installed, ok. Decided
            # here with two dict lookups; anything else takes the general path below.
            found = index.only.get(pin.package)  # type: ignore[union-attr]
            # Its own copy installed: ``lookup`` gives it whatever twins (":i386") it has.
            if found is not None and found.ecosystem is _DEB:
                verdict = known.get(found.version, _UNKNOWN)
                if verdict is _UNKNOWN:
                    verdict = verdicts.of(pin, found.version)
                if verdict is None and found.state is not PackageState.HALF_INSTALLED:
                    ok_count.n += 1  # type: ignore[union-attr]
                else:
                    findings.append(_compare(snap, role, release, pin, found, verdicts))
                continue
        if pin.ecosystem in unchecked:
            continue
        matches = index.lookup(pin)
        if unpinned:
            pinned.add((pin.ecosystem, index.base_name(pin.ecosystem, pin.package)))
        if pin.ecosystem is _RPM:
            judged = _compare_copies(snap, role, release, pin, matches, verdicts)
            if ok_count is not None:
                kept = [f for f in judged if f.kind is not FindingKind.OK]
                ok_count.n += len(judged) - len(kept)
                judged = kept
            findings.extend(judged)
        else:
            for installed in matches:
                if ok_count is not None and _is_ok(pin, installed, verdicts):
                    ok_count.n += 1
                    continue
                findings.append(_compare(snap, role, release, pin, installed, verdicts))
        if not matches:
            findings.append(_finding(snap, role, release, pin, FindingKind.MISSING))
    if unpinned:
        for pkg in snap.packages:
            if (pkg.ecosystem, index.base_name(pkg.ecosystem, pkg.name)) in pinned:
                continue
            if pkg.ecosystem is _PIP and not host.pip:
                continue
            findings.append(
                Finding(
                    kind=FindingKind.UNPINNED,
                    host=host.name,
                    env=host.env,
                    role=role,
                    ecosystem=pkg.ecosystem,
                    package=pkg.name,
                    actual=pkg.version,
                    os_release=release,
                )
            )
    return findings


NOT_CHECKED_WHY = {
    Ecosystem.PIP: 'no pip interpreter listed for this host; set pip = ["/usr/bin/python3"] '
    "(or a virtualenv) on the host in the inventory (Ansible: pinmgr_pip)",
    Ecosystem.RPM: "the host reported no rpm packages (no rpm database); pin rpm packages "
    "only under the release tables of rpm-based systems",
    Ecosystem.DEB: "the host reported no deb packages (no dpkg database); pin deb packages "
    "only under the release tables of Debian-based systems",
}


def unchecked_ecosystems(snap: HostSnapshot, pins: Sequence[Pin]) -> frozenset[Ecosystem]:
    """Pinned ecosystems this host cannot be checked in: pip without an interpreter listed,
    deb or rpm when the host reported no package of that ecosystem at all (no database)."""
    pinned = {pin.ecosystem for pin in pins}
    if not pinned:
        return frozenset()
    out: set[Ecosystem] = set()
    for eco in pinned:
        if eco is _PIP:
            if not snap.host.pip:
                out.add(eco)
        elif eco not in map(_ECOSYSTEM, snap.packages):  # in C, up to its first package
            out.add(eco)
    return frozenset(out)


def _not_checked(
    snap: HostSnapshot,
    role: str,
    release: str,
    pins: Sequence[Pin],
    unchecked: frozenset[Ecosystem],
) -> list[Finding]:
    """One ``not-checked`` finding per ecosystem: how many pins, why, and what fixes it."""
    out = []
    for eco in sorted(unchecked, key=lambda e: e.value):
        mine = [p for p in pins if p.ecosystem is eco]
        count = f"{len(mine)} {eco.value} pin{'s' if len(mine) != 1 else ''}"
        out.append(
            Finding(
                kind=FindingKind.NOT_CHECKED,
                host=snap.host.name,
                env=snap.host.env,
                role=role,
                ecosystem=eco,
                expected=count,
                reason=f"{count} not checked: {NOT_CHECKED_WHY[eco]}",
                os_release=release,
                location=mine[0].location,
            )
        )
    return out


def declared_release(os_release: OsRelease | None, declared: Sequence[str]) -> str | None:
    """The lockfile release a host's OS release falls under.

    Exact ``ID-VERSION_ID`` first, then shorter dotted prefixes: a Rocky host reporting
    ``VERSION_ID="9.3"`` is checked against ``rocky-9`` when ``rocky-9.3`` is not declared.
    """
    if os_release is None:
        return None
    parts = os_release.version_id.split(".")
    for n in range(len(parts), 0, -1):
        key = f"{os_release.id}-{'.'.join(parts[:n])}"
        if key in declared:
            return key
    return None


def _finding(
    snap: HostSnapshot,
    role: str,
    release: str,
    pin: Pin,
    kind: FindingKind,
    installed: InstalledPackage | None = None,
) -> Finding:
    reason = ""
    if installed is not None and installed.state is not PackageState.INSTALLED:
        reason = installed.state.value
    if installed is not None and installed.origin:
        reason = f"{reason}; {installed.origin}" if reason else installed.origin
    return Finding(
        kind=kind,
        host=snap.host.name,
        env=snap.host.env,
        role=role,
        ecosystem=pin.ecosystem,
        package=installed.name if installed else pin.package,
        expected=pin.spec,
        actual=installed.version if installed else "",
        reason=reason,
        os_release=release,
        location=pin.location,
    )


def _is_ok(pin: Pin, installed: InstalledPackage, verdicts: _Verdicts) -> bool:
    """What ``_compare`` would call ``ok``, without building the finding."""
    return (
        verdicts.of(pin, installed.version) is None
        and installed.state is not PackageState.HALF_INSTALLED
    )


def _compare(
    snap: HostSnapshot,
    role: str,
    release: str,
    pin: Pin,
    installed: InstalledPackage,
    verdicts: _Verdicts,
) -> Finding:
    direction = verdicts.of(pin, installed.version)
    if isinstance(direction, str) and not isinstance(direction, Direction):
        # A host may report a version its own ecosystem's rules reject (legacy pip versions,
        # hostile output): that host/package is drift with the reason, not a crash of the run.
        found = _finding(snap, role, release, pin, FindingKind.DRIFT, installed)
        return replace(found, reason=direction)  # "installed version 'foo' is not PEP 440"
    if direction is None and installed.state is not PackageState.HALF_INSTALLED:
        return _finding(snap, role, release, pin, FindingKind.OK, installed)
    found = _finding(snap, role, release, pin, FindingKind.DRIFT, installed)
    return replace(found, direction=direction)


def _compare_copies(
    snap: HostSnapshot,
    role: str,
    release: str,
    pin: Pin,
    matches: Sequence[InstalledPackage],
    verdicts: _Verdicts,
) -> list[Finding]:
    """rpm: one finding per installed architecture, met by any copy of it (``diff.copies``)."""

    def meets(installed: InstalledPackage) -> bool:
        return verdicts.of(pin, installed.version) is None

    out = []
    for group in judge_copies(pin.package, matches, meets):
        found = _compare(snap, role, release, pin, group.chosen, verdicts)
        if group.others:
            also = "also installed: " + ", ".join(p.version for p in group.others)
            found = replace(found, reason=f"{found.reason}; {also}" if found.reason else also)
        out.append(replace(found, package=group.label))
    return out


class _Index:
    """Installed packages by ecosystem and base name (``libssl3:i386`` -> ``libssl3``).

    ``lookup(pin)`` gives the candidates a pin is compared with. Most hosts list every name
    once: then a deb base name's candidates are its exact name and its few architecture
    twins, found in one dict built in C. The full grouping (copies of one name, canonical
    pip names, rpm) is built only for a host and pin that need it.
    """

    def __init__(self, packages: Sequence[InstalledPackage]) -> None:
        self._packages = packages
        first = dict(zip(map(_NAME, packages), packages, strict=True))  # in C
        # Names seen once each: a name's package is then its only copy, in any ecosystem.
        self.only = first if len(first) == len(packages) else None
        self._twins: dict[str, list[str]] | None = None
        self._grouped: dict[tuple[Ecosystem, str], list[InstalledPackage]] | None = None
        self._native: str | None = None

    @property
    def twins(self) -> dict[str, list[str]]:
        """Architecture-qualified names by base name, in the packages' order (built when a
        pin takes the general path: a plain name's own copy needs none)."""
        if self._twins is None:
            names = list(map(_NAME, self._packages))
            joined = "\n".join(names)
            if joined.count("\n") == len(names) - 1:  # no name holds a line break (hostile)
                qualified = _QUALIFIED.findall(joined)  # in C, in the packages' order
            else:
                qualified = [n for n in names if ":" in n]
            twins: dict[str, list[str]] = {}
            for name in qualified:
                twins.setdefault(name.split(":", 1)[0], []).append(name)
            self._twins = twins
        return self._twins

    def _by(self) -> dict[tuple[Ecosystem, str], list[InstalledPackage]]:
        if self._grouped is None:
            by: dict[tuple[Ecosystem, str], list[InstalledPackage]] = {}
            for pkg in self._packages:
                key = (pkg.ecosystem, self.base_name(pkg.ecosystem, pkg.name))
                by.setdefault(key, []).append(pkg)
            self._grouped = by
        return self._grouped

    def candidates(self, ecosystem: Ecosystem, base: str) -> list[InstalledPackage]:
        """Every installed package of ``base`` in ``ecosystem``, in the packages' order."""
        only = self.only
        if only is None or ecosystem is not _DEB:
            return self._by().get((ecosystem, base), [])
        found = only.get(base)
        out = [found] if found is not None and found.ecosystem is _DEB else []
        for twin in self.twins.get(base, ()):
            if only[twin].ecosystem is _DEB:
                out.append(only[twin])
        return out

    @property
    def native(self) -> str:
        """dpkg's own architecture is the host's native one: a pin without ":arch" means it."""
        if self._native is None:
            dpkg = self.candidates(_DEB, "dpkg")
            self._native = dpkg[0].arch if dpkg else ""
        return self._native

    @staticmethod
    def base_name(ecosystem: Ecosystem, name: str) -> str:
        if ecosystem is _PIP:
            return canonicalize_name(name)
        if ecosystem is _RPM:
            return split_arch(name)[0]
        return name.split(":", 1)[0]

    def lookup(self, pin: Pin) -> list[InstalledPackage]:
        name = pin.package
        candidates = self.candidates(pin.ecosystem, self.base_name(pin.ecosystem, name))
        if pin.ecosystem is _DEB:
            if len(candidates) == 1 and ":" not in name and ":" not in candidates[0].name:
                return candidates  # the common case, as the rule below decides it
            if ":" in name:
                arch = name.split(":", 1)[1]
                return [p for p in candidates if p.name == name or p.arch == arch][:1]
            native = [p for p in candidates if ":" not in p.name or p.arch in (self.native, "all")]
            return native[:1] or candidates[:1]
        if pin.ecosystem is _RPM:  # every copy counts: judged by _compare_copies
            rpm_arch = split_arch(pin.package)[1]
            if rpm_arch is None:
                return list(candidates)
            return [p for p in candidates if p.arch == rpm_arch]
        return candidates  # pip: one per interpreter
