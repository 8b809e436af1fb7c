"""not-installable and outdated on hand-built snapshots (no hosts, no files)."""

from __future__ import annotations

from pinmgr.diff.check import check
from pinmgr.diff.exitcode import FailOn, exit_code
from pinmgr.diff.installable import OutdatedRow, describe_offer, not_installable, outdated
from pinmgr.diff.report import build
from pinmgr.model import (
    SHARED_ROLE,
    AvailableVersions,
    Ecosystem,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    Pin,
)
from pinmgr.versions.policy import parse_policy

DEB, RPM = Ecosystem.DEB, Ecosystem.RPM
DEBIAN = OsRelease("debian", "12")


def pin(
    pkg: str, spec: str, role: str = "app", rel: str = "debian-12", eco: Ecosystem = DEB
) -> Pin:
    return Pin(role, rel, eco, pkg, parse_policy(eco, spec))


LOCK = Lockfile(
    "pins/pinmgr.toml",
    1,
    ("app", "db"),
    (
        pin("nginx", "1.22.1-9"),
        pin("openssl", "3.0.*"),
        pin("libc6", ">=2.36-9, <2.37"),
        pin("curl", "7.88.1-10", role=SHARED_ROLE),
        pin("libssl3:i386", "3.0.11-1~deb12u2"),
        pin("postgresql-15", "15.6-0+deb12u1", role="db"),
        pin("httpd", "2.4.57-5.el9", rel="rocky-9", eco=RPM),
    ),
)


def snap(
    name: str,
    offers: dict[str, tuple[str, ...]],
    *,
    roles: tuple[str, ...] = ("app",),
    os_release: OsRelease | None = DEBIAN,
    eco: Ecosystem = DEB,
    installed: dict[str, str] | None = None,
) -> HostSnapshot:
    return HostSnapshot(
        host=Host(name, "prod", roles),
        os_release=os_release,
        packages=tuple(InstalledPackage(eco, n, v, "amd64") for n, v in (installed or {}).items()),
        available=tuple(AvailableVersions(eco, n, v) for n, v in offers.items()),
    )


def test_exact_pin_not_offered_is_a_finding_with_what_is_offered() -> None:
    s = snap(
        "web1",
        {"nginx": ("1.22.1-9+deb12u1", "1.22.1-9+deb12u2"), "curl": ("7.88.1-10",)},
        installed={"nginx": "1.22.1-9"},
    )
    (finding,) = not_installable(LOCK, [s])
    assert finding.kind is FindingKind.NOT_INSTALLABLE
    assert (finding.host, finding.env, finding.role) == ("web1", "prod", "app")
    assert (finding.package, finding.expected, finding.actual) == ("nginx", "1.22.1-9", "1.22.1-9")
    assert finding.reason == "sources offer 1.22.1-9+deb12u2, 1.22.1-9+deb12u1"  # newest first
    assert finding.os_release == "debian-12"


def test_equal_by_ecosystem_ordering_is_offered() -> None:
    assert not_installable(LOCK, [snap("web1", {"nginx": ("0:1.22.1-9",)})]) == []


def test_glob_and_range_need_one_offered_version_inside() -> None:
    ok = snap("a", {"openssl": ("3.1.0-1", "3.0.11-1"), "libc6": ("2.37-1", "2.36-9+deb12u4")})
    assert not_installable(LOCK, [ok]) == []
    bad = snap("b", {"openssl": ("3.1.0-1",), "libc6": ("2.37-1", "2.35-1")})
    found = {f.package: f.reason for f in not_installable(LOCK, [bad])}
    assert found == {"openssl": "sources offer 3.1.0-1", "libc6": "sources offer 2.37-1, 2.35-1"}


def test_nothing_offered_and_long_lists() -> None:
    none = not_installable(LOCK, [snap("a", {"nginx": ()})])
    assert [f.reason for f in none] == ["no configured source offers it"]
    assert describe_offer(("5", "4", "3", "2", "1")) == "sources offer 5, 4, 3 and 2 older"


def test_unknown_means_no_finding() -> None:
    # No available data at all (not asked, no apt lists): nothing can be said.
    assert not_installable(LOCK, [snap("a", {})]) == []
    # Asked about nginx only: curl is unknown, not uninstallable.
    assert [f.package for f in not_installable(LOCK, [snap("a", {"nginx": ()})])] == ["nginx"]


def test_arch_qualified_pin_uses_the_base_name_and_shared_pins_count() -> None:
    s = snap("a", {"libssl3:i386": ("3.0.15-1~deb12u1",), "curl": ("7.88.1-10+deb12u5",)})
    found = sorted(f.package for f in not_installable(LOCK, [s]))
    assert found == ["curl", "libssl3:i386"]


def test_each_role_and_only_declared_releases() -> None:
    dual = snap("d", {"postgresql-15": (), "nginx": ()}, roles=("app", "db"))
    assert sorted((f.role, f.package) for f in not_installable(LOCK, [dual])) == [
        ("app", "nginx"),
        ("db", "postgresql-15"),
    ]
    ubuntu = snap("u", {"nginx": ()}, os_release=OsRelease("ubuntu", "22.04"))
    assert not_installable(LOCK, [ubuntu]) == []  # unsupported-os: check reports that


