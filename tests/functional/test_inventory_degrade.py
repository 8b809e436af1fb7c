"""Issue 11 end to end: an Ansible host pinmgr cannot place is a warning, not a failed run.

The inventory is the Ansible documentation's own example (tests/data/ansible/docs/hosts.ini,
``mail.example.com`` in no group) with every host reached locally (``ansible_connection=local``),
so ``pinmgr check`` really collects the other five hosts on this machine with the real
ansible-inventory and dpkg-query; ``--strict`` turns the warning into exit 2 before any host
is collected.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.inventory import ansible

from .test_cli_local import pinmgr

DOCS_INI = Path(__file__).resolve().parents[1] / "data" / "ansible" / "docs" / "hosts.ini"

pytestmark = [
    pytest.mark.skipif(ansible.find_executable() is None, reason="needs ansible-core"),
    pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query"),
]


def _os_key() -> str:
    fields = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    return f"{fields['ID'].strip(chr(34)).lower()}-{fields['VERSION_ID'].strip(chr(34))}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """pins/ with a lockfile for roles webservers + dbservers and the docs inventory as source."""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    pins = tmp_path / "pins"
    pins.mkdir()
    (pins / "pinmgr.toml").write_text(
        f'schema = 1\n\n[shared."{_os_key()}".deb]\ndpkg = "{version}"\n\n'
        f'[roles.webservers."{_os_key()}".deb]\n[roles.dbservers."{_os_key()}".deb]\n'
    )
    ini = pins / "hosts.ini"
    ini.write_text(DOCS_INI.read_text() + "\n[all:vars]\nansible_connection=local\n")
    (pins / "inventory.toml").write_text(
        'schema = 1\n\n[[sources]]\ntype = "ansible"\ninventory = "hosts.ini"\nenv = "production"\n'
    )
    return tmp_path


WARNING = (
    "pinmgr: warning: {ini}:1:1: ansible host 'mail.example.com': in no role group; "
    "put it in one or set pinmgr_roles; host left out"
)


def test_check_warns_once_and_checks_the_other_hosts(project: Path) -> None:
    result = pinmgr("check", "-f", "json", "-q", cwd=project)
    assert result.returncode == 0, result.stderr
    ini = project / "pins" / "hosts.ini"
    assert result.stderr.splitlines() == [WARNING.format(ini=ini)]
    doc = json.loads(result.stdout)
    checked = sorted({f["host"] for f in doc["findings"]})
    assert checked == [
        "bar.example.com",
        "foo.example.com",
        "one.example.com",
        "three.example.com",
        "two.example.com",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "-q"],
        ["diff", "production", "production", "-q"],
        ["outdated", "-q"],
        ["emit", "ansible-playbook", "--out", "fix.yml", "-q"],
        ["accept", "--dry-run", "-q"],
        ["lock", "--from", "foo.example.com", "--dry-run"],
        ["collect", "-o", "fix.yml", "-q"],
    ],
)
def test_strict_makes_it_an_error_on_every_command_that_loads_the_inventory(
    project: Path, argv: list[str]
) -> None:
    result = pinmgr(*argv, "--strict", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    ini = project / "pins" / "hosts.ini"
    assert result.stderr.splitlines() == [
        WARNING.format(ini=ini).replace("warning", "error", 1),
        "pinmgr: error: 1 inventory host left out (an error with --strict)",
    ]
    assert not (project / "fix.yml").exists()


def test_validate_warns_and_validate_strict_fails(project: Path) -> None:
    ini = project / "pins" / "hosts.ini"
    result = pinmgr("validate", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [WARNING.format(ini=ini)]
    assert "pins/inventory.toml: ok" in result.stdout

    result = pinmgr("validate", "--strict", cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"pinmgr: error: {ini}:1:1: ansible host 'mail.example.com': in no role group; "
        "put it in one or set pinmgr_roles",
        "1 problem found",
    ]
