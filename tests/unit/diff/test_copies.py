"""rpm names installed more than once (kernels, multilib): every copy counts (issue #15)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.diff.check import check
from pinmgr.diff.copies import judge_copies
from pinmgr.model import (
    Direction,
    Ecosystem,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    Pin,
)
from pinmgr.versions.names import split_arch
from pinmgr.versions.policy import parse_policy

RPM = Ecosystem.RPM
ROCKY = OsRelease("rocky", "9.3")
HOST = Host("r1", "prod", ("app",))
OLD_K, NEW_K = "5.14.0-284.11.1.el9_2", "5.14.0-362.8.1.el9_3"


def pin(name: str, spec: str) -> Pin:
    return Pin("app", "rocky-9", RPM, name, parse_policy(RPM, spec))


def rpm(name: str, version: str, arch: str = "x86_64") -> InstalledPackage:
    return InstalledPackage(RPM, name, version, arch)


def run(pins: list[Pin], packages: list[InstalledPackage], **kw: bool) -> list:  # type: ignore[type-arg]
    lock = Lockfile("l", 1, ("app",), tuple(pins))
    return check(lock, [HostSnapshot(HOST, ROCKY, tuple(packages))], **kw)


def test_two_kernels_newer_pinned_is_ok_and_names_the_other() -> None:
    # The text order puts 284 first ("2" < "3"); the old engine judged that copy only.
    (f,) = run([pin("kernel", NEW_K)], [rpm("kernel", OLD_K), rpm("kernel", NEW_K)])
    assert (f.kind, f.package, f.actual) == (FindingKind.OK, "kernel", NEW_K)
    assert f.reason == f"also installed: {OLD_K}"


def test_two_kernels_neither_pinned_reports_the_newest() -> None:
    (f,) = run(
        [pin("kernel", "5.14.0-427.13.1.el9_4")], [rpm("kernel", NEW_K), rpm("kernel", OLD_K)]
    )
    assert (f.kind, f.direction, f.actual) == (FindingKind.DRIFT, Direction.OLDER, NEW_K)
    assert f.reason == f"also installed: {OLD_K}"


def test_text_order_is_not_rpm_order() -> None:
    # "10" < "9" as text; rpmvercmp says 1.10 is the newer one.
    (f,) = run([pin("tool", ">=1.0")], [rpm("tool", "1.10-1"), rpm("tool", "1.9-1")])
    assert f.actual == "1.10-1" and f.reason == "also installed: 1.9-1"


def test_multilib_stale_i686_is_drift_not_hidden_by_x86_64() -> None:
    found = run(
        [pin("glibc", "2.34-100.el9")],
        [rpm("glibc", "2.34-100.el9"), rpm("glibc", "2.34-83.el9", "i686")],
    )
    got = {(f.package, f.kind, f.direction) for f in found}
    assert got == {
        ("glibc.i686", FindingKind.DRIFT, Direction.OLDER),
        ("glibc.x86_64", FindingKind.OK, None),
    }


def test_arch_qualified_pin_judges_that_arch_only() -> None:
    packages = [rpm("glibc", "2.34-100.el9"), rpm("glibc", "2.34-83.el9", "i686")]
    (f,) = run([pin("glibc.x86_64", "2.34-100.el9")], packages)
    assert (f.kind, f.package) == (FindingKind.OK, "glibc.x86_64")
    (g,) = run([pin("glibc.i686", "2.34-100.el9")], packages)
    assert (g.kind, g.package, g.direction) == (FindingKind.DRIFT, "glibc.i686", Direction.OLDER)
    (m,) = run([pin("glibc.aarch64", "2.34-100.el9")], packages)
    assert m.kind is FindingKind.MISSING


def test_unpinned_knows_arch_qualified_pins_cover_the_name() -> None:
    found = run(
        [pin("glibc.x86_64", "2.34-100.el9")],
        [rpm("glibc", "2.34-100.el9"), rpm("zsh", "5.8-9.el9")],
        unpinned=True,
    )
    assert {(f.kind, f.package) for f in found} == {
        (FindingKind.OK, "glibc.x86_64"),
        (FindingKind.UNPINNED, "zsh"),
    }


def test_epoch_and_tilde_order_in_copies() -> None:
    found = run(
        [pin("tool", "1:1.0-1")],
        [rpm("tool", "2.0-1"), rpm("tool", "1:1.0~rc1-1"), rpm("tool", "1:1.0-1")],
    )
    (f,) = found
    assert f.kind is FindingKind.OK
    assert f.reason == "also installed: 2.0-1, 1:1.0~rc1-1"  # oldest first, by rpm's order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("glibc.i686", ("glibc", "i686")),
        ("kernel", ("kernel", None)),
        ("python3.11", ("python3.11", None)),
        (".noarch", (".noarch", None)),
        ("a.b.noarch", ("a.b", "noarch")),
    ],
)
def test_split_arch(text: str, expected: tuple[str, str | None]) -> None:
    assert split_arch(text) == expected


VERSIONS = ["1.0-1", "1:0.9-1", "1.0~rc1-1", "1.0^git1-1", "1.0-1.el9", "1.0.1-1", "1.00-2", "10-1"]


@pytest.mark.skipif(
    shutil.which("rpm") is None, reason="rpm not installed (tests/apt-packages.txt)"
)
def test_copies_are_ordered_as_librpm_orders_them(tmp_path: Path) -> None:
    """The real librpm (``rpm.vercmp`` in rpm's Lua) is the oracle for the chosen copy.
    (HOME and the database path are the test's: Debian's rpm would create ~/.rpmdb.)"""
    pairs = list(itertools.combinations(VERSIONS, 2))
    expr = "".join(f'%{{lua: print(rpm.vercmp("{a}", "{b}"))}}\n' for a, b in pairs)
    out = subprocess.run(
        ["rpm", "--dbpath", str(tmp_path / "db"), "--eval", expr],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    orders = [int(x) for x in out.stdout.split()]
    assert len(orders) == len(pairs)
    for (a, b), order in zip(pairs, orders, strict=True):
        (group,) = judge_copies("t", [rpm("t", a), rpm("t", b)], lambda _p: False)
        newest = a if order > 0 else b
        if order != 0:
            assert group.chosen.version == newest, (a, b, order)


def test_envdiff_compares_deb_and_rpm_hosts_per_family() -> None:
    from pinmgr.diff.envdiff import envdiff, family_notes

    deb_host, rpm_host = Host("d1", "debian", ("app",)), Host("r1", "rhel", ("app",))
    pip = InstalledPackage(Ecosystem.PIP, "requests", "2.31.0", origin="/srv/venv")
    pip_new = InstalledPackage(Ecosystem.PIP, "requests", "2.32.3", origin="/srv/venv")
    left = [
        HostSnapshot(
            deb_host,
            OsRelease("debian", "12"),
            (InstalledPackage(Ecosystem.DEB, "libc6", "2.36-9", "amd64"), pip),
        )
    ]
    right = [HostSnapshot(rpm_host, ROCKY, (rpm("glibc", "2.34-100.el9"), pip_new))]
    rows = envdiff(left, right)
    # Not "libc6 absent on the right, glibc absent on the left": pip is still compared.
    assert [(r.ecosystem, r.package) for r in rows] == [(Ecosystem.PIP, "requests")]
    (note,) = family_notes(left, right, left_name="debian", right_name="rhel")
    assert note.startswith("role app: debian has deb packages, rhel has rpm: ")
    assert family_notes(left, left, left_name="a", right_name="b") == []


def test_diff_reports_show_the_family_note() -> None:
    import json

    from pinmgr.api import DiffResult
    from pinmgr.reporters import envdiff as reporter

    note = "role app: debian has deb packages, rhel has rpm: package names are compared per family"
    result = DiffResult("debian", "rhel", (), (), (note,))
    assert f"note: {note}" in reporter.render_table(result, width=200)
    assert json.loads(reporter.render_json(result))["notes"] == [note]