def test_rpm_epoch_versions() -> None:
    rocky = OsRelease("rocky", "9.3")
    ok = snap("r", {"httpd": ("0:2.4.57-5.el9", "2.4.57-8.el9")}, os_release=rocky, eco=RPM)
    assert not_installable(LOCK, [ok]) == []
    bad = snap("r", {"httpd": ("2.4.57-8.el9",)}, os_release=rocky, eco=RPM)
    assert [f.package for f in not_installable(LOCK, [bad])] == ["httpd"]


def test_not_installable_fails_under_any_but_not_drift() -> None:
    s = snap("web1", {"nginx": ()}, installed={"nginx": "1.22.1-9"})
    lock = Lockfile("l", 1, ("app",), (pin("nginx", "1.22.1-9"),))
    findings = check(lock, [s]) + not_installable(lock, [s])
    report = build(findings, hosts_total=1, hosts_collected=1)
    assert report.summary.count(FindingKind.OK) == 1
    assert report.summary.count(FindingKind.NOT_INSTALLABLE) == 1
    assert exit_code(report, FailOn.ANY) == 1
    assert exit_code(report, FailOn.DRIFT) == 0


def test_outdated_exact_pins() -> None:
    rows = outdated(
        LOCK,
        [
            snap("web1", {"nginx": ("1.22.1-9+deb12u1", "1.22.1-9"), "curl": ("7.88.1-10",)}),
            snap("web2", {"nginx": ("1.22.1-9+deb12u2",)}),
            snap("web3", {"nginx": ("1.22.1-8",)}),  # older only: not outdated here
        ],
    )
    assert rows == [
        OutdatedRow(
            "app", "debian-12", DEB, "nginx", "1.22.1-9", "1.22.1-9+deb12u2", "1.22.1-9",
            ("web1", "web2"),
        )
    ]  # fmt: skip


def test_outdated_glob_and_range_compare_with_the_highest_allowed_offer() -> None:
    rows = outdated(
        LOCK,
        [
            snap(
                "a",
                {
                    "openssl": ("3.0.11-1", "3.0.13-1"),  # newer but allowed by the glob
                    "libc6": ("2.36-9+deb12u4", "2.37-1"),  # 2.37 is above the range
                },
            ),
        ],
    )
    assert [(r.package, r.pinned, r.newest, r.allowed) for r in rows] == [
        ("libc6", ">=2.36-9, <2.37", "2.37-1", "2.36-9+deb12u4")
    ]
    above = outdated(LOCK, [snap("b", {"openssl": ("3.1.0-1",), "libc6": ("2.35-1",)})])
    assert [(r.package, r.newest, r.allowed) for r in above] == [("openssl", "3.1.0-1", "")]


def test_outdated_ignores_unknown_and_unparseable_versions() -> None:
    assert outdated(LOCK, [snap("a", {}), snap("b", {"nginx": ()})]) == []
    assert outdated(LOCK, [snap("c", {"nginx": ("not a version!",)})]) == []


def test_outdated_reports_render_rows_failures_and_schema() -> None:
    import json

    from pinmgr.model import FailureKind, HostFailure
    from pinmgr.reporters import outdated as reporter

    rows = [
        OutdatedRow("app", "debian-12", DEB, "nginx", "1.22.1-9", "1.22.1-9+deb12u2", "", ("a",)),
        OutdatedRow(
            "app", "debian-12", DEB, "libc6", ">=2.36-9, <2.37", "2.37-1", "2.36-9+deb12u4",
            ("h1", "h2", "h3", "h4"),
        ),
    ]  # fmt: skip
    down = HostFailure(Host("web9", "prod", ("app",)), FailureKind.UNREACHABLE, "no route")
    table = reporter.render_table(rows, [down], hosts_checked=5, width=160)
    header = table.splitlines()[0].split()
    assert header[:4] == ["role", "┃", "release", "┃"]
    assert "newest offered" in table.splitlines()[0]
    assert ">=2.36-9, <2.37 (2.36-9+deb12u4)" in table
    assert "h1, h2, h3 +1" in table
    assert "web9: unreachable: no route" in table
    assert table.rstrip().endswith("2 pins behind what the sources offer (5 hosts asked)")
    assert "no pin is behind" in reporter.render_table([], [])
    doc = json.loads(reporter.render_json(rows, [down]))
    assert doc["schema"] == "pinmgr.outdated/1"
    assert doc["outdated"][0]["newest_offered"] == "1.22.1-9+deb12u2"
    assert doc["outdated"][0]["newest_allowed"] is None
    assert doc["outdated"][1]["hosts"] == ["h1", "h2", "h3", "h4"]
    assert doc["failures"] == [
        {"host": "web9", "env": "prod", "kind": "unreachable", "reason": "no route"}
    ]
