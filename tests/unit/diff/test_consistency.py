"""``inconsistent`` findings: hosts of one role and release that disagree on unpinned packages."""

from __future__ import annotations

from pinmgr.diff.consistency import inconsistencies
from pinmgr.model import Ecosystem, Host, HostSnapshot, InstalledPackage, OsRelease

DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP


def _snap(name: str, *pkgs: InstalledPackage, pip: tuple[str, ...] = ()) -> HostSnapshot:
    return HostSnapshot(Host(name, "prod", ("app",), pip=pip), OsRelease("debian", "12"), pkgs)


def _found(snaps: list[HostSnapshot]) -> list[tuple[str, str, str, str, str]]:
    return [
        (f.host, f.ecosystem.value if f.ecosystem else "", f.package, f.expected, f.actual)
        for f in inconsistencies(snaps)
    ]


def test_the_odd_host_out_is_inconsistent_and_absence_counts() -> None:
    common = InstalledPackage(DEB, "bash", "5.2-1")
    snaps = [
        _snap("a", common, InstalledPackage(DEB, "curl", "8.0-1")),
        _snap("b", common, InstalledPackage(DEB, "curl", "8.0-1")),
        _snap("c", InstalledPackage(DEB, "bash", "5.2-2")),
    ]
    assert _found(snaps) == [
        ("c", "deb", "bash", "5.2-1", "5.2-2"),
        ("c", "deb", "curl", "8.0-1", ""),
    ]


def test_a_name_listed_twice_counts_as_its_lowest_version() -> None:
    # rpm multilib: one name, two architectures; the lower version is the one compared.
    twice = (InstalledPackage(RPM, "glibc", "2.34-9", "x86_64"),
             InstalledPackage(RPM, "glibc", "2.34-8", "i686"))  # fmt: skip
    snaps = [
        _snap("a", *twice),
        _snap("b", InstalledPackage(RPM, "glibc", "2.34-8", "x86_64")),
        _snap("c", InstalledPackage(RPM, "glibc", "2.34-9", "x86_64")),
    ]
    assert _found(snaps) == [("c", "rpm", "glibc", "2.34-8", "2.34-9")]


def test_pip_names_are_compared_in_canonical_form() -> None:
    snaps = [
        _snap("a", InstalledPackage(PIP, "Requests", "2.31.0", origin="/v"), pip=("/v",)),
        _snap("b", InstalledPackage(PIP, "requests", "2.31.0", origin="/v"), pip=("/v",)),
        _snap("c", InstalledPackage(PIP, "requests", "2.0.0", origin="/v"), pip=("/v",)),
    ]
    assert _found(snaps) == [("c", "pip", "requests", "2.31.0", "2.0.0")]
