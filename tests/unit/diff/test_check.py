"""Diff engine on hand-built model values (no hosts, no files)."""

from __future__ import annotations

import datetime as dt

import pytest

from pinmgr.diff import waivers
from pinmgr.diff.check import check
from pinmgr.diff.exitcode import FailOn, exit_code
from pinmgr.diff.report import build
from pinmgr.model import (
    SHARED_ROLE,
    Direction,
    Ecosystem,
    FailureKind,
    Finding,
    FindingKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    PackageState,
    Pin,
    Waiver,
)
from pinmgr.versions.policy import parse_policy

DEB = Ecosystem.DEB


def pin(
    pkg: str, spec: str, role: str = "app", rel: str = "debian-12", eco: Ecosystem = DEB
) -> Pin:
    return Pin(role, rel, eco, pkg, parse_policy(eco, spec))


def pkg(name: str, version: str, arch: str = "amd64", **kw: object) -> InstalledPackage:
    return InstalledPackage(DEB, name, version, arch, **kw)  # type: ignore[arg-type]


LOCK = Lockfile(
    path="pins/pinmgr.toml",
    schema=1,
    roles=("app", "db"),
    pins=(
        pin("nginx", "1.22.1-9"),
        pin("bash", "5.2.15-2+b7"),
        pin("curl", "7.88.1-10+deb12u5"),
        pin("openssl", "3.0.*"),
        pin("libssl3:i386", "3.0.15-1~deb12u1"),
        pin("ca-certificates", "20230311", role=SHARED_ROLE),
        pin("nginx", "1.18.0-6ubuntu14.4", rel="ubuntu-22.04"),
    ),
    releases=(("db", "debian-12"),),
)

HOST = Host("web1", "staging", ("app",))
BOOKWORM = OsRelease("debian", "12")


def snap(*packages: InstalledPackage, rel: OsRelease | None = BOOKWORM) -> HostSnapshot:
    return HostSnapshot(HOST, rel, packages)


def kinds(findings: list) -> dict[str, FindingKind]:  # type: ignore[type-arg]
    return {f.package: f.kind for f in findings}


def test_ok_drift_missing_and_shared() -> None:
    s = snap(
        pkg("dpkg", "1.21.22"),
        pkg("nginx", "1.22.1-9"),
        pkg("bash", "5.2.15-2+b2"),
        pkg("curl", "7.88.1-10+deb12u8"),
        pkg("openssl", "3.0.15-1~deb12u1"),
        pkg("ca-certificates", "20230311", arch="all"),
    )
    found = check(LOCK, [s])
    by = {f.package: f for f in found}
    assert by["nginx"].kind is FindingKind.OK
    assert by["bash"].kind is FindingKind.DRIFT and by["bash"].direction is Direction.OLDER
    assert by["curl"].kind is FindingKind.DRIFT and by["curl"].direction is Direction.NEWER
    assert by["openssl"].kind is FindingKind.OK  # glob
    assert by["ca-certificates"].kind is FindingKind.OK  # shared pin applies to every role
    assert by["libssl3:i386"].kind is FindingKind.MISSING
    assert len(found) == 6


def test_multiarch_pins_pick_the_right_architecture() -> None:
    s = snap(
        pkg("dpkg", "1.21.22"),
        pkg("libssl3:amd64", "3.0.11-1~deb12u2"),
        pkg("libssl3:i386", "3.0.15-1~deb12u1", arch="i386"),
    )
    by = {f.package: f for f in check(LOCK, [s]) if f.package.startswith("libssl3")}
    assert by["libssl3:i386"].kind is FindingKind.OK
    assert by["libssl3:i386"].actual == "3.0.15-1~deb12u1"


def test_half_installed_is_drift_and_held_is_shown() -> None:
    s = snap(
        pkg("nginx", "1.22.1-9", state=PackageState.HALF_INSTALLED),
        pkg("bash", "5.2.15-2+b7", state=PackageState.HELD),
    )
    by = {f.package: f for f in check(LOCK, [s])}
    assert by["nginx"].kind is FindingKind.DRIFT and by["nginx"].reason == "half-installed"
    assert by["bash"].kind is FindingKind.OK and by["bash"].reason == "held"


