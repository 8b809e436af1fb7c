from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr.errors import InventoryError, UsageError
from pinmgr.inventory import (
    ansible,
    default_inventory,
    load_inventory,
    load_with_problems,
    select,
)
from pinmgr.model import Environment, Host, Inventory, Location, TransportKind

from .conftest import DATA
from .test_vagrant import _stand_in

BUNDLED = Path(__file__).resolve().parents[3] / "pins" / "inventory.toml"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bundled_inventory_is_this_machine(home: Path) -> None:
    inv = load_inventory(BUNDLED)
    assert [e.name for e in inv.environments] == ["local"]
    (host,) = inv.hosts
    assert (host.name, host.transport, host.roles) == ("localhost", TransportKind.LOCAL, ("app",))


def test_no_file_gives_the_default_inventory() -> None:
    inv = load_inventory(None, default_roles=("web",))
    assert inv == default_inventory(("web",))
    (host,) = inv.hosts
    assert (host.env, host.name, host.transport, host.roles) == (
        "local",
        "localhost",
        TransportKind.LOCAL,
        ("web",),
    )


def test_sources_merged_and_aliases_resolved(
    ssh_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Vagrant stand-in (see test_vagrant.py): prints captured `vagrant ssh-config` output.
    bin_dir = tmp_path / "bin"
    _stand_in(bin_dir, DATA / "vagrant" / "ssh-config-default.txt")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    inv_file = _write(
        tmp_path / "inventory.toml",
        """\
schema = 1
[environments.staging.hosts.front]
address = "web-2"            # an alias of ~/.ssh/config
roles = ["app"]
[environments.staging.hosts.db9]
address = "db-1"
user = "me"                  # written here: wins over the config's User
roles = ["db"]

[[sources]]
type = "vagrant"
dir = "."
[[sources]]
type = "ssh_config"
env = "production"
hosts = { "web-*" = "app" }
""",
    )
    inv = load_inventory(inv_file)
    assert [e.name for e in inv.environments] == ["staging", "vagrant", "production"]
    front, db9 = inv.env("staging").hosts  # type: ignore[union-attr]
    assert (front.address, front.proxy_jump, front.user) == (
        "web-2.prod.example.com",
        "bastion",
        "deploy",
    )
    assert (db9.address, db9.user, db9.port) == ("10.1.0.7", "me", 2200)
    (box,) = inv.env("vagrant").hosts  # type: ignore[union-attr]
    # Vagrant hosts come from Vagrant's own config, not ~/.ssh/config's "Host *" User.
    assert (box.name, box.user, box.port, box.roles) == ("default", "vagrant", 2222, ("app",))
    assert [h.name for h in inv.env("production").hosts] == ["web-1", "web-2"]  # type: ignore[union-attr]
    assert box.source == Location(str(inv_file), 10)


def test_explicit_ssh_config_is_used_instead_of_home(ssh_home: Path, tmp_path: Path) -> None:
    other = _write(tmp_path / "other_config", "Host front\n  HostName 203.0.113.9\n  Port 2022\n")
    inv_file = _write(
        tmp_path / "inventory.toml",
        'schema = 1\n[environments.e.hosts.front]\nroles = ["app"]\n',
    )
    (host,) = load_inventory(inv_file, ssh_config=str(other)).hosts
    assert (host.address, host.port, host.user) == ("203.0.113.9", 2022, None)
    (host,) = load_inventory(inv_file).hosts  # ~/.ssh/config: only its "Host *" applies
    assert (host.address, host.port, host.user) == ("front", None, "deploy")
    with pytest.raises(InventoryError, match="does not exist"):
        load_inventory(inv_file, ssh_config=str(tmp_path / "missing"))


def test_duplicate_host_in_one_environment(home: Path, tmp_path: Path) -> None:
    shutil.copy(DATA / "ssh" / "config", home / ".ssh" / "fleet")
    inv_file = _write(
        tmp_path / "inventory.toml",
        """\
schema = 1
[environments.production.hosts.web-1]
roles = ["app"]
[environments.staging.hosts.web-2]
roles = ["app"]

[[sources]]
type = "ssh_config"
path = "~/.ssh/fleet"
env = "production"
hosts = { "web-*" = "app" }
""",
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(inv_file)
    (problem,) = caught.value.problems
    assert problem.message == (
        f"host 'web-1' appears twice in environment 'production' (first at {inv_file}:2:1)"
    )
    assert problem.location == Location(str(inv_file), 7, 1)


def test_failing_sources_all_reported(home: Path, tmp_path: Path) -> None:
    inv_file = _write(
        tmp_path / "inventory.toml",
        """\
schema = 1
[[sources]]
type = "ssh_config"
path = "nowhere/config"
env = "production"
hosts = { "*" = "app" }
[[sources]]
type = "vagrant"
dir = "no-such-dir"
""",
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(inv_file)
    assert [(str(p.location), p.message.split(" ")[0]) for p in caught.value.problems] == [
        (f"{inv_file}:2:1", "OpenSSH"),
        (f"{inv_file}:7:1", "vagrant"),
    ]


@pytest.mark.skipif(ansible.find_executable() is None, reason="needs ansible-core")
def test_ansible_source_resolved_through_ssh_config(home: Path, tmp_path: Path) -> None:
    (home / ".ssh" / "config").write_text("Host web2.staging.example.com\n  HostName 10.0.0.6\n")
    shutil.copy(DATA / "ansible" / "hosts.ini", tmp_path / "hosts.ini")
    inv_file = _write(
        tmp_path / "inventory.toml",
        'schema = 1\n[[sources]]\ntype = "ansible"\ninventory = "hosts.ini"\n'
        'role_groups = ["web", "db", "web_prod"]\n',
    )
    inv = load_inventory(inv_file)
    assert [e.name for e in inv.environments] == ["production", "staging", "local", "qa"]
    web2 = next(h for h in inv.hosts if h.name == "web2.staging.example.com")
    assert (web2.address, web2.port) == ("10.0.0.6", 2222)


ANSIBLE_DOCS = Path(__file__).resolve().parents[2] / "data" / "ansible" / "docs"


@pytest.mark.skipif(ansible.find_executable() is None, reason="needs ansible-core")
@pytest.mark.parametrize("name", ["hosts.ini", "hosts.yml"])
def test_host_in_no_role_group_is_left_out_and_the_others_load(
    home: Path, tmp_path: Path, name: str
) -> None:
    """Issue 11: Ansible's own example inventory used to fail whole on mail.example.com."""
    inv_file = _write(
        tmp_path / "inventory.toml",
        f'schema = 1\n\n[[sources]]\ntype = "ansible"\ninventory = "{ANSIBLE_DOCS / name}"\n'
        'env = "production"\n',
    )
    loaded = load_with_problems(inv_file)
    assert sorted(h.name for h in loaded.inventory.hosts) == [
        "bar.example.com",
        "foo.example.com",
        "one.example.com",
        "three.example.com",
        "two.example.com",
    ]
    (problem,) = loaded.problems
    assert problem.host == "mail.example.com"
    assert problem.message == (
        "ansible host 'mail.example.com': in no role group; put it in one or set pinmgr_roles"
    )
    assert problem.location is not None
    assert problem.location.file == str(ANSIBLE_DOCS / name)
    assert problem.location.line == (1 if name == "hosts.ini" else 3)
    # The strict form (the library's load_inventory, the CLI's --strict) refuses it.
    with pytest.raises(InventoryError) as caught:
        load_inventory(inv_file)
    assert [str(p) for p in caught.value.problems] == [str(problem)]


def test_unmapped_vagrant_machine_left_out(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    _stand_in(bin_dir, DATA / "vagrant" / "ssh-config-multi.txt")
    project = tmp_path / "project"
    project.mkdir()
    inv_file = _write(
        tmp_path / "inventory.toml",
        'schema = 1\n[[sources]]\ntype = "vagrant"\ndir = "project"\nroles = { web = "app" }\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    loaded = load_with_problems(inv_file)
    assert [h.name for h in loaded.inventory.hosts] == ["web"]
    assert [(p.host, p.location) for p in loaded.problems] == [
        ("db1", Location(str(inv_file), 2, 1))
    ]


def test_alias_that_does_not_resolve_is_left_out(home: Path, tmp_path: Path) -> None:
    """The config parses, but ssh would refuse this one host (``%n`` in HostName)."""
    (home / ".ssh" / "config").write_text("Host bad\n  HostName x-%n\n")
    inv_file = _write(
        tmp_path / "inventory.toml",
        "schema = 1\n[environments.prod.hosts.good]\nroles = ['app']\n"
        "[environments.prod.hosts.bad]\nroles = ['app']\n",
    )
    loaded = load_with_problems(inv_file)
    assert [h.name for h in loaded.inventory.hosts] == ["good"]
    (problem,) = loaded.problems
    assert problem.host == "bad"
    assert problem.message == "host 'bad': unknown token %n in 'x-%n'"
    # Where the bad value was written (the host's own entry is named in the message).
    assert problem.location == Location(str(home / ".ssh" / "config"), 2, 3)


def test_a_failing_source_still_lists_the_hosts_left_out(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``validate`` must show everything at once: the fatal error and the per-host problems."""
    (home / ".ssh" / "config").write_text("Host bad\n  HostName x-%n\n")
    inv_file = _write(
        tmp_path / "inventory.toml",
        "schema = 1\n[environments.prod.hosts.bad]\nroles = ['app']\n"
        '[[sources]]\ntype = "vagrant"\ndir = "no-such-dir"\n',
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no vagrant, wherever this runs
    with pytest.raises(InventoryError) as caught:
        load_with_problems(inv_file)
    assert [p.message.split(" ")[0:2] for p in caught.value.problems] == [
        ["vagrant", "not"],  # "vagrant not found: install Vagrant ..."
        ["host", "'bad':"],
    ]


def _fleet() -> Inventory:
    return Inventory(
        (
            Environment("dev", (Host("d1", "dev", ("app",)),)),
            Environment(
                "staging",
                (Host("s1", "staging", ("app", "db")), Host("s2", "staging", ("db",))),
            ),
        )
    )


def test_select_all_when_nothing_asked() -> None:
    assert select(_fleet(), [], []) == _fleet()


def test_select_env_and_role_narrows_roles() -> None:
    got = select(_fleet(), ["staging"], ["db"])
    assert [(h.name, h.roles) for h in got.hosts] == [("s1", ("db",)), ("s2", ("db",))]
    got = select(_fleet(), [], ["app"])
    assert [(e.name, [h.name for h in e.hosts]) for e in got.environments] == [
        ("dev", ["d1"]),
        ("staging", ["s1"]),
    ]
    assert [h.name for h in select(_fleet(), [], [], hosts=["s2"]).hosts] == ["s2"]


@pytest.mark.parametrize(
    ("envs", "roles", "hosts", "message"),
    [
        (["prod"], [], [], "unknown environment 'prod'; known: dev, staging"),
        (
            [],
            ["web"],
            [],
            "unknown role 'web': no host in the inventory has it (its hosts have: app, db)",
        ),
        (["dev"], [], ["s1"], "unknown host 's1'; known: d1"),
    ],
)
def test_select_unknown_names(
    envs: list[str], roles: list[str], hosts: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        select(_fleet(), envs, roles, hosts)
    assert str(caught.value) == message


def test_importing_inventory_does_not_load_paramiko() -> None:
    """CLI start-up: paramiko is loaded only when an OpenSSH config is actually parsed."""
    code = "import sys, pinmgr.inventory; print('paramiko' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
