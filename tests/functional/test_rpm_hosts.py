"""RHEL-family hosts for real (issue #15): librpm databases, dnf sources, the dnf reconcile loop.

One lab: three rpm releases (rocky-9, alma-8, fedora-40; each host's rpm database written by
the real librpm from packages built with rpmbuild, its only source a createrepo_c repository
read by the real dnf) beside a debian-12 host, all in one inventory. Planted on them: older,
newer, missing, extra, an epoch-only and a release-only change, two kernels (the pinned one
beside an older one; a pin neither kernel meets) and a stale i686 copy of glibc.

The oracle is never pinmgr: what a host has is what its own rpm prints (and what the built
packages say), versions are ordered by librpm (``rpm.vercmp``), what a source offers is what
``rpm -qp`` says of the repository's files.
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.functional.cli import run_pinmgr
from tests.functional.rpmrepo import build_repo, tools_missing
from tests.hostlab import BASE_PACKAGES, Drift, HostSpec, Lab, LabFactory, LabHost, older
from tests.hostlab.packages import packages_for
from tests.hostlab.rpmhost import (
    RELEASE_KEYS,
    LibrpmOrder,
    RpmEntry,
    installed_oracle,
    query_packages,
    rpms_for,
)

pytestmark = pytest.mark.hosts

ENV_RPM, ENV_DEB = "rhel", "debian"

# Planted drift, per rpm host (base versions: tests/hostlab/rpmhost.py).
R9_DRIFT = Drift(
    versions={
        "bash": "5.1.8-6.el9",  # older
        "openssl": "1:3.0.7-28.el9",  # newer
        "vim-minimal": "1:8.2.2637-20.el9_1",  # epoch-only change (older)
        "curl": "7.76.1-26.el9_3",  # release-only change (older)
    },
    missing=("chrony",),
    extra={"htop": "3.3.0-1.el9"},
    foreign={"glibc": "2.34-83.el9"},  # the i686 copy is stale, the x86_64 one at the pin
)
A8_DRIFT = Drift(versions={"openssl": "1:1.1.1k-9.el8_7"})
F40_DRIFT = Drift(foreign={"glibc": "2.39-4.fc40"})

# Pins that differ from "every base package at its base version".
PIN_OVERRIDES: dict[str, dict[str, str]] = {
    "rocky-9": {"kernel": "5.14.0-362.8.1.el9_3"},  # the newer of two: ok, the other listed
    "alma-8": {"kernel": "4.18.0-513.5.1.el8_9"},  # the older of two: ok too
    "fedora-40": {
        "kernel": "6.8.10-300.fc40",  # neither kernel: drift older, the newest reported
        "glibc.i686": "2.39-8.fc40",  # arch-qualified pin
        "glibc.x86_64": "2.39-8.fc40",
    },
}
PIN_DROPS = {"fedora-40": ("glibc",)}

# Each release's repository: the base versions (so the playbook can fix anything), one version
# newer than some pins (outdated), and one pin not offered at all (not-installable).
REPO_EXTRA = {
    "rocky-9": [RpmEntry("bash", "5.1.8-10.el9"), RpmEntry("glibc", "2.34-100.el9", "i686")],
    "alma-8": [RpmEntry("kernel", "4.18.0-513.11.1.el8_9")],
    "fedora-40": [RpmEntry("openssl", "1:3.2.2-1.fc40")],
}
REPO_WITHOUT = {"rocky-9": "python3", "alma-8": "python3-libs", "fedora-40": "python3"}

SPECS = [
    HostSpec("r9", env=ENV_RPM, role="app", os_release="rocky-9", drift=R9_DRIFT),
    HostSpec("a8", env=ENV_RPM, role="app", os_release="alma-8", drift=A8_DRIFT),
    HostSpec("f40", env=ENV_RPM, role="db", os_release="fedora-40", drift=F40_DRIFT),
    HostSpec(
        "d12",
        env=ENV_DEB,
        role="app",
        os_release="debian-12",
        drift=Drift(versions={"nginx": older(BASE_PACKAGES["debian-12"]["nginx"])}),
    ),
]


def rpm_pins(release: str, role: str) -> dict[str, str]:
    pins = {e.name: e.version for e in rpms_for(release, role) if e.arch != "i686"}
    for name in PIN_DROPS.get(release, ()):
        del pins[name]
    return {**pins, **PIN_OVERRIDES.get(release, {})}


def _toml(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def write_lockfile(path: Path) -> Path:
    lines = ["schema = 1", ""]
    for spec in SPECS:
        if spec.os_release == "debian-12":
            key, eco = "debian-12", "deb"
            pins = packages_for("debian-12", spec.role)
        else:
            key, eco = RELEASE_KEYS[spec.os_release], "rpm"
            pins = rpm_pins(spec.os_release, spec.role)
        lines.append(f'[roles.{spec.role}."{key}".{eco}]')
        lines += [f"{_toml(n)} = {json.dumps(v)}" for n, v in sorted(pins.items())]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=200, timeout=240)


@dataclass
class World:
    lab: Lab
    dir: Path
    lockfile: Path
    inventory: Path
    repos: dict[str, Path]

    def run(self, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
        return pinmgr(
            *args,
            "-l",
            str(self.lockfile),
            "-i",
            str(inventory or self.inventory),
            "--known-hosts",
            str(self.lab.known_hosts),
            "-q",
            cwd=self.dir,
        )

    def check(self, *extra: str, inventory: Path | None = None) -> tuple[int, dict[str, Any]]:
        done = self.run("check", "-f", "json", *extra, inventory=inventory)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)

    def in_host(self, host: str, script: str) -> str:
        done = self.lab.exec(host, ["sh", "-c", script])
        assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
        return done.stdout


def machine_databases() -> tuple[str, str]:
    """The machine's own dpkg status and rpm database listing, to compare before/after."""
    status = Path("/var/lib/dpkg/status").read_bytes()
    rpmdb = sorted(
        f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for d in (Path("/var/lib/rpm"), Path("/usr/lib/sysimage/rpm"))
        if d.is_dir()
        for p in d.iterdir()
    )
    return str(hash(status)), "\n".join(rpmdb)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (lab hosts run in network namespaces)"
    return tools_missing()


