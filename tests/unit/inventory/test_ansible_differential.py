"""pinmgr's reading of Ansible inventories against Ansible's and OpenSSH's own.

For every inventory under tests/data/ansible/ the real ``ansible-inventory --list`` says which
hosts exist and their merged variables (ranges, host:port, children, group_vars, host_vars,
directory and script inventories). Ansible's own ssh connection plugin then turns each host's
variables into its connection settings (which of ``ansible_user`` / ``ansible_ssh_user`` wins,
and so on), and the real ``ssh -G`` reads the command line Ansible would build from them
(``-o Port=``, ``-o IdentityFile=``, ``-o User=``, common args, extra args, host): the address,
port, user, key and ProxyJump OpenSSH would use. pinmgr's hosts must match that, host by host,
except the hosts it leaves out, which must be exactly the expected ones, each located.

The one documented difference: a relative key path is taken from the inventory's directory by
pinmgr, while Ansible passes it on relative to its working directory.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pinmgr.inventory import ansible
from pinmgr.model import Host, Location

ROOT = Path(__file__).resolve().parents[2] / "data" / "ansible"
WHERE = Location("pins/inventory.toml", 4)

pytestmark = [
    pytest.mark.skipif(
        ansible.find_executable() is None, reason="needs ansible-inventory (ansible-core)"
    ),
    pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client (ssh -G)"),
    # Importing Ansible's ssh plugin imports cryptography's DSA support, which warns.
    pytest.mark.filterwarnings("ignore:DSA is deprecated"),
]

# inventory -> {host left out: (file relative to ROOT, line)}; None: the [[sources]] entry.
CASES: dict[str, dict[str, tuple[str, int] | None]] = {
    "docs/hosts.ini": {"mail.example.com": ("docs/hosts.ini", 1)},
    "docs/hosts.yml": {"mail.example.com": ("docs/hosts.yml", 3)},
    "fleet-ini/hosts.ini": {
        "mail.example.com": ("fleet-ini/hosts.ini", 3),
        "broken.example.com": ("fleet-ini/hosts.ini", 9),
    },
    "fleet-yaml/hosts.yml": {
        "mail.example.com": ("fleet-yaml/hosts.yml", 4),
        "broken.example.com": ("fleet-yaml/hosts.yml", 18),
        "db04.example.com": ("fleet-yaml/host_vars/db04.example.com.yml", 2),
        "templated.example.com": ("fleet-yaml/hosts.yml", 35),
    },
    "dir-inventory/inventory": {},
    "script/inventory.py": {"s-win": None},
}


def _ansible_list(inventory: Path) -> dict[str, Any]:
    """The real ``ansible-inventory --list``, run here on its own (not through pinmgr)."""
    exe = ansible.find_executable()
    assert exe is not None
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"}
    done = subprocess.run(
        [exe, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _all_hosts(data: dict[str, Any]) -> set[str]:
    return {
        h
        for name, group in data.items()
        if name != "_meta" and isinstance(group, dict)
        for h in group.get("hosts", [])
    }


def _ansible_connection(name: str, hostvars: dict[str, Any]) -> dict[str, Any]:
    """The ssh connection options Ansible's own ssh plugin takes from these variables."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    conn = connection_loader.get("ssh", PlayContext(), None)
    conn.set_options(var_options={**hostvars, "inventory_hostname": name})
    names = ("host", "port", "remote_user", "private_key_file")
    options = {o: conn.get_option(o) for o in names}
    options["args"] = [conn.get_option("ssh_common_args"), conn.get_option("ssh_extra_args")]
    return options


def _ssh_g(options: dict[str, Any], base_dir: Path) -> dict[str, str | None]:
    """What ``ssh -G`` makes of the command line Ansible builds (same order of arguments)."""
    argv = ["ssh", "-G", "-F", os.devnull]
    if options["port"] is not None:
        argv += ["-o", f"Port={options['port']}"]
    key = options["private_key_file"]
    if key:
        path = Path(key).expanduser()
        argv += ["-o", f'IdentityFile="{path if path.is_absolute() else base_dir / path}"']
    if options["remote_user"]:
        argv += ["-o", f'User="{options["remote_user"]}"']
    for args in options["args"]:
        argv += shlex.split(args or "")
    argv.append(options["host"])
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    seen: dict[str, str | None] = {}
    for line in out.splitlines():
        word, _, value = line.partition(" ")
        seen.setdefault(word, value)  # identityfile repeats: the first is the one given
    return {
        "address": seen["hostname"],
        "port": seen["port"],
        "user": seen["user"],
        "key": str(Path(seen["identityfile"] or "").expanduser()) if key else None,
        "proxy_jump": seen.get("proxyjump"),
    }


def _pinmgr_view(host: Host) -> dict[str, str | None]:
    """pinmgr's host with OpenSSH's defaults filled in where it leaves a value unset."""
    return {
        "address": (host.address or host.name).lower(),  # ssh lowercases the destination
        "port": str(host.port or 22),
        "user": host.user or getpass.getuser(),
        "key": host.key_file,
        "proxy_jump": host.proxy_jump,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_hosts_and_connections_match_ansible_and_openssh(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # ~ in key paths, and no ~/.ansible.cfg
    inventory = ROOT / case
    data = _ansible_list(inventory)
    result = ansible.load(str(inventory), source=WHERE, default_env="production")

    loaded = {h.name: h for h in result.hosts}
    left_out = {p.host: p for p in result.problems}
    assert len(loaded) + len(left_out) == len(result.hosts) + len(result.problems)  # no repeats
    assert set(loaded) | set(left_out) == _all_hosts(data)
    expected_out = CASES[case]
    assert set(left_out) == set(expected_out)
    for name, where in expected_out.items():
        location = left_out[name].location
        assert location is not None
        if where is None:
            assert location == WHERE
        else:
            assert (location.file, location.line) == (str(ROOT / where[0]), where[1])
        assert left_out[name].message.startswith(f"ansible host {name!r}: ")

    base_dir = inventory if inventory.is_dir() else inventory.parent
    hostvars = data["_meta"]["hostvars"]
    mismatches = {}
    for name, host in sorted(loaded.items()):
        want = _ssh_g(_ansible_connection(name, hostvars.get(name, {})), base_dir)
        got = _pinmgr_view(host)
        if got != want:
            mismatches[name] = (got, want)
    assert mismatches == {}
    assert loaded, "every case loads some hosts"


def test_fleet_ini_places_the_other_68_hosts_by_group() -> None:
    result = ansible.load(str(ROOT / "fleet-ini" / "hosts.ini"), source=WHERE)
    by_name = {h.name: h for h in result.hosts}
    assert len(by_name) == 68
    assert {h.env for h in by_name.values()} == {"production", "staging"}
    assert (by_name["www37.example.com"].env, by_name["www37.example.com"].roles) == (
        "production",
        ("webservers",),
    )
    assert by_name["db-f.example.com"].roles == ("dbservers",)
    assert (by_name["old12.example.com"].env, by_name["old12.example.com"].roles) == (
        "staging",
        ("legacy",),
    )
    # Ansible's precedence, not pinmgr's guess: ansible_ssh_user=root beats the group's
    # ansible_user, and host_vars/ beats group_vars/.
    assert by_name["old12.example.com"].user == "root"
    assert by_name["db-c.example.com"].user == "dba"
