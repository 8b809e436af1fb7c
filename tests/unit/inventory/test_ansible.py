from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pinmgr.errors import InventoryError
from pinmgr.inventory import ansible
from pinmgr.inventory.result import SourceResult
from pinmgr.model import Host, Location, TransportKind

from .conftest import DATA

HOSTS_INI = DATA / "ansible" / "hosts.ini"
# Captured with `ansible-inventory -i hosts.ini --list` (ansible-core 2.19) from hosts.ini.
LIST_JSON = DATA / "ansible" / "list.json"
WHERE = Location("pins/inventory.toml", 12)
needs_ansible = pytest.mark.skipif(
    ansible.find_executable() is None, reason="needs ansible-inventory (pip install ansible-core)"
)


def _captured() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LIST_JSON.read_text())
    return data


def _by_name(result: SourceResult) -> dict[str, Host]:
    assert result.problems == ()
    return {h.name: h for h in result.hosts}


@pytest.mark.parametrize(
    ("args", "jump"),
    [
        ("-J bastion", "bastion"),
        ("-Jops@bastion:2200", "ops@bastion:2200"),
        ("-o ProxyJump=a,b", "a,b"),
        ("-o 'ProxyJump b1'", "b1"),
        ("-oProxyJump=b2 -o StrictHostKeyChecking=no", "b2"),
        ("-o proxyjump = b3", None),  # split over several words: not one -o option
        ("-o ServerAliveInterval=5", None),
        ("-o ProxyCommand='ssh -W %h:%p -q bastion'", "bastion"),
        (
            '-o ProxyCommand="ssh -p 2200 -l ops -W %h:%p bastion.example.com"',
            "ops@bastion.example.com:2200",
        ),
        ("-o 'ProxyCommand=/usr/bin/ssh -W [%h]:%p -i k jump@b2'", "jump@b2"),
        ("-o ProxyCommand='nc -X connect -x proxy:3128 %h %p'", None),
        ("-o 'unbalanced", None),
        # As ssh -G says: the first proxy option wins.
        ("-J first -o ProxyJump=second", "first"),
        ("-o ProxyJump=first -o ProxyJump=second", "first"),
        ("-o ProxyCommand='nc %h %p' -o ProxyJump=later", None),
        ("", None),
    ],
)
def test_proxy_jump_from_args(args: str, jump: str | None) -> None:
    assert ansible.proxy_jump_from_args(args) == jump


def test_parse_captured_list_mapping() -> None:
    hosts = _by_name(ansible.parse_list(_captured(), source=WHERE))
    assert sorted(hosts) == [
        "db1.prod.example.com",
        "db1.staging.example.com",
        "localhost",
        "mon1.example.com",
        "web1.prod.example.com",
        "web1.staging.example.com",
        "web2.staging.example.com",
    ]
    web1 = hosts["web1.staging.example.com"]
    # env from the "staging" group through its child group "web", role from "web".
    assert (web1.env, web1.roles) == ("staging", ("web",))
    assert (web1.address, web1.user, web1.port) == ("10.0.0.5", "deploy", None)
    web2 = hosts["web2.staging.example.com"]
    assert web2.port == 2222
    assert web2.key_file is not None and web2.key_file.endswith("/.ssh/staging_ed25519")
    assert not web2.key_file.startswith("~")
    db_prod = hosts["db1.prod.example.com"]
    assert (db_prod.env, db_prod.roles) == ("production", ("db",))
    assert db_prod.proxy_jump == "ops@bastion.prod.example.com:2200"
    db_staging = hosts["db1.staging.example.com"]
    assert db_staging.env == "staging"
    assert set(db_staging.roles) == {"db", "db_staging"}
    assert db_staging.proxy_jump == "bastion.example.com"
    # pinmgr_env / pinmgr_roles (comma string) win over groups.
    mon = hosts["mon1.example.com"]
    assert (mon.env, mon.roles) == ("qa", ("monitor", "app"))
    # ansible_connection=local -> no SSH; group vars pinmgr_env/pinmgr_roles (a list).
    local = hosts["localhost"]
    assert (local.transport, local.env, local.roles) == (TransportKind.LOCAL, "local", ("app",))
    assert all(h.source == WHERE for h in hosts.values())