@pytest.fixture(scope="module")
def world(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    before = machine_databases()
    work = tmp_path_factory.mktemp("rpmhosts")
    work.chmod(0o755)  # the hosts' dnf reads the repositories as the lab user
    for parent in work.parents:
        if parent == Path(tempfile.gettempdir()):
            break
        parent.chmod(parent.stat().st_mode | 0o055)
    repos = {}
    specs = []
    for spec in SPECS:
        if spec.os_release == "debian-12":
            specs.append(spec)
            continue
        base = list(rpms_for(spec.os_release, spec.role))
        content = [e for e in base if e.name != REPO_WITHOUT[spec.os_release]]
        content += REPO_EXTRA[spec.os_release]
        content += [RpmEntry(n, v) for n, v in spec.drift.extra.items()]
        repo = build_repo(work / f"repo-{spec.os_release}", sorted(set(content)))
        repos[spec.name] = repo
        specs.append(replace(spec, dnf_repo=str(repo)))
    lab = hostlab(specs)
    for name in repos:  # become: sudo, as on a real host
        user = shlex.quote(lab.user)
        lab.exec(
            name,
            [
                "sh",
                "-c",
                f"printf '%s ALL=(ALL) NOPASSWD: ALL\\n' {user} > /etc/sudoers.d/pinmgr-lab"
                f" && chmod 0440 /etc/sudoers.d/pinmgr-lab && printf '127.0.1.1 {name}\\n'"
                " >> /etc/hosts",
            ],
        )
    yield World(
        lab=lab,
        dir=work,
        lockfile=write_lockfile(work / "pinmgr.toml"),
        inventory=lab.write_inventory(work / "inventory.toml"),
        repos=repos,
    )
    assert machine_databases() == before, "the machine's own dpkg/rpm database changed"


# --- the oracle --------------------------------------------------------------------------------


def host_rpms(world: World, host: LabHost) -> list[RpmEntry]:
    """``rpm -qa`` run by the host's own rpm, as root inside it (gpg-pubkey kept out)."""
    fmt = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"
    out = world.in_host(host.name, f"rpm -qa --qf '{fmt}'")
    entries = []
    for line in out.splitlines():
        name, evr, arch = line.split("\t")
        if name == "gpg-pubkey":
            continue
        epoch, _, vr = evr.partition(":")
        entries.append(RpmEntry(name, vr if epoch == "0" else f"{epoch}:{vr}", arch))
    return sorted(entries)


def expected_rpm_findings(
    host: str, pins: Mapping[str, str], installed: Sequence[RpmEntry]
) -> set[tuple[str, str, str, str | None, str]]:
    """(host, package, kind, direction, actual) by issue #15's rules, librpm ordering."""
    order = LibrpmOrder([*pins.values(), *(e.version for e in installed)])
    out = set()
    for pin, version in pins.items():
        name, arch = split(pin)
        copies = [e for e in installed if e.name == name and (not arch or e.arch == arch)]
        if not copies:
            out.add((host, pin, "missing", None, ""))
            continue
        groups: dict[str, list[RpmEntry]] = {}
        for c in copies:
            groups.setdefault(c.arch, []).append(c)
        for group_arch, group in groups.items():
            label = f"{name}.{group_arch}" if arch or len(groups) > 1 else name
            met = [c for c in group if order.cmp(c.version, version) == 0]
            if met:
                out.add((host, label, "ok", None, met[0].version))
                continue
            newest = order.newest(c.version for c in group)
            direction = "older" if order.cmp(newest, version) < 0 else "newer"
            out.add((host, label, "drift", direction, newest))
    return out


def split(pin: str) -> tuple[str, str]:
    """``glibc.i686`` -> (glibc, i686): the test's own reading of dnf's name.arch."""
    name, dot, arch = pin.rpartition(".")
    return (name, arch) if dot and arch in ("x86_64", "i686", "noarch") else (pin, "")


def got(report: dict[str, Any], host: str) -> set[tuple[str, str, str, str | None, str]]:
    return {
        (f["host"], f["package"], f["kind"], f.get("direction"), f.get("actual") or "")
        for f in report["findings"]
        if f["host"] == host and f["kind"] in ("ok", "drift", "missing")
    }


def test_collection_and_check_agree_with_librpm(world: World, checked: Any) -> None:
    rc, report = world.check("--unpinned")
    assert rc == 1
    assert report["summary"]["hosts_collected"] == 4  # one report: deb and rpm hosts together
    compared = 0
    for spec in SPECS[:3]:
        host = world.lab.hosts[spec.name]
        installed = host_rpms(world, host)
        # The host's database is what librpm reads from the built packages.
        assert installed == installed_oracle(host.rpms)
        expected = expected_rpm_findings(host.name, rpm_pins(spec.os_release, spec.role), installed)
        assert got(report, host.name) == expected, spec.name
        compared += len(expected)
    checked(f"checked {compared} rpm findings on 3 rpm releases against librpm")
    found = {(f["host"], f["package"], f["kind"]): f for f in report["findings"]}
    # The planted drift, spelled out (the oracle above already holds them).
    r9 = {k[1:]: f for k, f in found.items() if k[0] == "r9"}
    assert r9[("bash", "drift")]["direction"] == "older"
    assert r9[("openssl", "drift")]["direction"] == "newer"
    assert r9[("vim-minimal", "drift")]["actual"] == "1:8.2.2637-20.el9_1"
    assert r9[("curl", "drift")]["actual"] == "7.76.1-26.el9_3"
    assert ("chrony", "missing") in r9
    assert r9[("glibc.i686", "drift")]["actual"] == "2.34-83.el9"
    assert ("glibc.x86_64", "ok") in r9
    assert r9[("kernel", "ok")]["reason"] == "also installed: 5.14.0-284.11.1.el9_2"
    assert ("htop", "unpinned") in r9
    assert not [k for k in found if k[1] == "gpg-pubkey"]
    assert found[("a8", "kernel", "ok")]["actual"] == "4.18.0-513.5.1.el8_9"
    f40_kernel = found[("f40", "kernel", "drift")]
    assert (f40_kernel["actual"], f40_kernel["direction"]) == ("6.8.9-300.fc40", "older")
    assert f40_kernel["reason"] == "also installed: 6.8.5-301.fc40"
    assert found[("f40", "glibc.i686", "drift")]["actual"] == "2.39-4.fc40"
    # The deb host, in the same report.
    assert found[("d12", "nginx", "drift")]["direction"] == "older"
    unpinned = {k[:2] for k, f in found.items() if k[2] == "unpinned" and f["ecosystem"] != "pip"}
    assert unpinned == {("r9", "htop")}


def repo_offers(world: World, host: str) -> list[RpmEntry]:
    return query_packages(sorted(world.repos[host].rglob("*.rpm")))


def test_installable_and_outdated_agree_with_the_repositories(world: World) -> None:
    rpm_only = world.lab.write_inventory(
        world.dir / "rpm-hosts.toml", [world.lab.hosts[s.name] for s in SPECS[:3]]
    )
    rc, report = world.check("--installable", inventory=rpm_only)
    assert rc == 1
    rpm_hosts = {s.name for s in SPECS[:3]}
    stuck = {
        (f["host"], f["package"])
        for f in report["findings"]
        if f["kind"] == "not-installable" and f["host"] in rpm_hosts
    }
    expected_stuck = set()
    expected_outdated = {}
    for spec in SPECS[:3]:
        offers = repo_offers(world, spec.name)
        pins = rpm_pins(spec.os_release, spec.role)
        order = LibrpmOrder([*pins.values(), *(e.version for e in offers)])
        for pin, version in pins.items():
            name, arch = split(pin)
            versions = [
                e.version for e in offers if e.name == name and (not arch or e.arch == arch)
            ]
            if not any(order.cmp(v, version) == 0 for v in versions):
                expected_stuck.add((spec.name, pin))
            newer = [v for v in versions if order.cmp(v, version) > 0]
            if newer:
                key = (pin, RELEASE_KEYS[spec.os_release])
                expected_outdated[key] = (version, order.newest(newer))
    assert stuck == expected_stuck
    assert ("r9", "python3") in stuck  # the one pin the rocky repository does not carry

    done = world.run("outdated", "-f", "json", inventory=rpm_only)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["outdated"]
    rpm_rows = {
        (r["package"], r["os_release"]): (r["pinned"], r["newest_offered"])
        for r in rows
        if r["ecosystem"] == "rpm"
    }
    assert rpm_rows == expected_outdated
    assert rpm_rows[("bash", "rocky-9")] == ("5.1.8-9.el9", "5.1.8-10.el9")


# --- reconcile ----------------------------------------------------------------------------------


def _ansible_tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def has_community_general() -> bool:
    """Whether Ansible here resolves community.general (not part of ansible-core: see
    docs/ansible.md); without it the loop runs the playbook emitted without --hold."""
    doc = _ansible_tool("ansible-doc")
    if doc is None:
        return False
    done = subprocess.run(
        [doc, "-t", "module", "-j", "community.general.yum_versionlock"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # ansible-doc exits 0 and prints {} for a module it cannot find.
    return done.returncode == 0 and "community.general.yum_versionlock" in done.stdout


def run_playbook(world: World, host: LabHost, playbook: Path, *extra: str) -> tuple[str, int]:
    tool = _ansible_tool("ansible-playbook")
    assert tool is not None
    lab = world.lab
    ssh_args = (
        f"-o UserKnownHostsFile={lab.known_hosts} -o GlobalKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    )
    inventory = world.dir / "hosts.ini"
    inventory.write_text(
        f"[app]\n{host.name} ansible_host={host.address} ansible_user={lab.user} "
        f"ansible_ssh_private_key_file={lab.client_key} "
        f"ansible_ssh_common_args={shlex.quote(ssh_args)} "
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    control = tempfile.mkdtemp(prefix="pmcp")
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
            [tool, "-i", str(inventory), *extra, str(playbook)],
            cwd=world.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    line = re.search(rf"^{re.escape(host.name)}\s*:(.*)$", out.split("PLAY RECAP")[-1], re.M)
    assert line is not None, out
    recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}
    assert recap["failed"] == 0 and recap["unreachable"] == 0, out
    return out, recap["changed"]


@pytest.mark.skipif(_ansible_tool("ansible-playbook") is None, reason="ansible-core not installed")
def test_dnf_playbook_loop_ends_clean(world: World) -> None:
    host = world.lab.hosts["r9"]
    inventory = world.lab.write_inventory(world.dir / "r9.toml", [host])
    db_before = host_rpms(world, host)

    hold = has_community_general()
    done = world.run(
        "emit",
        "ansible-playbook",
        "--drift-only",
        *(["--hold"] if hold else []),
        "--out",
        "fix.yml",
        inventory=inventory,
    )
    assert done.returncode == 0, done.stderr
    playbook = (world.dir / "fix.yml").read_text()
    for spec in (
        '"bash-5.1.8-9.el9"',
        '"openssl-1:3.0.7-27.el9"',
        '"vim-minimal-2:8.2.2637-20.el9_1"',
        '"curl-7.76.1-29.el9_4"',
        '"chrony-4.5-1.el9"',
        '"glibc-2.34-100.el9.i686"',
    ):
        assert spec in playbook, playbook
    assert "allow_downgrade: true" in playbook
    if not hold:
        print("community.general not installed: the playbook runs without --hold")

    out, changed = run_playbook(world, host, world.dir / "fix.yml", "--check", "--diff")
    assert changed > 0, out
    assert host_rpms(world, host) == db_before  # --check changed nothing

    out, changed = run_playbook(world, host, world.dir / "fix.yml")
    assert changed > 0, out

    rc, after = world.check(inventory=inventory)
    assert rc == 0, after
    assert {f["kind"] for f in after["findings"]} == {"ok"}
    installed = host_rpms(world, host)
    assert RpmEntry("glibc", "2.34-100.el9", "i686") in installed
    assert RpmEntry("openssl", "1:3.0.7-27.el9") in installed
    if hold:
        locks = world.in_host("r9", "cat /etc/dnf/plugins/versionlock.list")
        assert "bash-0:5.1.8-9.el9.*" in locks, locks


def test_dnf_versionlock_list_is_read_by_the_real_plugin(world: World) -> None:
    done = pinmgr(
        "emit",
        "dnf-versionlock",
        "--role",
        "db",
        "--os",
        "fedora-40",
        "-l",
        str(world.lockfile),
        cwd=world.dir,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    entries = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert "glibc-0:2.39-8.fc40.i686" in entries
    assert "openssl-1:3.2.1-2.fc40.*" in entries
    f40 = world.lab.hosts["f40"]
    upgrade = ["sh", "-c", "dnf -C upgrade --assumeno openssl 2>&1"]
    unlocked = world.lab.exec(f40, upgrade)
    assert unlocked.returncode != 0 and "3.2.2-1.fc40" in unlocked.stdout, unlocked.stdout
    world.lab.exec(f40, ["sh", "-c", "cat > /etc/dnf/plugins/versionlock.list"], input=text)
    try:
        listed = world.in_host("f40", "dnf -q -C versionlock list").split()
        assert sorted(listed) == sorted(entries)
        # The lock takes effect where dnf resolves (list does not apply locks): the repository's
        # newer openssl 1:3.2.2-1 is no upgrade any more.
        locked = world.lab.exec(f40, upgrade)
        assert locked.returncode == 0, locked.stdout
        assert "3.2.2-1.fc40" not in locked.stdout and "Nothing to do" in locked.stdout
    finally:
        world.in_host("f40", "rm -f /etc/dnf/plugins/versionlock.list")


def test_diff_between_a_deb_and_an_rpm_environment(world: World) -> None:
    common = ("-i", str(world.inventory), "--known-hosts", str(world.lab.known_hosts), "-q")
    done = pinmgr("diff", ENV_RPM, ENV_DEB, "-f", "json", *common, cwd=world.dir)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    # Not hundreds of "absent" rows (libc6 vs glibc): the families are compared apart, and the
    # app venvs (pip, the same on both sides) agree.
    assert doc["differences"] == []
    assert doc["notes"] == [
        f"role app: {ENV_RPM} has rpm packages, {ENV_DEB} has deb: package names are compared "
        "per family, so a family only one side uses is not listed"
    ]
