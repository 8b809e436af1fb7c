"""The test-host lab itself: real sshd hosts, each with its own OS identity and package db,
reached with the system ``ssh`` client, and nothing left behind after ``stop()``."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostlab import (
    BASE_PACKAGES,
    GUARD_NET,
    OS_RELEASE_FILES,
    VENV_PATH,
    Drift,
    HostSpec,
    Lab,
    LabError,
    LabFactory,
    LabHost,
    assert_routed_locally,
    fleet,
    guard_route_present,
    newer,
    older,
    packages_for,
    plant,
    requirements_missing,
)

pytestmark = pytest.mark.hosts

QUERY = r"dpkg-query -W -f '${binary:Package}\t${Version}\t${db:Status-Abbrev}\n'"
PIP_LIST = (
    f"{VENV_PATH}/bin/python -c 'import importlib.metadata as m, json; "
    'print(json.dumps({d.metadata["Name"]: d.version for d in m.distributions()}))\''
)


def ssh(lab: Lab, host: str, command: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(lab.ssh_config), *options, host, command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ssh_all(lab: Lab, hosts: list[LabHost], command: str) -> dict[str, tuple[int, str, str]]:
    """Run ``command`` on every host at once (one ssh client each); name -> (rc, out, err)."""
    procs = {
        h.name: subprocess.Popen(
            ["ssh", "-F", str(lab.ssh_config), h.name, command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in hosts
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=60)
        out[name] = (proc.returncode, stdout, stderr)
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead orphan waits for the machine's init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line}


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    return {line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()}


# --- pure: what is planted is exactly what the spec says ------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 8])
def test_xdist_workers_get_disjoint_lab_slots(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    from tests.hostlab import net

    shares = []
    for index in range(count):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
        shares.append(set(net.slot_range()))
    taken = [n for share in shares for n in share]
    assert len(taken) == len(set(taken))  # no slot in two workers' shares
    assert set(taken) <= set(range(1, net.MAX_SLOT + 1))
    assert min(len(share) for share in shares) == net.MAX_SLOT // count
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert net.slot_range() == range(1, net.MAX_SLOT + 1)  # not under xdist: every slot


def test_older_and_newer_are_ordered_by_dpkg() -> None:
    for release, packages in BASE_PACKAGES.items():
        for name, version in packages.items():
            for other, op in ((older(version), "lt"), (newer(version), "gt")):
                rc = subprocess.run(["dpkg", "--compare-versions", other, op, version]).returncode
                assert rc == 0, f"{release} {name}: {other} not {op} {version}"


def test_plant_records_exactly_the_drift() -> None:
    base = BASE_PACKAGES["ubuntu-22.04"]
    spec = HostSpec(
        "x",
        role="app",
        os_release="ubuntu-22.04",
        drift=Drift(
            versions={"nginx": older(base["nginx"]), "curl": newer(base["curl"])},
            missing=("git",),
            extra={"htop": "3.0.5-7build2"},
            config_files=("vim",),
            held=("openssl",),
            foreign={"libssl3": base["libssl3"]},
        ),
    )
    entries, planted = plant(spec)
    kinds = {(p.kind, p.package) for p in planted}
    assert kinds == {
        ("older", "nginx"),
        ("newer", "curl"),
        ("missing", "git"),
        ("extra", "htop"),
        ("config-files", "vim"),
        ("held", "openssl"),
        ("foreign-arch", "libssl3"),
    }
    by_key = {(e.name, e.arch): e for e in entries}
    expected_base = packages_for("ubuntu-22.04", "app")
    changed = {"nginx", "curl", "git", "htop", "vim", "openssl"}
    native = {e.name: e.version for e in entries if e.arch != "i386"}
    assert set(native) == (set(expected_base) - {"git"}) | {"htop"}
    for name, version in expected_base.items():
        if name not in changed:
            assert native[name] == version
    assert ("git", "amd64") not in by_key
    assert by_key[("libssl3", "i386")].query_line() == f"libssl3:i386\t{base['libssl3']}\tii "
    assert by_key[("vim", "amd64")].abbrev == "rc "
    assert by_key[("openssl", "amd64")].abbrev == "hi "
    assert "postgresql-14" not in {e.name for e in entries}  # db-only package


def test_release_specific_names() -> None:
    assert "libssl3t64" in BASE_PACKAGES["ubuntu-24.04"]
    assert "libssl3" not in BASE_PACKAGES["ubuntu-24.04"]
    assert BASE_PACKAGES["ubuntu-22.04"]["nginx"] == "1.18.0-6ubuntu14.4"
    assert BASE_PACKAGES["ubuntu-24.04"]["nginx"] == "1.24.0-2ubuntu7"
    assert BASE_PACKAGES["debian-12"]["nginx"] == "1.22.1-9"
    for packages in BASE_PACKAGES.values():
        assert 30 <= len(packages) <= 60


# --- real hosts --------------------------------------------------------------------------------


def test_guard_route_and_bridge_routing(lab: Lab, lab_hosts: list[LabHost]) -> None:
    assert guard_route_present()
    shown = subprocess.run(
        ["ip", "route", "show", "exact", GUARD_NET], capture_output=True, text=True, check=True
    ).stdout
    assert "unreachable" in shown and "metric 4000" in shown
    for h in lab_hosts:
        assert assert_routed_locally(h.address, lab.bridge) == lab.bridge
    with pytest.raises(LabError, match="not a lab bridge"):
        assert_routed_locally(lab.unreachable_address())
    with pytest.raises(LabError, match="outside the lab subnet"):
        assert_routed_locally("192.0.2.10")


def test_each_host_has_its_own_identity_and_package_db(lab: Lab, lab_hosts: list[LabHost]) -> None:
    script = f"hostname; echo ===; cat /etc/os-release; echo ===; {QUERY}"
    results = ssh_all(lab, lab_hosts, script)
    assert {h.os_release for h in lab_hosts} == {"debian-12", "ubuntu-22.04", "ubuntu-24.04"}
    for h in lab_hosts:
        rc, out, err = results[h.name]
        assert rc == 0, err
        hostname, os_release, packages = out.split("===\n")
        assert hostname.strip() == h.name
        assert os_release == OS_RELEASE_FILES[h.os_release]
        assert packages.splitlines() == h.query_lines()
    # The machine itself still sees its own files.
    assert "Ubuntu" not in Path("/etc/os-release").read_text()


def test_planted_states_appear_as_planted(lab: Lab, lab_hosts: list[LabHost]) -> None:
    hosts = {h.name: h for h in lab_hosts}
    jammy = BASE_PACKAGES["ubuntu-22.04"]
    web1 = ssh(lab, "web1", QUERY).stdout.splitlines()
    assert f"libssl3:i386\t{jammy['libssl3']}\tii " in web1
    assert f"libssl3:amd64\t{jammy['libssl3']}\tii " in web1
    assert f"vim\t{jammy['vim']}\trc " in web1
    assert f"nginx\t{older(jammy['nginx'])}\tii " in web1
    web2 = ssh(lab, "web2", QUERY).stdout.splitlines()
    assert f"nginx\t{BASE_PACKAGES['ubuntu-24.04']['nginx']}\thi " in web2
    assert "htop\t3.3.0-4build1\tii " in web2
    db1 = ssh(lab, "db1", QUERY).stdout
    assert "\nrsync\t" not in db1
    assert {p.kind for p in hosts["db1"].planted} == {"newer", "missing"}
    assert hosts["db2"].planted == () and hosts["web3"].planted == ()
    # Clean hosts match their release's base set exactly.
    db2 = dict(line.split("\t")[:2] for line in ssh(lab, "db2", QUERY).stdout.splitlines())
    expected = {e.binary_package: e.version for e in hosts["db2"].packages}
    assert db2 == expected
    assert {n.split(":")[0] for n in db2} == set(packages_for("ubuntu-22.04", "db"))


def test_app_hosts_have_their_own_virtualenv(lab: Lab, lab_hosts: list[LabHost]) -> None:
    for h in lab_hosts:
        result = ssh(lab, h.name, PIP_LIST)
        if h.role == "app":
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout) == dict(h.pip)
        else:
            assert result.returncode != 0
            assert h.venv is None
    web = {h.name: h.pip for h in lab_hosts}
    assert web["web1"]["requests"] == "2.31.0" and web["web2"]["Django"] == "5.0.9"
    assert not Path(VENV_PATH).exists()  # only the hosts see it


def test_inventory_loads_with_pinmgr(lab: Lab, lab_hosts: list[LabHost], tmp_path: Path) -> None:
    from dataclasses import replace

    from pinmgr.inventory import native

    path = lab.write_inventory(tmp_path / "inventory.toml")
    text = path.read_text()
    assert text.startswith("schema = 1\n")
    assert "[environments.staging.hosts.web1]" in text
    loaded = {h.name: replace(h, source=None) for h in native.load(path).environments[0].hosts}
    loaded |= {h.name: replace(h, source=None) for h in native.load(path).environments[1].hosts}
    assert loaded == {h.name: h.as_host(lab) for h in lab_hosts}


def test_unreachable_address_fails_at_once(hostlab: LabFactory) -> None:
    lab = hostlab([HostSpec("gone", kind="unreachable"), HostSpec("closed", kind="refused")])
    gone = lab.hosts["gone"]
    with pytest.raises(OSError) as exc:
        socket.create_connection((gone.address, 22), timeout=5)
    assert exc.value.errno == errno.EHOSTUNREACH
    result = ssh(lab, "gone", "true")
    assert result.returncode == 255
    assert "No route to host" in result.stderr
    result = ssh(lab, "closed", "true")
    assert result.returncode == 255
    assert "Connection refused" in result.stderr


def test_hang_host_accepts_but_never_speaks(hostlab: LabFactory) -> None:
    lab = hostlab([HostSpec("stuck", kind="hang")])
    with socket.create_connection((lab.hosts["stuck"].address, 22), timeout=5) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    result = ssh(lab, "stuck", "true", "-o", "ConnectTimeout=1")
    assert result.returncode == 255
    assert "banner exchange" in result.stderr


def test_rekey_changes_the_host_key(hostlab: LabFactory) -> None:
    lab = hostlab([HostSpec("k1", role="db")])
    old_key = lab.hosts["k1"].host_key_pub
    assert ssh(lab, "k1", "true").returncode == 0
    lab.rekey("k1")
    assert lab.hosts["k1"].host_key_pub != old_key
    result = ssh(lab, "k1", "true")
    assert result.returncode == 255
    assert "Host key verification failed" in result.stderr
    lab.rekey("k1", trust=True)
    assert ssh(lab, "k1", "hostname").stdout.strip() == "k1"


def test_proxy_jump_through_bastion(hostlab: LabFactory) -> None:
    lab = hostlab(
        [
            HostSpec("bastion", role="bastion"),
            HostSpec("inner", role="db", os_release="ubuntu-24.04", proxy_jump="bastion"),
        ]
    )
    result = ssh(lab, "inner", "hostname; echo $SSH_CONNECTION")
    assert result.returncode == 0, result.stderr
    name, conn = result.stdout.splitlines()
    assert name == "inner"
    # The inner host saw the bastion as its client, not the root namespace's bridge address.
    assert conn.split()[0] == lab.hosts["bastion"].address


def test_writable_host_writes_only_its_own_layers(hostlab: LabFactory) -> None:
    status = Path("/var/lib/dpkg/status")
    before = hashlib.sha256(status.read_bytes()).hexdigest()
    lab = hostlab([HostSpec("w1", os_release="ubuntu-22.04", role="db", writable=True)])
    done = lab.exec("w1", ["dpkg", "--set-selections"], input="vim hold\n")
    assert done.returncode == 0, done.stderr
    marker = lab.exec("w1", ["sh", "-c", "echo lab > /etc/pinmgr-lab-marker"])
    assert marker.returncode == 0, marker.stderr
    line = [x for x in ssh(lab, "w1", QUERY).stdout.splitlines() if x.startswith("vim\t")]
    assert line == [f"vim\t{BASE_PACKAGES['ubuntu-22.04']['vim']}\thi "]
    assert ssh(lab, "w1", "cat /etc/pinmgr-lab-marker").stdout == "lab\n"
    assert not Path("/etc/pinmgr-lab-marker").exists()
    assert hashlib.sha256(status.read_bytes()).hexdigest() == before


def test_stop_leaves_nothing_behind() -> None:
    lab = Lab()
    try:
        lab.start(
            [
                HostSpec("a", os_release="ubuntu-24.04"),
                HostSpec("b", role="db", writable=True),
                HostSpec("c", kind="hang"),
            ]
        )
        pids = [h.proc.pid for h in lab.hosts.values() if h.proc] + [
            lab.pid1(h) for h in lab.hosts.values()
        ]
        netns, bridge, workdir = set(lab.netns), lab.bridge, lab.workdir
        assert netns <= _netns_names() and bridge in _links()
    finally:
        lab.stop()
    assert not netns & _netns_names()
    assert not {n for n in _links() if n == bridge or n.startswith(f"pl{bridge[5:]}h")}
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} survived (or unreaped)"
    assert not workdir.exists()
    assert str(workdir) not in _mountinfo()
    assert not any(f"/run/netns/{ns}" in _mountinfo() for ns in netns)
    lab.stop()  # idempotent


def test_start_fifty_hosts(hostlab: LabFactory) -> None:
    t0 = time.monotonic()
    lab = hostlab(fleet(50))
    started = time.monotonic() - t0
    t1 = time.monotonic()
    results = ssh_all(lab, list(lab.hosts.values()), "hostname")
    ssh_s = time.monotonic() - t1
    assert {name: r[1].strip() for name, r in results.items()} == {n: n for n in lab.hosts}
    print(
        f"\nhostlab: 50 hosts ready in {started:.2f}s; "
        f"50 parallel ssh logins in {ssh_s:.2f}s (cpus={os.cpu_count()})"
    )


@pytest.mark.parametrize("writable", [False, True])
def test_replant_changes_a_running_host(hostlab: LabFactory, writable: bool) -> None:
    lab = hostlab([HostSpec("r1", os_release="ubuntu-24.04", writable=writable)])
    noble = BASE_PACKAGES["ubuntu-24.04"]
    lab.replant("r1", Drift(versions={"nginx": older(noble["nginx"])}), pip={"Django": "4.2.0"})
    lines = ssh(lab, "r1", QUERY).stdout.splitlines()
    assert f"nginx\t{older(noble['nginx'])}\tii " in lines
    assert lines == lab.hosts["r1"].query_lines()
    assert [p.kind for p in lab.hosts["r1"].planted] == ["older"]
    assert json.loads(ssh(lab, "r1", PIP_LIST).stdout) == {"Django": "4.2.0"}
    lab.replant("r1", Drift())
    assert f"nginx\t{noble['nginx']}\tii " in ssh(lab, "r1", QUERY).stdout.splitlines()
    assert lab.hosts["r1"].planted == ()


def test_a_killed_run_is_cleaned_up_by_the_next_lab_in_its_slot() -> None:
    from tests.hostlab import net

    if requirements_missing():
        pytest.skip(requirements_missing() or "")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]);"
            "from tests.hostlab import Lab, HostSpec;"
            "lab = Lab(); lab.start([HostSpec('x1'), HostSpec('x2', kind='hang')]);"
            "print(lab.bridge[5:], lab.pid1('x1'), lab.workdir, flush=True); sys.stdin.read()",
            str(Path(__file__).resolve().parents[2]),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    slot_s, pid1_s, workdir = child.stdout.readline().split()
    slot, pid1 = int(slot_s), int(pid1_s)
    child.kill()  # no atexit, no finalizer: hosts, netns and links stay behind
    child.wait()
    assert _running(pid1) and net.lab_netns(slot)
    held = []
    try:
        while True:  # take slots lowest-first until the dead run's slot is ours (and purged)
            held.append(net.Slot())
            if held[-1].number == slot:
                break
    finally:
        for s in held:
            s.release()
    assert not net.lab_netns(slot) and not net.lab_links(slot)
    assert not _running(pid1)  # killed (an orphan: the machine's init reaps it in its time)
    shutil.rmtree(workdir, ignore_errors=True)