def test_role_groups_restrict_roles() -> None:
    hosts = _by_name(
        ansible.parse_list(_captured(), source=WHERE, role_groups=["web", "db", "web_prod"])
    )
    assert hosts["db1.staging.example.com"].roles == ("db",)


def _inventory(**groups: Any) -> dict[str, Any]:
    meta = groups.pop("_meta", {"hostvars": {}})
    return {"_meta": meta, "all": {"children": ["ungrouped", *groups]}, **groups}


def test_env_name_from_caller_and_default_env() -> None:
    data = _inventory(perf={"children": ["web"]}, web={"hosts": ["w1"]}, db={"hosts": ["d1"]})
    hosts = _by_name(
        ansible.parse_list(data, source=WHERE, env_names=["perf"], default_env="staging")
    )
    assert (hosts["w1"].env, hosts["w1"].roles) == ("perf", ("web",))
    assert (hosts["d1"].env, hosts["d1"].roles) == ("staging", ("db",))


def test_each_host_left_out_once_with_every_reason_and_the_others_load() -> None:
    data = _inventory(
        _meta={
            "hostvars": {
                "weird": {"ansible_connection": "winrm", "pinmgr_env": "dev"},
                "badport": {"ansible_port": "ssh", "pinmgr_env": "dev"},
                "skipped": {"pinmgr_skip": True},
                "badroles": {"pinmgr_env": "dev", "pinmgr_roles": 7},
                "twice": {"ansible_port": "x", "pinmgr_roles": 7, "pinmgr_env": "dev"},
                "templated": {"ansible_host": "{{ inventory_hostname }}.lan", "pinmgr_env": "dev"},
                "fine": {"pinmgr_env": "dev", "ansible_port": "2201"},
            }
        },
        staging={"hosts": ["both", "norole"]},
        production={"hosts": ["both"]},
        web={
            "hosts": [
                "both",
                "weird",
                "badport",
                "badroles",
                "nowhere",
                "skipped",
                "twice",
                "templated",
                "fine",
            ]
        },
    )
    result = ansible.parse_list(data, source=WHERE)
    (fine,) = result.hosts
    assert (fine.name, fine.env, fine.roles, fine.port) == ("fine", "dev", ("web",), 2201)
    assert [p.host for p in result.problems] == sorted(p.host for p in result.problems)
    messages = [p.message for p in result.problems]
    assert messages == [
        "ansible host 'badport': ansible_port 'ssh' is not a port (1-65535)",
        "ansible host 'badroles': pinmgr_roles must be a list or a comma-separated string",
        "ansible host 'both': in several environment groups (production, staging); set pinmgr_env",
        "ansible host 'norole': in no role group; put it in one or set pinmgr_roles",
        "ansible host 'nowhere': in no environment group "
        "(dev, local, prod, production, qa, staging, test, vagrant); set pinmgr_env or pinmgr_skip",
        "ansible host 'templated': ansible_host '{{ inventory_hostname }}.lan' is a Jinja "
        "template, which pinmgr does not evaluate; write the value itself",
        "ansible host 'twice': pinmgr_roles must be a list or a comma-separated string; "
        "ansible_port 'x' is not a port (1-65535)",
        "ansible host 'weird': connection 'winrm' is not supported (local or ssh); "
        "set pinmgr_skip to leave it out",
    ]
    # No locator (captured JSON): every problem points at the [[sources]] entry.
    assert all(p.location == WHERE for p in result.problems)


