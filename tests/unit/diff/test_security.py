"""security-update, the outdated annotation and accept --security-fixes on hand-built values."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from pinmgr import authoring
from pinmgr.diff.check import check
from pinmgr.diff.exitcode import FailOn, exit_code
from pinmgr.diff.installable import outdated
from pinmgr.diff.report import build
from pinmgr.diff.security import annotate, describe_fix, security_updates
from pinmgr.errors import HostCollectError
from pinmgr.model import (
    AvailableVersions,
    Ecosystem,
    Finding,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    Pin,
    SecurityFix,
)
from pinmgr.versions.policy import parse_policy

DEB, RPM = Ecosystem.DEB, Ecosystem.RPM
DSA = "Debian-Security bookworm-security"
DEBIAN = OsRelease("debian", "12")
MESSY = Path(__file__).resolve().parents[2] / "data" / "authoring" / "messy.toml"


def pin(pkg: str, spec: str, rel: str = "debian-12", eco: Ecosystem = DEB) -> Pin:
    return Pin("app", rel, eco, pkg, parse_policy(eco, spec))


LOCK = Lockfile(
    "pins/pinmgr.toml",
    1,
    ("app",),
    (
        pin("nginx", "1.22.1-9"),
        pin("openssl", "3.0.*"),
        pin("libc6", ">=2.36-9, <2.37"),
        pin("bash", "5.2.15-2+b7"),
        pin("libssl3:i386", "3.0.11-1~deb12u2"),
        pin("openssh", "8.7p1-34.el9", rel="rocky-9", eco=RPM),
    ),
)


def snap(
    name: str,
    offers: dict[str, tuple[tuple[str, ...], tuple[SecurityFix, ...]]],
    *,
    os_release: OsRelease = DEBIAN,
    eco: Ecosystem = DEB,
    installed: dict[str, str] | None = None,
) -> HostSnapshot:
    return HostSnapshot(
        host=Host(name, "prod", ("app",)),
        os_release=os_release,
        packages=tuple(InstalledPackage(eco, n, v, "amd64") for n, v in (installed or {}).items()),
        available=tuple(AvailableVersions(eco, n, v, s) for n, (v, s) in offers.items()),
    )


def fix(version: str, source: str = DSA, **kw: object) -> SecurityFix:
    return SecurityFix(version, source, **kw)  # type: ignore[arg-type]


def test_security_fix_named_and_feature_release_ignored() -> None:
    s = snap(
        "web1",
        {
            # the ordinary suite has a newer feature release; the fix is the security upload
            "nginx": (("1.24.0-1", "1.22.1-9+deb12u1", "1.22.1-9"), (fix("1.22.1-9+deb12u1"),)),
            # only feature releases: not a security finding
            "bash": (("5.3-1",), ()),
        },
        installed={"nginx": "1.22.1-9"},
    )
    (f,) = security_updates(LOCK, [s])
    assert (f.kind, f.package, f.expected, f.actual) == (
        FindingKind.SECURITY_UPDATE,
        "nginx",
        "1.22.1-9",
        "1.22.1-9",
    )
    assert f.fix == fix("1.22.1-9+deb12u1")
    assert f.reason == f"security fix 1.22.1-9+deb12u1 from {DSA}"


def test_newest_fix_wins_and_older_or_allowed_ones_are_not_findings() -> None:
    s = snap(
        "web1",
        {
            "nginx": ((), (fix("1.22.1-9+deb12u1"), fix("1.22.1-9+deb12u3"), fix("1.22.1-8"))),
            # glob pin already allows the fix: the pin is not behind
            "openssl": ((), (fix("3.0.13-1~deb12u1"),)),
            # range pin: a fix above the range is behind, one inside is not
            "libc6": ((), (fix("2.36-9+deb12u4"), fix("2.37-1"))),
            # a fix older than the pin
            "bash": ((), (fix("5.2.15-2+b2"),)),
            # multi-arch name: compared without the arch
            "libssl3": ((), (fix("3.0.13-1~deb12u1"),)),
        },
    )
    found = {f.package: f.fix.version for f in security_updates(LOCK, [s]) if f.fix}
    assert found == {
        "nginx": "1.22.1-9+deb12u3",
        "libc6": "2.37-1",
        "libssl3:i386": "3.0.13-1~deb12u1",
    }


def test_host_data_that_is_no_version_is_never_a_fix() -> None:
    s = snap("web1", {"nginx": ((), (fix("not a version!"), fix("\x1b[31m")))})
    assert security_updates(LOCK, [s]) == []


def test_rpm_advisory_in_reason_and_unknown_hosts_give_nothing() -> None:
    advisory = fix(
        "8.7p1-38.el9",
        "baseos",
        advisory="RHSA-2024:3166",
        severity="Moderate",
        cves=("CVE-2023-48795", "CVE-2023-51385", "CVE-2024-1", "CVE-2024-2"),
    )
    rocky = snap("db1", {"openssh": ((), (advisory,))}, os_release=OsRelease("rocky", "9"), eco=RPM)
    (f,) = security_updates(LOCK, [rocky])
    assert f.reason == (
        "security fix 8.7p1-38.el9 from baseos (RHSA-2024:3166; Moderate; "
        "CVE-2023-48795, CVE-2023-51385, CVE-2024-1 +1)"
    )
    assert describe_fix(fix("1")) == f"security fix 1 from {DSA}"
    # No available data (sources not asked / unreadable), or an undeclared release: nothing.
    assert security_updates(LOCK, [snap("web2", {})]) == []
    ubuntu = snap("u1", {"nginx": ((), (fix("9"),))}, os_release=OsRelease("ubuntu", "24.04"))
    assert security_updates(LOCK, [ubuntu]) == []


def test_fail_on_security_fails_only_for_security_updates() -> None:
    s = snap("web1", {"nginx": (("1.22.1-9+deb12u1",), (fix("1.22.1-9+deb12u1"),))})
    drifted = snap("web2", {}, installed={"nginx": "1.0-1"})
    secure = build(security_updates(LOCK, [s]), hosts_total=1, hosts_collected=1)
    assert exit_code(secure, FailOn.SECURITY) == 1
    assert exit_code(secure, FailOn.ANY) == 1
    assert exit_code(secure, FailOn.DRIFT) == 0
    drift_only = build(check(LOCK, [drifted]), hosts_total=1, hosts_collected=1)
    assert drift_only.summary.count(FindingKind.DRIFT) == 1
    assert exit_code(drift_only, FailOn.SECURITY) == 0


def test_outdated_rows_carry_the_newest_fix_of_any_host() -> None:
    a = snap("a", {"nginx": (("1.24.0-1", "1.22.1-9+deb12u1"), (fix("1.22.1-9+deb12u1"),))})
    b = snap("b", {"nginx": (("1.22.1-9+deb12u2",), (fix("1.22.1-9+deb12u2"),))})
    c = snap("c", {"bash": (("5.3-1",), ())})
    rows = annotate(outdated(LOCK, [a, b, c]), LOCK, [a, b, c])
    by_package = {r.package: r for r in rows}
    assert by_package["nginx"].newest == "1.24.0-1"
    assert by_package["nginx"].security == fix("1.22.1-9+deb12u2")
    assert by_package["nginx"].hosts == ("a", "b")
    assert by_package["bash"].security is None


# ---------------------------------------------------------------- accept --security-fixes


def finding(host: str, package: str, version: str | None, kind: FindingKind) -> Finding:
    return Finding(
        kind,
        host,
        "staging",
        "app",
        DEB,
        package,
        "x",
        "",
        os_release="debian-12",
        fix=fix(version) if version else None,
    )


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    path = tmp_path / "pinmgr.toml"
    shutil.copyfile(MESSY, path)
    return path


def changes(change: authoring.Edit) -> list[str]:
    before = change.before.decode("utf-8").splitlines()
    diff = difflib.unified_diff(before, change.after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("---", "+++"))]


def test_security_fixes_move_exactly_those_pins(lockfile: Path) -> None:
    s = FindingKind.SECURITY_UPDATE
    report = build(
        [
            finding("web1", "nginx", "1.22.1-9+deb12u1", s),
            finding("web2", "nginx", "1.22.1-9+deb12u1", s),
            finding("web1", "tzdata", "2024b-0+deb12u1", s),  # a shared pin, moved where it is
            finding("web1", "curl", "7.88.1-10+deb12u16", s),
            finding("web2", "curl", "7.88.1-10+deb12u17", s),  # hosts offered different fixes
            finding("web1", "openssl", None, FindingKind.DRIFT),  # drift: not this command's
        ],
        hosts_total=2,
        hosts_collected=2,
    )
    change = authoring.plan_security_fixes(lockfile, report)
    assert changes(change) == [
        '-tzdata = "2024a-0+deb12u1"',
        '+tzdata = "2024b-0+deb12u1"',
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
    ]
    (note,) = change.notes
    assert note.startswith("curl (deb, debian-12): hosts are offered different security fixes")
    only = authoring.plan_security_fixes(lockfile, report, ["tzdata"])
    assert len(changes(only)) == 2
    none = authoring.plan_security_fixes(lockfile, build([], hosts_total=1, hosts_collected=1))
    assert not none.changed and none.notes == ("no pin is behind a security fix",)


def test_security_fixes_refused_when_a_host_was_not_collected(lockfile: Path) -> None:
    down = Finding(FindingKind.UNREACHABLE, "web3", "staging", "app", reason="refused")
    report = build(
        [finding("web1", "nginx", "1.22.1-9+deb12u1", FindingKind.SECURITY_UPDATE), down],
        hosts_total=2,
        hosts_collected=1,
    )
    with pytest.raises(HostCollectError, match="web3"):
        authoring.plan_security_fixes(lockfile, report)


def test_outdated_reports_show_the_fix_and_escape_host_text() -> None:
    from pinmgr.reporters import outdated as reporter

    hostile = fix("1.22.1-9+deb12u1", "Evil\x1b]8;;http://x\x1b\\ ::error::x", advisory="DSA-1")
    a = snap("a", {"nginx": (("1.22.1-9+deb12u1",), (hostile,))})
    rows = annotate(outdated(LOCK, [a]), LOCK, [a])
    table = reporter.render_table(rows, width=200)
    assert "security fix" in table and "1.22.1-9+deb12u1 (Evil" in table
    assert "\x1b" not in table and "::error::" not in table
    doc = reporter.to_json(rows)
    assert doc["outdated"][0]["security_fix"]["advisory"] == "DSA-1"
    plain = annotate(outdated(LOCK, [snap("b", {"bash": (("5.3-1",), ())})]), LOCK, [])
    assert "security fix" not in reporter.render_table(plain, width=200)
    assert reporter.to_json(plain)["outdated"][0]["security_fix"] is None
