from __future__ import annotations

from pathlib import Path

import pytest

from pinmgr.inventory.ansible_lines import (
    expand,
    group_var_location,
    host_location,
    hosts_with_vars,
    read_lines,
    sets_inline,
    var_location,
)
from pinmgr.model import Location

DATA = Path(__file__).resolve().parents[2] / "data" / "ansible"


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("www[01:03].example.com", {"www01.example.com", "www02.example.com", "www03.example.com"}),
        ("db-[a:c]", {"db-a", "db-b", "db-c"}),
        ("n[1:10:4]", {"n1", "n5", "n9"}),
        ("r[1:2]-[x:y]", {"r1-x", "r1-y", "r2-x", "r2-y"}),
        ("plain.example.com", {"plain.example.com"}),
        ("odd[a:10]", {"odd[a:10]"}),  # not a range Ansible expands: the name as written
    ],
)
def test_expand_as_ansible_does(pattern: str, names: set[str]) -> None:
    assert expand(pattern) == names


def test_huge_ranges_are_not_expanded() -> None:
    assert expand("h[0:999999]-[0:999]") == set()


@pytest.mark.parametrize(
    ("inventory", "host", "where"),
    [
        ("docs/hosts.ini", "mail.example.com", ("docs/hosts.ini", 1, 1)),
        ("docs/hosts.ini", "three.example.com", ("docs/hosts.ini", 10, 1)),
        ("docs/hosts.yml", "bar.example.com", ("docs/hosts.yml", 7, 5)),
        ("fleet-ini/hosts.ini", "www42.example.com", ("fleet-ini/hosts.ini", 6, 1)),
        ("fleet-ini/hosts.ini", "foo.example.com", ("fleet-ini/hosts.ini", 7, 1)),  # host:port
        ("fleet-ini/hosts.ini", "db-e.example.com", ("fleet-ini/hosts.ini", 15, 1)),
        ("fleet-yaml/hosts.yml", "foo.example.com", ("fleet-yaml/hosts.yml", 13, 13)),
        ("fleet-yaml/hosts.yml", "db07.example.com", ("fleet-yaml/hosts.yml", 24, 13)),
        (
            "dir-inventory/inventory",
            "pg1.example.com",
            ("dir-inventory/inventory/02-more.yml", 5, 9),
        ),
    ],
)
def test_host_location(inventory: str, host: str, where: tuple[str, int, int]) -> None:
    file, line, col = where
    assert host_location(str(DATA / inventory), host) == Location(str(DATA / file), line, col)


@pytest.mark.parametrize(
    ("inventory", "host"),
    [
        # Group names, variables and [group:vars] keys are not hosts.
        ("fleet-ini/hosts.ini", "webservers"),
        ("fleet-ini/hosts.ini", "ansible_ssh_private_key_file=keys/web_ed25519"),
        ("fleet-yaml/hosts.yml", "ansible_user"),
        ("fleet-yaml/hosts.yml", "webservers"),
        # An executable script and a host list have no lines.
        ("script/inventory.py", "s-web1"),
        ("web1,web2,", "web1"),
    ],
)
def test_no_location(inventory: str, host: str) -> None:
    target = inventory if "," in inventory else str(DATA / inventory)
    assert host_location(target, host) is None


def test_var_location_in_host_vars_file_and_directory() -> None:
    yaml_inv = str(DATA / "fleet-yaml" / "hosts.yml")
    assert var_location(yaml_inv, "web07.example.com", "ansible_port") == Location(
        str(DATA / "fleet-yaml" / "host_vars" / "web07.example.com.yml"), 3, 1
    )
    ini_inv = str(DATA / "fleet-ini" / "hosts.ini")
    assert var_location(ini_inv, "db-c.example.com", "ansible_user") == Location(
        str(DATA / "fleet-ini" / "host_vars" / "db-c.example.com" / "main.yml"), 2, 1
    )
    assert var_location(ini_inv, "db-c.example.com", "ansible_port") is None
    assert var_location(ini_inv, "www01.example.com", "ansible_port") is None


def test_group_var_location_nearest_group_first() -> None:
    ini_inv = str(DATA / "fleet-ini" / "hosts.ini")
    key = "ansible_ssh_private_key_file"
    # [webservers:vars] in the INI file itself.
    assert group_var_location(ini_inv, ["webservers", "production", "all"], key) == Location(
        ini_inv, 12, 1
    )
    # group_vars/dbservers.yml beside it.
    assert group_var_location(ini_inv, ["dbservers", "production", "all"], key) == Location(
        str(DATA / "fleet-ini" / "group_vars" / "dbservers.yml"), 2, 1
    )
    # group_vars/ inside a directory inventory, for the implicit group "all".
    dir_inv = str(DATA / "dir-inventory" / "inventory")
    assert group_var_location(dir_inv, ["app", "production", "all"], "ansible_user") == Location(
        str(DATA / "dir-inventory" / "inventory" / "group_vars" / "all.yml"), 2, 1
    )
    assert group_var_location(ini_inv, ["legacy", "staging", "all"], key) is None


def test_sets_inline_only_for_the_hosts_own_assignment() -> None:
    line = read_lines(str(DATA / "fleet-ini" / "hosts.ini"))[6]
    assert line == "foo.example.com:2222 ansible_user=deploy"
    assert sets_inline(line, "ansible_user")
    assert not sets_inline(line, "ansible_port")
    assert not sets_inline("ansible_user=x", "ansible_user")  # the name, not a variable
    assert read_lines(str(DATA / "script" / "inventory.py")) == []


def test_hosts_with_vars_lists_files_and_directories() -> None:
    assert hosts_with_vars(str(DATA / "fleet-ini" / "hosts.ini")) >= {
        "www07.example.com",
        "db-c.example.com",
    }
    assert hosts_with_vars(str(DATA / "docs" / "hosts.ini")) == frozenset()
    assert hosts_with_vars("a,b,") == frozenset()