def test_problems_located_by_the_locator_with_the_variable_they_are_about() -> None:
    data = _inventory(
        _meta={"hostvars": {"p": {"ansible_port": "x", "pinmgr_env": "dev"}}},
        web={"hosts": ["p", "r"]},
        staging={"hosts": ["r"]},
        production={"hosts": ["r"]},
    )
    asked: list[tuple[str, str | None, tuple[str, ...]]] = []

    def locate(host: str, var: str | None, groups: Sequence[str]) -> Location | None:
        asked.append((host, var, tuple(groups)))
        return Location("hosts.ini", 7) if host == "p" else None

    result = ansible.parse_list(data, source=WHERE, locate=locate)
    assert asked == [
        ("p", "ansible_port", ("web", "all")),
        ("r", None, ("web", "all", "staging", "production")),
    ]
    assert [(p.host, p.location) for p in result.problems] == [
        ("p", Location("hosts.ini", 7)),
        ("r", WHERE),  # the locator did not know: the [[sources]] entry
    ]


@needs_ansible
def test_runner_on_real_ini_inventory() -> None:
    result = ansible.load(str(HOSTS_INI), source=WHERE)
    # The real run and the captured JSON agree (same ansible-inventory, same file).
    assert result == ansible.parse_list(_captured(), source=WHERE, base_dir=HOSTS_INI.parent)
    assert _by_name(result)["web1.staging.example.com"].address == "10.0.0.5"


@needs_ansible
def test_runner_reads_yaml_and_group_vars(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "dbs.yml").write_text("pinmgr_roles: [db]\nansible_user: pg\n")
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    staging:\n      children:\n        dbs:\n"
        "          hosts:\n            db7:\n              ansible_host: 10.9.9.7\n"
    )
    (db7,) = ansible.load(str(tmp_path / "hosts.yml"), source=WHERE).hosts
    assert (db7.name, db7.env, db7.roles, db7.user, db7.address) == (
        "db7",
        "staging",
        ("db",),
        "pg",
        "10.9.9.7",
    )


@needs_ansible
def test_runner_host_list_argument() -> None:
    data = ansible.run("web1,web2,", source=WHERE)
    assert sorted(data["ungrouped"]["hosts"]) == ["web1", "web2"]


@needs_ansible
def test_runner_failure_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ini"
    bad.write_text("[web\nhost1\n")
    with pytest.raises(InventoryError) as caught:
        ansible.load(str(bad), source=WHERE)
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"ansible-inventory -i {bad} failed (exit 1): ")
    assert str(bad) in message.split(": ", 1)[1]
    assert caught.value.location == WHERE


def test_missing_inventory_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        ansible.run(str(tmp_path / "nope.ini"), source=WHERE, executable="/bin/true")


def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found"):
        ansible.run(str(HOSTS_INI), source=WHERE, executable=str(tmp_path / "ansible-inventory"))


def test_non_json_output(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="printed no JSON"):
        ansible.run(str(HOSTS_INI), source=WHERE, executable="/bin/echo")


@needs_ansible
def test_a_bad_variable_is_located_where_it_is_set(tmp_path: Path) -> None:
    """host_vars/ file, own line, group_vars/ file, [group:vars]: where Ansible took it from."""
    ini = tmp_path / "hosts.ini"
    ini.write_text(
        "[web]\n"  # 1
        "w1\n"  # 2: ansible_port from [web:vars]
        "w2 ansible_port=inline\n"  # 3: its own value wins over the group's
        "w3\n"  # 4: host_vars/w3.yml
        "[db]\n"  # 5
        "d1\n"  # 6: group_vars/db.yml
        "[web:vars]\n"  # 7
        "ansible_port=fromgroup\n"  # 8
        "[production:children]\nweb\ndb\n"
    )
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "w3.yml").write_text("---\nansible_user: x\nansible_port: hv\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db.yml").write_text("---\n# the db port\nansible_port: gv\n")
    result = ansible.load(str(ini), source=WHERE)
    assert result.hosts == ()
    where = {
        p.host: (Path(p.location.file).name, p.location.line) for p in result.problems if p.location
    }
    assert where == {
        "w1": ("hosts.ini", 8),
        "w2": ("hosts.ini", 3),
        "w3": ("w3.yml", 3),
        "d1": ("db.yml", 3),
    }
