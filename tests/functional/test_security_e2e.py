"""Pins behind a security fix, end to end over real lab hosts with their own apt lists.

Two writable lab hosts each get a local archive shaped like the real ones (Release files by
``apt-ftparchive`` with the real Origin/Label/Suite/Codename fields, see ``aptsuites.py``) as
their only sources, and run the real ``apt-get update`` once (setup; pinmgr itself never does):

    deb1 (debian-12):   bookworm, bookworm-security (Label Debian-Security), bookworm-updates
    ubu1 (ubuntu-22.04): jammy, jammy-security, jammy-updates (all Origin/Label Ubuntu)

Planted: one security upload per host (pmsec-alpha), a security upload the pin already has
(pmsec-gamma), newer feature releases in the main suite and in -updates (pmsec-beta,
pmsec-alpha 1.1-1, an Ubuntu SRU above the security upload). The findings must name exactly
the two planted fixes. Then ``accept --security-fixes`` moves exactly those pins and the
emitted playbook installs them.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional.aptsuites import (
    Suite,
    build_archive,
    debian_suites,
    sources_lines,
    tools_missing,
    ubuntu_suites,
)
from tests.functional.cli import run_pinmgr
from tests.hostlab import HostSpec, Lab, LabFactory

pytestmark = pytest.mark.hosts

ARCHIVE_IN_HOST = "/srv/pmarchive"
DEBIAN = debian_suites(
    main={"pmsec-alpha": ["1.0-1", "1.1-1"], "pmsec-beta": ["2.0-1", "3.0-1"],
          "pmsec-gamma": ["5.0-1"]},
    security={"pmsec-alpha": ["1.0-1+deb12u1"], "pmsec-gamma": ["5.0-1+deb12u1"]},
    updates={"pmsec-beta": ["2.0-1+deb12u1"]},
)  # fmt: skip
UBUNTU = ubuntu_suites(
    main={"pmsec-alpha": ["1.0-1"], "pmsec-beta": ["2.0-1"]},
    security={"pmsec-alpha": ["1.0-1ubuntu0.1"]},
    updates={"pmsec-alpha": ["1.0-1ubuntu0.2"], "pmsec-beta": ["2.0-1ubuntu0.1"]},
)
LOCKFILE = """\
schema = 1

[roles.app."debian-12".deb]
pmsec-alpha = "1.0-1"  # behind bookworm-security
pmsec-beta = "2.0-1"   # only feature / -updates releases above it
pmsec-gamma = "5.0-1+deb12u1"  # already on the security upload

