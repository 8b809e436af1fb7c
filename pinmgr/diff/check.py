"""Lockfile x host snapshots -> findings: the heart of ``pinmgr check``.

Pure: it sees only model values, so every rule here is tested without a host.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from operator import attrgetter

from packaging.utils import canonicalize_name

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
from pinmgr.versions.policy import evaluate

CollectResult = HostSnapshot | HostFailure
_NAME = attrgetter("name")


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
    for pin in lockfile.pins_for(role, release):
        if pin.ecosystem is Ecosystem.PIP and not host.pip:
            # pip pins apply to the interpreters the inventory names; none named, nothing to check.
            continue
        matches = index.lookup(pin)
        if unpinned:
            pinned.add((pin.ecosystem, index.base_name(pin.ecosystem, pin.package)))
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
            if pkg.ecosystem is Ecosystem.PIP and not host.pip:
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


class _Index:
    """Installed packages by ecosystem and base name (``libssl3:i386`` -> ``libssl3``).

    ``lookup(pin)`` gives the candidates a pin is compared with. Most hosts list every name
    once: then a deb base name's candidates are its exact name and its few architecture
    twins, found in one dict built in C. The full grouping (copies of one name, canonical
    pip names, rpm) is built only for a host and pin that need it.
    """

    def __init__(self, packages: Sequence[InstalledPackage]) -> None:
        self._packages = packages
        first = {p.name: p for p in reversed(packages)}
        # Names seen once each: a name's package is then its only copy, in any ecosystem.
        self._only = first if len(first) == len(packages) else None
        self._twins: dict[str, list[str]] = {}
        for qualified in [n for n in map(_NAME, packages) if ":" in n]:  # packages' order
            self._twins.setdefault(qualified.split(":", 1)[0], []).append(qualified)
        self._grouped: dict[tuple[Ecosystem, str], list[InstalledPackage]] | None = None
        self._native: str | None = None

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
        only = self._only
        if only is None or ecosystem is not Ecosystem.DEB:
            return self._by().get((ecosystem, base), [])
        found = only.get(base)
        out = [found] if found is not None and found.ecosystem is Ecosystem.DEB else []
        for twin in self._twins.get(base, ()):
            if only[twin].ecosystem is Ecosystem.DEB:
                out.append(only[twin])
        return out

    @property
    def native(self) -> str:
        """dpkg's own architecture is the host's native one: a pin without ":arch" means it."""
        if self._native is None:
            dpkg = self.candidates(Ecosystem.DEB, "dpkg")
            self._native = dpkg[0].arch if dpkg else ""
        return self._native

    @staticmethod
    def base_name(ecosystem: Ecosystem, name: str) -> str:
        if ecosystem is Ecosystem.PIP:
            return canonicalize_name(name)
        return name.split(":", 1)[0]

    def lookup(self, pin: Pin) -> list[InstalledPackage]:
        name = pin.package
        candidates = self.candidates(pin.ecosystem, self.base_name(pin.ecosystem, name))
        if pin.ecosystem is Ecosystem.DEB:
            if len(candidates) == 1 and ":" not in name and ":" not in candidates[0].name:
                return candidates  # the common case, as the rule below decides it
            if ":" in name:
                arch = name.split(":", 1)[1]
                return [p for p in candidates if p.name == name or p.arch == arch][:1]
            native = [p for p in candidates if ":" not in p.name or p.arch in (self.native, "all")]
            return native[:1] or candidates[:1]
        if pin.ecosystem is Ecosystem.RPM:
            return candidates[:1]
        return candidates  # pip: one per interpreter
