"""The reconcile workflow end to end, over a real lab host with its own apt and dpkg.

A writable lab host (overlays over /etc, /usr, /var) gets a local apt repository of tiny real
.debs as its ONLY source and starts drifted: pmtest-alpha too old, pmtest-beta too new,
pmtest-gamma missing. Then, as a user would:

    pinmgr check                              -> drift + missing, exit 1
    pinmgr check --installable                -> not-installable for a pin the repo lacks
    pinmgr outdated                           -> the newer versions the repo offers
    pinmgr emit ansible-playbook --drift-only -> fix.yml
    ansible-playbook --check --diff fix.yml   -> plans changes, changes nothing
    ansible-playbook fix.yml                  -> real apt/dpkg inside the host (become: sudo)
    pinmgr check                              -> clean, exit 0

The machine running the tests is never changed: it has no pmtest package before or after.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional.debrepo import build_repo, tools_missing
from tests.functional.pmtest_host import (
    PINS,
    REPO,
    REPO_IN_HOST,
    host_setup_script,
    machine_has_pmtest,
    pinmgr,
    write_lockfile,
)
from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory, LabHost

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
# A base package the host has, at exactly its version, that the pmtest repo does not carry.
EXTRA = ("bash", BASE_PACKAGES["debian-12"]["bash"])


def _ansible_playbook() -> str | None:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else shutil.which("ansible-playbook")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (lab hosts run in network namespaces)"
    if _ansible_playbook() is None:
        return "ansible-playbook not installed (pip install ansible-core)"
    if shutil.which("sudo") is None:
        return "sudo not installed (tests/apt-packages.txt): Ansible's become needs it"
    return tools_missing()


@dataclass
class World:
    lab: Lab
    host: LabHost
    dir: Path
    lockfile: Path
    inventory: Path

    def check(self, *extra: str, lockfile: Path | None = None) -> tuple[int, dict[str, Any]]:
        done = pinmgr(
            "check",
            "-l",
            str(lockfile or self.lockfile),
            "-i",
            str(self.inventory),
            "--known-hosts",
            str(self.lab.known_hosts),
            "-f",
            "json",
            "-q",
            *extra,
            cwd=self.dir,
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)

    def in_host(self, script: str) -> str:
        done = self.lab.exec(self.host, ["sh", "-c", script])
        assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
        return done.stdout


def by_package(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["package"], f["kind"]): f for f in report["findings"]}


@pytest.fixture(scope="module")
def world(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    assert not machine_has_pmtest(), "the machine itself has pmtest-alpha: refusing to run"
    work = tmp_path_factory.mktemp("reconcile")
    repo = build_repo(work / "repo", REPO)
    lab = hostlab([HostSpec("fix1", role="app", os_release="debian-12", writable=True)])
    host = lab.hosts["fix1"]
    done = lab.exec(host, ["sh", "-c", host_setup_script(repo, host, lab.user)])
    assert done.returncode == 0, done.stdout + done.stderr
    yield World(
        lab=lab,
        host=host,
        dir=work,
        lockfile=write_lockfile(work / "pinmgr.toml"),
        inventory=lab.write_inventory(work / "inventory.toml"),
    )
    assert not machine_has_pmtest(), "a pmtest package leaked onto the machine"


def ansible_inventory(world: World) -> Path:
    lab, host = world.lab, world.host
    ssh_args = (
        f"-o UserKnownHostsFile={lab.known_hosts} -o GlobalKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    )
    line = " ".join(
        [
            host.name,
            f"ansible_host={host.address}",
            f"ansible_user={lab.user}",
            f"ansible_ssh_private_key_file={lab.client_key}",
            f"ansible_ssh_common_args={shlex.quote(ssh_args)}",
            "ansible_python_interpreter=/usr/bin/python3",
        ]
    )
    path = world.dir / "hosts.ini"
    path.write_text(f"[app]\n{line}\n")
    return path


def run_playbook(world: World, *extra: str) -> tuple[str, int]:
    """Run the real ansible-playbook; returns its output and the host's ``changed`` count."""
    playbook = _ansible_playbook()
    assert playbook is not None
    control = tempfile.mkdtemp(prefix="pmcp")  # short: ssh control sockets have a length cap
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(world.dir / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(world.dir / ".ansible-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        done = subprocess.run(
            [playbook, "-i", str(ansible_inventory(world)), *extra, "fix.yml"],
            cwd=world.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    line = re.search(rf"^{re.escape(world.host.name)}\s*:(.*)$", out.split("PLAY RECAP")[-1], re.M)
    assert line is not None, out
    recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}
    assert recap["failed"] == 0 and recap["unreachable"] == 0, out
    return out, recap["changed"]


def test_reconcile_end_to_end(world: World) -> None:
    # 1. The drifted start, as pinmgr sees it over SSH.
    rc, report = world.check()
    assert rc == 1
    found = by_package(report)
    alpha = found[("pmtest-alpha", "drift")]
    assert (alpha["actual"], alpha["direction"]) == ("1.0-1", "older")
    beta = found[("pmtest-beta", "drift")]
    assert (beta["actual"], beta["direction"]) == ("2.2-1", "newer")
    assert ("pmtest-gamma", "missing") in found
    before = sorted((f["package"], f["kind"]) for f in report["findings"])

    # 2. --installable: the pmtest pins are offered; the extra pin is not (and says so).
    extra_lock = write_lockfile(world.dir / "extra.toml", dict([EXTRA]))
    rc, report = world.check("--installable", lockfile=extra_lock)
    assert rc == 1
    stuck = [f for f in report["findings"] if f["kind"] == "not-installable"]
    assert [(f["package"], f["expected"], f["actual"]) for f in stuck] == [
        (EXTRA[0], EXTRA[1], EXTRA[1])  # installed and ok today, yet not reinstallable
    ]
    assert stuck[0]["reason"] == "no configured source offers it"
    assert (EXTRA[0], "ok") in by_package(report)
    # Without the flag nothing asks the sources: no such finding.
    rc, plain = world.check(lockfile=extra_lock)
    assert all(f["kind"] != "not-installable" for f in plain["findings"])

    # 3. outdated: what the repo offers beyond the pins (informational, exit 0).
    done = pinmgr(
        "outdated",
        "-l",
        str(world.lockfile),
        "-i",
        str(world.inventory),
        "--known-hosts",
        str(world.lab.known_hosts),
        "-f",
        "json",
        "-q",
        cwd=world.dir,
    )
    assert done.returncode == 0, done.stderr
    rows = {r["package"]: r for r in json.loads(done.stdout)["outdated"]}
    assert {p: (r["pinned"], r["newest_offered"], r["hosts"]) for p, r in rows.items()} == {
        "pmtest-alpha": ("1.1-1", "1.2-1", ["fix1"]),
        "pmtest-beta": ("2.1-1", "2.2-1", ["fix1"]),
        "pmtest-gamma": ("3.1-1", "3.2-1", ["fix1"]),
    }
    table = pinmgr(
        "outdated",
        "-l",
        str(world.lockfile),
        "-i",
        str(world.inventory),
        "--known-hosts",
        str(world.lab.known_hosts),
        "-q",
        cwd=world.dir,
    )
    assert table.returncode == 0
    assert "3 pins behind what the sources offer" in table.stdout

    # 4. The drift-only playbook: drifted AND missing packages, exact pinned versions.
    done = pinmgr(
        "emit",
        "ansible-playbook",
        "--drift-only",
        "--out",
        "fix.yml",
        "-l",
        str(world.lockfile),
        "-i",
        str(world.inventory),
        "--known-hosts",
        str(world.lab.known_hosts),
        "-q",
        cwd=world.dir,
    )
    assert done.returncode == 0, done.stderr
    playbook = (world.dir / "fix.yml").read_text()
    for name, version in PINS.items():
        assert f'"{name}={version}"' in playbook, playbook

    # 5. --check --diff plans the changes and changes nothing.
    out, changed = run_playbook(world, "--check", "--diff")
    assert changed > 0, out
    rc, report = world.check()
    assert rc == 1
    assert sorted((f["package"], f["kind"]) for f in report["findings"]) == before

    # 6. The real run: apt and dpkg inside the host, through sudo.
    out, changed = run_playbook(world)
    assert changed > 0, out
    for name, version in PINS.items():
        assert world.in_host(f"cat /usr/share/pmtest/{name}") == f"{name} {version}\n"

    # Converged: running it again changes nothing.
    out, changed = run_playbook(world)
    assert changed == 0, out

    # 7. Clean.
    rc, report = world.check()
    assert rc == 0, report
    assert {(f["package"], f["kind"]) for f in report["findings"]} == {
        (name, "ok") for name in PINS
    }
    assert report["summary"]["hosts_collected"] == 1

    # 8. The machine never saw any of it.
    assert not machine_has_pmtest()
    assert not Path("/usr/share/pmtest").exists()
    assert not Path(REPO_IN_HOST).exists()