def test_unsupported_os_and_unknown_os() -> None:
    (f,) = check(LOCK, [snap(rel=OsRelease("rocky", "9"))])
    assert f.kind is FindingKind.UNSUPPORTED_OS
    assert f.actual == "rocky-9" and "debian-12" in f.expected
    (g,) = check(LOCK, [snap(rel=None)])
    assert g.kind is FindingKind.UNSUPPORTED_OS and "os-release" in g.reason


def test_declared_release_without_pins_is_supported() -> None:
    base = (InstalledPackage(Ecosystem.DEB, "base-files", "12.4+deb12u11", "amd64"),)
    db = HostSnapshot(Host("db1", "staging", ("db",)), OsRelease("debian", "12"), base)
    found = check(LOCK, [db])
    # Only the shared pin applies to db on debian-12.
    assert [(f.package, f.kind) for f in found] == [("ca-certificates", FindingKind.MISSING)]


def test_unpinned_is_opt_in() -> None:
    s = snap(pkg("nginx", "1.22.1-9"), pkg("vim", "2:9.0.1378-2"))
    assert "vim" not in kinds(check(LOCK, [s]))
    assert kinds(check(LOCK, [s], unpinned=True))["vim"] is FindingKind.UNPINNED


def test_pip_pins_only_for_hosts_with_interpreters() -> None:
    lock = Lockfile("l", 1, ("app",), (pin("Requests", ">=2.28, <3", eco=Ecosystem.PIP),))
    plain = HostSnapshot(HOST, OsRelease("debian", "12"), ())
    # No interpreter listed: the pin is not checked, and the report says so (#14).
    (skipped,) = check(lock, [plain])
    assert (skipped.kind, skipped.ecosystem, skipped.expected) == (
        FindingKind.NOT_CHECKED,
        Ecosystem.PIP,
        "1 pip pin",
    )
    assert "no pip interpreter listed" in skipped.reason and "pip = [" in skipped.reason
    venv_host = Host("web1", "staging", ("app",), pip=("/srv/app/venv",))
    pkgs = (InstalledPackage(Ecosystem.PIP, "requests", "3.1.0", origin="/srv/app/venv"),)
    (f,) = check(lock, [HostSnapshot(venv_host, OsRelease("debian", "12"), pkgs)])
    assert f.kind is FindingKind.DRIFT and f.direction is Direction.NEWER
    assert f.reason == "/srv/app/venv"


def test_host_failure_becomes_finding_and_exit_3_wins() -> None:
    failure = HostFailure(Host("db9", "prod", ("db",)), FailureKind.TIMEOUT, "db9: timed out")
    found = check(LOCK, [failure, snap(pkg("nginx", "1.0-1"))])
    report = build(found, hosts_total=2, hosts_collected=1)
    assert report.findings[0].kind is FindingKind.TIMEOUT  # env "prod" sorts before "staging"
    assert exit_code(report) == 3
    assert exit_code(report, FailOn.NEVER) == 0
    assert exit_code(report, FailOn.UNREACHABLE) == 3


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        (FailOn.ANY, 1),
        (FailOn.DRIFT, 0),
        (FailOn.MISSING, 1),
        (FailOn.UNREACHABLE, 0),
        (FailOn.NEVER, 0),
    ],
)
def test_fail_on_policy_for_missing_only(fail_on: FailOn, expected: int) -> None:
    found = check(LOCK, [snap(pkg("dpkg", "1"), pkg("nginx", "1.22.1-9"))])
    found = [f for f in found if f.kind in (FindingKind.OK, FindingKind.MISSING)]
    assert exit_code(build(found, hosts_total=1, hosts_collected=1), fail_on) == expected


