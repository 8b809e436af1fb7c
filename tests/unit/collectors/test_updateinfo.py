"""dnf security advisories: the real probe against the real dnf, on a repository with updateinfo.

No rpm lab host on this branch yet, so the rpm side runs here: a repository built by
``rpmbuild`` + ``createrepo_c`` + ``modifyrepo_c`` (``tests/functional/rpmadvisories.py``), a
private dnf ``--installroot`` with some of its packages installed, and the probe script run in a
private mount namespace where ``/usr/bin/dnf`` is the real dnf pointed at that root. dnf is the
oracle: exactly the planted *security* advisories (id, severity, CVE ids) must come out;
bugfix and enhancement advisories and plain newer versions never.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.collectors import updateinfo
from pinmgr.collectors.available import merge_security
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.diff.security import security_updates
from pinmgr.model import (
    AvailableVersions,
    Ecosystem,
    Host,
    HostSnapshot,
    Lockfile,
    Pin,
    SecurityFix,
)
from pinmgr.versions.policy import parse_policy
from tests.functional.rpmadvisories import Advisory, DnfRoot, build_repo, tools_missing

RPM = Ecosystem.RPM
HOST = Host("rocky1", "prod", ("app",))
PACKAGES = {
    "pmsec-alpha": ["1.0-1", "1.0-2", "1.1-1"],
    "pmsec-beta": ["2.0-1", "3.0-1"],
    "pmsec-gamma": ["5.0-1", "5.0-2", "5.0-3"],
}
ADVISORIES = [
    Advisory(
        "RHSA-2026:0001",
        "security",
        [("pmsec-alpha", "1.0", "2")],
        "Important",
        ("CVE-2026-1111", "CVE-2026-2222"),
    ),
    Advisory("RHEA-2026:0002", "enhancement", [("pmsec-beta", "3.0", "1")]),
    Advisory("RHBA-2026:0003", "bugfix", [("pmsec-gamma", "5.0", "3")], "Low"),
    Advisory("FEDORA-2026-0a1b2c", "security", [("pmsec-gamma", "5.0", "2")]),
]
INSTALLED = ("pmsec-alpha-1.0-1", "pmsec-beta-2.0-1", "pmsec-gamma-5.0-1")
NAMES = ("pmsec-alpha", "pmsec-beta", "pmsec-gamma", "pmsec-none")
EXPECTED = {
    "pmsec-alpha": (
        SecurityFix(
            "1.0-2",
            updateinfo.SOURCE,
            "RHSA-2026:0001",
            "Important",
            ("CVE-2026-1111", "CVE-2026-2222"),
        ),
    ),
    "pmsec-gamma": (SecurityFix("5.0-2", updateinfo.SOURCE, "FEDORA-2026-0a1b2c"),),
}


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> HostSnapshot:
    """The probe's snapshot of the dnf root (rpm-available + rpm-security sections)."""
    reason = tools_missing()
    if reason is None and (os.geteuid() != 0 or shutil.which("unshare") is None):
        reason = "needs root and unshare (a private mount namespace for the dnf wrapper)"
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("dnfsec")
    repo = build_repo(work / "repo", PACKAGES, ADVISORIES)
    root = DnfRoot(work / "root", repo).create()
    root.dnf("install", *INSTALLED)
    wrapper = root.wrapper(work / "dnf")
    query = {RPM: NAMES}
    nonce = new_nonce()
    script = build_probe(HOST, nonce, query)
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount --bind "$1" /usr/bin/dnf && exec sh -c "$2"',
            "sh",
            str(wrapper),
            script,
        ],
        capture_output=True,
        timeout=300,
    )
    return parse_probe(
        HOST, done.stdout, nonce, stderr=done.stderr, rc=done.returncode, available=query
    )


def test_real_dnf_gives_exactly_the_security_advisories(probed: HostSnapshot) -> None:
    found = {a.name: a for a in probed.available}
    assert {n: a.security for n, a in found.items() if a.security} == EXPECTED
    assert set(found["pmsec-alpha"].versions) >= {"1.0-2", "1.1-1"}
    assert "3.0-1" in found["pmsec-beta"].versions  # newer, but an enhancement: no fix
    assert probed.warnings == ()


def test_findings_for_rpm_pins_behind_an_advisory(probed: HostSnapshot) -> None:
    release = str(probed.os_release)  # the machine's own os-release: the probe read it
    pins = tuple(
        Pin("app", release, RPM, name, parse_policy(RPM, spec))
        for name, spec in (
            ("pmsec-alpha", "1.0-1"),
            ("pmsec-beta", "2.0-1"),
            ("pmsec-gamma", "5.0-1"),
        )
    )
    lock = Lockfile("pins/pinmgr.toml", 1, ("app",), pins)
    found = {f.package: f for f in security_updates(lock, [probed])}
    assert set(found) == {"pmsec-alpha", "pmsec-gamma"}
    assert found["pmsec-alpha"].reason == (
        "security fix 1.0-2 from dnf updateinfo "
        "(RHSA-2026:0001; Important; CVE-2026-1111, CVE-2026-2222)"
    )
    # (installed is read from the machine's rpm database, not the dnf root: not asserted)


def test_fixes_without_offers_are_dropped() -> None:
    fix = SecurityFix("1.0-2", updateinfo.SOURCE, "RHSA-1")
    merged = merge_security(
        [AvailableVersions(RPM, "a", ("1.0-2",)), AvailableVersions(RPM, "a", (), (fix,)),
         AvailableVersions(RPM, "b", (), (fix,))]
    )  # fmt: skip
    assert merged == [AvailableVersions(RPM, "a", ("1.0-2",), (fix,))]


def test_split_nevra() -> None:
    assert updateinfo.split_nevra("openssh-8.7p1-38.el9.x86_64") == ("openssh", "8.7p1-38.el9")
    assert updateinfo.split_nevra("kernel-rt-1:5.14.0-1.el9.noarch") == (
        "kernel-rt",
        "1:5.14.0-1.el9",
    )
    assert updateinfo.split_nevra("noarch") is None
    assert updateinfo.split_nevra("a-b.x86_64") is None


dnf_like = st.lists(
    st.one_of(
        st.binary(max_size=120).map(lambda b: b.decode("utf-8", "backslashreplace")),
        st.builds(
            lambda a, s, n: f"{a} {s}/Sec. {n}",
            st.text(
                alphabet=st.characters(blacklist_categories=("Zs", "Cc")), min_size=1, max_size=30
            ),
            st.sampled_from(["Important", "None", "x\u202e", ""]),
            st.text(max_size=40),
        ),
        st.just(updateinfo.CVE_MARK),
    ),
    max_size=10,
)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(lines=dnf_like)
def test_parse_on_arbitrary_host_text(lines: list[str]) -> None:
    fixes, bad = updateinfo.parse(lines)
    for name, found in fixes.items():
        assert name and found
        for fix in found:
            assert fix.advisory.isprintable() and fix.severity.isprintable()
            assert all(c.isprintable() for c in fix.cves)
            assert len(fix.cves) <= updateinfo.MAX_CVES
    assert all(isinstance(line, str) for line in bad)
