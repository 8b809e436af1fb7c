"""``-i`` takes the inventory a user has: the kind is told from the content (#14 part 2).

The Ansible inventories are the ones tests/data holds as Ansible's documentation writes them
(read by the real ``ansible-inventory``); the OpenSSH configs are shaped like public dotfiles.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinmgr.errors import InventoryError
from pinmgr.inventory import detect, load_with_problems
from pinmgr.inventory.detect import InventoryKind

DATA = Path(__file__).resolve().parents[2] / "data"
ANSIBLE = DATA / "ansible"
needs_ansible = pytest.mark.skipif(
    shutil.which("ansible-inventory") is None
    and not (Path(__import__("sys").executable).parent / "ansible-inventory").exists(),
    reason="ansible-core not installed (pip install 'pinmgr[ansible]')",
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (ANSIBLE / "docs" / "hosts.ini", InventoryKind.ANSIBLE_INI),
        (ANSIBLE / "fleet-ini" / "hosts.ini", InventoryKind.ANSIBLE_INI),
        (ANSIBLE / "docs" / "hosts.yml", InventoryKind.ANSIBLE_YAML),
        (ANSIBLE / "fleet-yaml" / "hosts.yml", InventoryKind.ANSIBLE_YAML),
        (ANSIBLE / "dir-inventory" / "inventory", InventoryKind.ANSIBLE_DIR),
        (ANSIBLE / "script" / "inventory.py", InventoryKind.ANSIBLE_SCRIPT),
        (DATA / "inventory" / "ssh" / "config", InventoryKind.SSH_CONFIG),
        (DATA / "ssh_config" / "aws-realistic.conf", InventoryKind.SSH_CONFIG),
        (DATA / "ssh_config" / "bastions.conf", InventoryKind.SSH_CONFIG),
        (Path(__file__).resolve().parents[3] / "pins" / "inventory.toml", InventoryKind.NATIVE),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v.value,
)
def test_kind_from_content(path: Path, kind: InventoryKind) -> None:
    assert detect.kind_of(path)[0] is kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[web]\nweb1 ansible_host=10.0.0.5\n", InventoryKind.ANSIBLE_INI),
        ("web1 ansible_host=10.0.0.5\n", InventoryKind.ANSIBLE_INI),
        ("# c\n---\nall:\n  hosts:\n", InventoryKind.ANSIBLE_YAML),
        ("Host web1\n  HostName 10.0.0.5\n", InventoryKind.SSH_CONFIG),
        ("schema = 1\n[environments.x.hosts.y]\n", InventoryKind.NATIVE),
        ("schema = 1\n[environments.x.hosts.y\n", InventoryKind.NATIVE),  # broken: TOML's error
        ("", InventoryKind.NATIVE),
    ],
)
def test_kind_of_text(text: str, kind: InventoryKind) -> None:
    assert detect.kind_of_text(text) is kind


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_kind_of_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(detect.kind_of_text(text), InventoryKind)


def test_valid_toml_is_native_whatever_its_first_line(tmp_path: Path) -> None:
    looks_ssh = tmp_path / "looks-ssh.toml"
    looks_ssh.write_text("hostname = 'x'\n")  # ssh_config would take it too; TOML wins
    assert detect.kind_of(looks_ssh)[0] is InventoryKind.NATIVE
    inv = tmp_path / "inv.toml"
    inv.write_text('[environments.local.hosts.localhost]\ntransport = "local"\nroles = ["app"]\n')
    with pytest.raises(InventoryError) as caught:  # native, so the schema line is asked for
        load_with_problems(inv)
    assert "schema" in caught.value.message


def test_broken_toml_names_the_kind_it_was_read_as(tmp_path: Path) -> None:
    inv = tmp_path / "inv.toml"
    inv.write_text("schema = 1\n[environments.local.hosts.localhost]\nroles = [\n")
    with pytest.raises(InventoryError) as caught:
        load_with_problems(inv)
    assert caught.value.message.startswith("read as a pinmgr TOML inventory: ")
    assert caught.value.location is not None and caught.value.location.file == str(inv)


@needs_ansible
def test_an_ansible_ini_as_i_loads_roles_from_groups(tmp_path: Path) -> None:
    """Before #14 this file was parsed as TOML: ``Expected '=' after a key``."""
    loaded = load_with_problems(ANSIBLE / "docs" / "hosts.ini")
    roles = {h.name: h.roles for h in loaded.inventory.hosts}
    envs = {h.env for h in loaded.inventory.hosts}
    assert roles["foo.example.com"] == ("webservers",)
    assert roles["one.example.com"] == ("dbservers",)
    assert envs == {detect.ANSIBLE_DEFAULT_ENV}
    # mail.example.com is in no group: left out with why, as for an Ansible [[sources]] entry
    assert [p.host for p in loaded.problems] == ["mail.example.com"]


@needs_ansible
def test_an_ansible_inventory_that_fails_says_it_was_read_as_one(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.ini"
    bad.write_text("[web]\nweb1 ansible_host=10.0.0.5\n[web:children\n")
    with pytest.raises(InventoryError) as caught:
        load_with_problems(bad)
    assert caught.value.message.startswith(
        "read as Ansible inventory (INI) (detected from its content): ansible-inventory"
    )


def test_an_openssh_config_as_i_gives_its_concrete_hosts(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text("Host web1\n  HostName 10.0.0.5\n  User deploy\nHost *\n  Port 2222\n")
    hosts = load_with_problems(cfg, ssh_config=str(cfg)).inventory.hosts
    assert [(h.name, h.env, h.roles) for h in hosts] == [("web1", "ssh", ("app",))]
    assert hosts[0].route is not None and hosts[0].route.target.port == 2222