[roles.app."ubuntu-22.04".deb]
pmsec-alpha = "1.0-1"  # behind jammy-security (an SRU above it is no fix)
pmsec-beta = "2.0-1"
"""
FIXES = {
    ("deb1", "pmsec-alpha"): ("1.0-1+deb12u1", "Debian-Security bookworm-security"),
    ("ubu1", "pmsec-alpha"): ("1.0-1ubuntu0.1", "Ubuntu jammy-security"),
}


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=200)


@dataclass
class World:
    lab: Lab
    dir: Path
    lockfile: Path
    inventory: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        common = ["-l", str(self.lockfile), "-i", str(self.inventory)]
        common += ["--known-hosts", str(self.lab.known_hosts), "-q"]
        return pinmgr(*args, *common, cwd=self.dir)


def host_setup(archive: Path, suites: list[Suite], install: str | None) -> str:
    """Root, inside the host: the archive as its only apt source, lists fetched once."""
    q = shlex.quote
    lines = [
        "set -eu",
        "export DEBIAN_FRONTEND=noninteractive",
        f"mkdir -p {ARCHIVE_IN_HOST}",
        f"cp -a {q(str(archive))}/. {ARCHIVE_IN_HOST}/",
        f"chmod -R a+rX {ARCHIVE_IN_HOST}",
        "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d /var/lib/apt/lists",
        "mkdir -p /etc/apt/sources.list.d /var/lib/apt/lists/partial",
        f"printf '%s' {q(sources_lines(ARCHIVE_IN_HOST, suites))} > /etc/apt/sources.list",
        "apt-get update -q",
    ]
    if install:
        lines.append(f"apt-get install -y -q --no-install-recommends {q(install)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def world(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if os.geteuid() != 0:
        pytest.skip("needs root (lab hosts run in network namespaces)")
    reason = tools_missing()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("security")
    debian = build_archive(work / "debian", DEBIAN)
    ubuntu = build_archive(work / "ubuntu", UBUNTU)
    lab = hostlab(
        [
            HostSpec("deb1", role="app", os_release="debian-12", writable=True),
            HostSpec("ubu1", env="prod", role="app", os_release="ubuntu-22.04", writable=True),
        ]
    )
    for name, archive, suites, install in (
        ("deb1", debian, DEBIAN, "pmsec-alpha=1.0-1"),
        ("ubu1", ubuntu, UBUNTU, None),
    ):
        done = lab.exec(lab.hosts[name], ["sh", "-c", host_setup(archive, suites, install)])
        assert done.returncode == 0, done.stdout + done.stderr
    lockfile = work / "pinmgr.toml"
    lockfile.write_text(LOCKFILE)
    yield World(lab, work, lockfile, lab.write_inventory(work / "inventory.toml"))


def security_findings(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (f["host"], f["package"]): (f["fix"]["version"], f["fix"]["source"])
        for f in report["findings"]
        if f["kind"] == "security-update"
    }


def test_outdated_tells_security_fixes_from_feature_releases(world: World) -> None:
    done = world.run("outdated", "-f", "json")
    assert done.returncode == 0, done.stderr
    rows = {(r["os_release"], r["package"]): r for r in json.loads(done.stdout)["outdated"]}
    assert {k: r["newest_offered"] for k, r in rows.items()} == {
        ("debian-12", "pmsec-alpha"): "1.1-1",
        ("debian-12", "pmsec-beta"): "3.0-1",
        ("ubuntu-22.04", "pmsec-alpha"): "1.0-1ubuntu0.2",
        ("ubuntu-22.04", "pmsec-beta"): "2.0-1ubuntu0.1",
    }
    fixes = {k: r["security_fix"]["version"] for k, r in rows.items() if r["security_fix"]}
    assert fixes == {
        ("debian-12", "pmsec-alpha"): "1.0-1+deb12u1",
        ("ubuntu-22.04", "pmsec-alpha"): "1.0-1ubuntu0.1",
    }
    only = world.run("outdated", "--security")
    assert only.returncode == 0, only.stderr
    assert "security fix" in only.stdout and "pmsec-beta" not in only.stdout
    assert "1.0-1+deb12u1 (Debian-Security bookworm-security)" in only.stdout


def test_check_security_in_every_format(world: World) -> None:
    outputs = [f"{fmt}={world.dir / ('out.' + fmt)}" for fmt in ("sarif", "junit", "github")]
    done = world.run("check", "--security", "-f", "json", *(a for o in outputs for a in ("-o", o)))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert security_findings(report) == FIXES
    by_host = {f["host"]: f for f in report["findings"] if f["kind"] == "security-update"}
    assert (by_host["deb1"]["expected"], by_host["deb1"]["actual"]) == ("1.0-1", "1.0-1")

    sarif = json.loads((world.dir / "out.sarif").read_text())
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "security-update"]
    assert sorted(r["properties"]["fixedVersion"] for r in results) == [
        "1.0-1+deb12u1",
        "1.0-1ubuntu0.1",
    ]
    junit = (world.dir / "out.junit").read_text()
    assert junit.count('type="security-update"') == 2
    github = (world.dir / "out.github").read_text()
    assert github.count("title=security-update ") == 2

    # Without --security nothing asks; --fail-on security fails on these alone.
    plain = world.run("check", "-f", "json")
    assert security_findings(json.loads(plain.stdout)) == {}
    assert world.run("check", "--security", "--fail-on", "security").returncode == 1
    assert world.run("check", "--security", "--fail-on", "drift").returncode == 0


def test_accept_security_fixes_moves_exactly_those_pins(world: World) -> None:
    before = world.lockfile.read_text()
    done = world.run("accept", "--security-fixes", "--yes")
    assert done.returncode == 0, done.stderr
    after = world.lockfile.read_text()
    assert after == before.replace(
        'pmsec-alpha = "1.0-1"  # behind bookworm',
        'pmsec-alpha = "1.0-1+deb12u1"  # behind bookworm',
    ).replace(
        'pmsec-alpha = "1.0-1"  # behind jammy', 'pmsec-alpha = "1.0-1ubuntu0.1"  # behind jammy'
    )
    rc = world.run("check", "--security", "-f", "json")
    assert security_findings(json.loads(rc.stdout)) == {}
    # The playbook follows the lockfile: the fix is what it installs on deb1.
    emitted = world.run("emit", "ansible-playbook", "--drift-only", "--out", "fix.yml")
    assert emitted.returncode == 0, emitted.stderr
    assert '"pmsec-alpha=1.0-1+deb12u1"' in (world.dir / "fix.yml").read_text()