def test_every_fail_on_member_is_handled() -> None:
    report = build([], hosts_total=0, hosts_collected=0)
    for member in FailOn:
        assert exit_code(report, member) == 0


def test_waivers_apply_until_expiry() -> None:
    lock_waiver = Waiver("bash", "rolled early", dt.date(2026, 12, 31), role="app")
    found = check(LOCK, [snap(pkg("bash", "5.2.15-2+b2"))])
    before = {f.package: f for f in waivers.apply(found, [lock_waiver], dt.date(2026, 12, 31))}
    assert before["bash"].kind is FindingKind.WAIVED
    assert "rolled early" in before["bash"].waiver_reason
    after = {f.package: f for f in waivers.apply(found, [lock_waiver], dt.date(2027, 1, 1))}
    assert after["bash"].kind is FindingKind.DRIFT
    assert "waiver expired 2026-12-31" in after["bash"].reason
    other_env = Waiver("bash", "x", dt.date(2030, 1, 1), env="production")
    assert {
        f.kind
        for f in waivers.apply(found, [other_env], dt.date(2026, 1, 1))
        if f.package == "bash"
    } == {FindingKind.DRIFT}


def test_point_release_falls_under_major_release_key() -> None:
    lock = Lockfile(
        "l", 1, ("app",), (pin("bash", "5.1.8-9.el9", rel="rocky-9", eco=Ecosystem.RPM),)
    )
    rpm = InstalledPackage(Ecosystem.RPM, "bash", "5.1.8-9.el9")
    (f,) = check(lock, [HostSnapshot(HOST, OsRelease("rocky", "9.3"), (rpm,))])
    assert f.kind is FindingKind.OK and f.os_release == "rocky-9"
    # Ubuntu's "22.04" is not shortened to a declared "ubuntu-22.04" sibling by accident.
    (g,) = check(lock, [HostSnapshot(HOST, OsRelease("ubuntu", "22.04"), ())])
    assert g.kind is FindingKind.UNSUPPORTED_OS


def test_unparsable_installed_version_is_drift_not_a_crash() -> None:
    lock = Lockfile("l", 1, ("app",), (pin("flask", "2.3.3", eco=Ecosystem.PIP),))
    venv_host = Host("web1", "staging", ("app",), pip=("/srv/venv",))
    bad = InstalledPackage(Ecosystem.PIP, "flask", "not a version!", origin="/srv/venv")
    (f,) = check(lock, [HostSnapshot(venv_host, BOOKWORM, (bad,))])
    assert f.kind is FindingKind.DRIFT and f.direction is None
    assert f.reason == "installed version 'not a version!' is not PEP 440"


@pytest.mark.parametrize(
    ("waived", "eco", "package", "covered"),
    [
        ("glibc", Ecosystem.RPM, "glibc.i686", True),  # the pin's per-architecture finding
        ("glibc", Ecosystem.RPM, "glibc.x86_64", True),
        ("glibc.i686", Ecosystem.RPM, "glibc.x86_64", False),  # an arch names only itself
        ("glibc.i686", Ecosystem.RPM, "glibc.i686", True),
        ("python3", Ecosystem.RPM, "python3.11", False),  # .11 is no architecture
        ("libssl3", Ecosystem.DEB, "libssl3:i386", True),
        ("libssl3:i386", Ecosystem.DEB, "libssl3", False),
        ("requests", Ecosystem.PIP, "requests", True),
    ],
)
def test_a_waiver_without_an_architecture_covers_every_architecture(
    waived: str, eco: Ecosystem, package: str, covered: bool
) -> None:
    waiver = Waiver(package=waived, reason="known", expires=dt.date(2030, 1, 1))
    drift = Finding(
        kind=FindingKind.DRIFT, host="h", env="e", role="app", ecosystem=eco, package=package
    )
    (out,) = waivers.apply([drift], [waiver], dt.date(2026, 12, 7))
    assert (out.kind is FindingKind.WAIVED) is covered
