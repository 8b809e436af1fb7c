"""Ingest correctness: a fact cache written by the real Ansible gives the findings pinmgr's own
SSH collection gives, for the same lab hosts and the same lockfile (issue 12).

Two lab hosts of different releases, each with its own dpkg database and os-release and planted
drift (older, newer, missing, removed-but-not-purged, held, a foreign-architecture copy). The
real ``ansible-playbook`` (``gather_facts`` + ``package_facts``, python-apt on the hosts) fills
a ``jsonfile`` fact cache over SSH; then ``pinmgr check -f json`` runs once live over SSH and
once with ``--snapshot <cache>``, and the findings must be equal field for field.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.hostlab import BASE_PACKAGES, Drift, HostSpec, Lab, LabFactory, newer, older

pytestmark = pytest.mark.hosts

DEB, JAMMY = BASE_PACKAGES["debian-12"], BASE_PACKAGES["ubuntu-22.04"]
SPECS = [
    HostSpec(
        "deb1",
        env="prod",
        role="db",
        os_release="debian-12",
        drift=Drift(
            versions={"postgresql-15": newer(DEB["postgresql-15"])},
            missing=("rsync",),
            config_files=("vim",),
            held=("sudo",),
            foreign={"libssl3": DEB["libssl3"]},
        ),
    ),
    HostSpec(
        "jam1",
        env="prod",
        role="db",
        os_release="ubuntu-22.04",
        drift=Drift(versions={"openssl": older(JAMMY["openssl"])}),
    ),
]
PINNED = ("bash", "curl", "libssl3", "openssl", "rsync", "sudo", "vim")
FIELDS = ("kind", "host", "env", "role", "ecosystem", "package", "expected", "actual", "direction")
PLAYBOOK = """\
- hosts: all
  gather_facts: true
  tasks:
    - ansible.builtin.package_facts:
"""


def _ansible_playbook() -> str | None:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else shutil.which("ansible-playbook")


def write_lockfile(path: Path) -> Path:
    lines = ["schema = 1", ""]
    for release, base in (("debian-12", DEB), ("ubuntu-22.04", JAMMY)):
        lines.append(f'[roles.db."{release}".deb]')
        lines += [f'{name} = "{base[name]}"' for name in PINNED]
        if release == "debian-12":
            lines.append(f'"libssl3:i386" = "{base["libssl3"]}"')
            lines.append(f'postgresql-15 = "{base["postgresql-15"]}"')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def write_ansible_inventory(lab: Lab, path: Path) -> Path:
    ssh_args = (
        f"-o UserKnownHostsFile={lab.known_hosts} -o GlobalKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    )
    lines = ["[db]"]
    for host in lab.hosts.values():
        lines.append(
            " ".join(
                [
                    host.name,
                    f"ansible_host={host.address}",
                    f"ansible_user={lab.user}",
                    f"ansible_ssh_private_key_file={lab.client_key}",
                    f"ansible_ssh_common_args={shlex.quote(ssh_args)}",
                    "ansible_python_interpreter=/usr/bin/python3",
                    # The lab user's home is the lab's own dir: nothing is left on the machine.
                    f"ansible_remote_tmp={host.home / '.ansible-tmp'}",
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def fill_fact_cache(lab: Lab, work: Path, cache: Path) -> None:
    """The real ansible-playbook over SSH; HOME and temp dirs in ``work`` and the lab's dirs."""
    playbook = _ansible_playbook()
    assert playbook is not None
    (work / "facts.yml").write_text(PLAYBOOK)
    inventory = write_ansible_inventory(lab, work / "hosts.ini")
    control = tempfile.mkdtemp(prefix="pmfc")  # short: ssh control sockets have a length cap
    env = {
        **os.environ,
        "HOME": str(work),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(work / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        done = subprocess.run(
            [playbook, "-i", str(inventory), "facts.yml"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr


def check(work: Path, lab: Lab, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(work)}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pinmgr", "check", "-l", "pinmgr.toml", "-i", "inventory.toml"),
            *("--known-hosts", str(lab.known_hosts), "-f", "json", "-q", *extra),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # drift planted: exit 1
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((tuple(f.get(k) for k in FIELDS) for f in report["findings"]), key=repr)


def test_ansible_fact_cache_findings_equal_live_ssh_findings(
    hostlab: LabFactory, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (lab hosts run in network namespaces)")
    if _ansible_playbook() is None:
        pytest.skip("ansible-playbook not installed (pip install ansible-core)")
    lab = hostlab(SPECS)
    write_lockfile(tmp_path / "pinmgr.toml")
    lab.write_inventory(tmp_path / "inventory.toml")
    cache = tmp_path / "facts"
    fill_fact_cache(lab, tmp_path, cache)
    assert sorted(p.name for p in cache.iterdir()) == ["s1_deb1", "s1_jam1"]

    live = check(tmp_path, lab)
    saved = check(tmp_path, lab, "--snapshot", str(cache))
    assert rows(saved) == rows(live)

    # The planted drift is in both: the comparison could fail.
    found = {(f["host"], f["package"]): f for f in live["findings"]}
    postgres = found["deb1", "postgresql-15"]
    assert (postgres["kind"], postgres["direction"]) == ("drift", "newer")
    assert found["deb1", "rsync"]["kind"] == "missing"
    assert found["deb1", "vim"]["kind"] == "missing"  # rc: config files only, not installed
    assert found["deb1", "sudo"]["kind"] == "ok"  # held is still installed
    assert found["deb1", "libssl3:i386"]["kind"] == "ok"
    openssl = found["jam1", "openssl"]
    assert (openssl["kind"], openssl["direction"]) == ("drift", "older")
    # The OS release came through both ways: both hosts are checked against their own release's
    # pins, and the role's hosts disagree on it (Ansible's "Ubuntu" "22.04" -> ubuntu-22.04).
    mixed = [f for f in saved["findings"] if f["kind"] == "mixed-os"]
    assert [(f["host"], f["expected"], f["actual"]) for f in mixed] == [
        ("jam1", "debian-12", "ubuntu-22.04")
    ]
    assert saved["summary"]["hosts_collected"] == live["summary"]["hosts_collected"] == 2
    assert saved["warnings"] == live["warnings"] == []
