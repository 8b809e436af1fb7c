from __future__ import annotations

import re
from pathlib import Path

import pytest

from pinmgr.errors import InventoryError
from pinmgr.inventory import native
from pinmgr.inventory._locate import locate
from pinmgr.inventory.native import SourceType
from pinmgr.model import Location, TransportKind

from .conftest import DATA

EXAMPLE = """\
schema = 1
[environments.local.hosts.localhost]
transport = "local"          # no SSH: this machine
roles = ["app"]
[environments.staging]       # env-wide defaults, inherited by its hosts
user = "deploy"
port = 22
key = "~/.ssh/id_ed25519"
[environments.staging.hosts.web1]
address = "10.0.0.5"
roles = ["app"]
pip = ["/srv/app/venv"]
[environments.staging.hosts.db1]
address = "db1.staging.example.com"
roles = ["db"]
proxy_jump = "bastion"
port = 2222
key = "keys/db"

[[sources]]
type = "ansible"
inventory = "ansible/hosts.ini"
[[sources]]
type = "vagrant"
dir = "."
env = "vagrant"
roles = { default = "app", db = "db" }
[[sources]]
type = "ssh_config"
path = "~/.ssh/config"
env = "production"
hosts = { "web-*" = "app", "db-*" = "db" }
"""


def test_example_from_the_docs(home: Path) -> None:
    inv = native.parse(EXAMPLE, "/srv/pins/inventory.toml")
    assert [e.name for e in inv.environments] == ["local", "staging"]
    (local,) = inv.environments[0].hosts
    assert (local.name, local.transport, local.roles) == (
        "localhost",
        TransportKind.LOCAL,
        ("app",),
    )
    assert local.source == Location("/srv/pins/inventory.toml", 2)
    web1, db1 = inv.environments[1].hosts
    # Environment defaults are inherited ...
    assert (web1.user, web1.port, web1.key_file) == ("deploy", 22, str(home / ".ssh/id_ed25519"))
    assert web1.pip == ("/srv/app/venv",)
    assert web1.address == "10.0.0.5"
    # ... and a host's own values win; relative key paths are taken from the file's directory.
    assert (db1.user, db1.port, db1.key_file) == ("deploy", 2222, "/srv/pins/keys/db")
    assert db1.proxy_jump == "bastion"
    assert db1.source == Location("/srv/pins/inventory.toml", 13)

    ansible, vagrant, ssh = inv.sources
    assert (ansible.type, ansible.target) == (SourceType.ANSIBLE, "/srv/pins/ansible/hosts.ini")
    assert ansible.location == Location("/srv/pins/inventory.toml", 20)
    assert (vagrant.type, vagrant.target, vagrant.env) == (
        SourceType.VAGRANT,
        "/srv/pins",
        "vagrant",
    )
    assert vagrant.roles == (("default", ("app",)), ("db", ("db",)))
    assert (ssh.type, ssh.env, ssh.target) == (
        SourceType.SSH_CONFIG,
        "production",
        str(home / ".ssh/config"),
    )
    assert ssh.roles == (("web-*", ("app",)), ("db-*", ("db",)))


def test_local_host_ignores_inherited_ssh_settings() -> None:
    text = (
        'schema = 1\n[environments.e]\nuser = "u"\n'
        '[environments.e.hosts.me]\ntransport = "local"\nroles = ["app"]\n'
    )
    (env,) = native.parse(text, "i.toml").environments
    assert env.hosts[0].user is None


def test_ansible_host_list_is_not_a_path() -> None:
    text = (
        'schema = 1\n[[sources]]\ntype = "ansible"\n'
        'inventory = "web1,web2,"\nrole_groups = ["web"]\n'
    )
    (spec,) = native.parse(text, "/x/i.toml").sources
    assert spec.target == "web1,web2,"
    assert spec.role_groups == ("web",)


def _expected_marks(path: Path) -> list[str]:
    """``<- LINE:COL`` marks written beside each bad line of the sample."""
    return re.findall(r"<- (\d+:\d+)", path.read_text())


def test_every_problem_reported_with_its_location() -> None:
    path = DATA / "native" / "broken.toml"
    with pytest.raises(InventoryError) as caught:
        native.load(path)
    got = [f"{p.location.line}:{p.location.col}" for p in caught.value.problems if p.location]
    assert got == _expected_marks(path)
    messages = [p.message for p in caught.value.problems]
    assert "unknown key 'bogus'" in messages[0]
    assert any("transport must be one of 'local', 'ssh', 'openssh'" in m for m in messages)
    assert any("'user' makes no sense for a host with transport 'local'" in m for m in messages)
    assert str(caught.value).startswith(f"{path}:3:1: unknown key 'bogus'")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("[environments]\n", "1:1", "missing 'schema = 1'"),
        ("schema = 3\n", "1:1", "unsupported schema 3"),
        ("schema = 1\nenvironments = 3\n", "2:1", "environments must be a table"),
        ("schema = 1\nsources = 3\n", "2:1", "sources must be an array"),
        (
            "schema = 1\n[environments.e.hosts.h]\nroles = 'app'\nport = 0\n",
            "4:1",
            "port must be an integer 1-65535",
        ),
        (
            "schema = 1\n[[sources]]\ntype = 'vagrant'\nroles = 'app'\n",
            "4:1",
            "roles must be a table",
        ),
    ],
)
def test_single_problems(text: str, where: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        native.parse(text, "i.toml")
    assert str(caught.value).startswith(f"i.toml:{where}: {message}")


def test_toml_syntax_error_has_line_and_column() -> None:
    with pytest.raises(InventoryError) as caught:
        native.parse("schema = 1\n[environments.e\nx = 1\n", "i.toml")
    assert caught.value.location is not None
    assert caught.value.location.line == 2


def test_missing_file() -> None:
    with pytest.raises(InventoryError, match="cannot read inventory"):
        native.load("/nonexistent/inventory.toml")


def test_locate_skips_strings_comments_and_multiline_values() -> None:
    text = '''\
a = """
[not.a.table]
b = 1
"""
c = [
  "]", # x = 1
  2,
]
d = 'it''s'
# [commented.table]
[t."q.uoted" . x]   # comment [x]
   e.f = { g = 1 }
[[arr]]
h = 1
[[arr]]
  h = 2
[arr.sub]
i = 3
'''
    where = locate(text, "f.toml")
    assert where.at("a") == Location("f.toml", 1, 1)
    assert where.at("c") == Location("f.toml", 5, 1)
    assert where.at("d") == Location("f.toml", 9, 1)
    assert "b" not in {p[0] for p in where.positions}
    assert ("not",) not in where.positions
    assert ("commented",) not in where.positions
    assert where.at("t", "q.uoted", "x") == Location("f.toml", 11, 1)
    assert where.at("t", "q.uoted", "x", "e", "f") == Location("f.toml", 12, 4)
    # Inline-table members fall back to the key that holds them.
    assert where.at("t", "q.uoted", "x", "e", "f", "g") == Location("f.toml", 12, 4)
    assert where.at("arr", 0, "h") == Location("f.toml", 14, 1)
    assert where.at("arr", 1, "h") == Location("f.toml", 16, 3)
    assert where.at("arr", 1, "sub", "i") == Location("f.toml", 18, 1)
    assert where.at("nowhere") == Location("f.toml", 1, 1)


def test_image_and_rootfs_hosts_take_a_path_from_the_inventory_dir() -> None:
    text = (
        "schema = 1\n"
        '[environments.golden.hosts.base]\ntransport = "rootfs"\npath = "trees/base"\n'
        'roles = ["app"]\n'
        '[environments.images.hosts.app]\ntransport = "image"\npath = "/srv/app.tar"\n'
        'roles = ["app"]\n'
    )
    inv = native.parse(text, "/x/inventory.toml")
    golden, images = inv.environments
    assert golden.hosts[0].transport is TransportKind.ROOTFS
    assert golden.hosts[0].path == "/x/trees/base"
    assert images.hosts[0].transport is TransportKind.IMAGE
    assert images.hosts[0].path == "/srv/app.tar"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('transport = "image"\nroles = ["app"]\n', "host 'h' needs path = <image file or"),
        ('transport = "rootfs"\nroles = ["app"]\n', "host 'h' needs path = <root dir>"),
        (
            'transport = "image"\npath = "a.tar"\naddress = "10.0.0.1"\nroles = ["app"]\n',
            "'address' makes no sense for a host with transport 'image'",
        ),
        ('path = "a.tar"\nroles = ["app"]\n', "'path' is for hosts with transport 'image'"),
    ],
)
def test_tree_host_problems(table: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        native.parse(f"schema = 1\n[environments.e.hosts.h]\n{table}", "/x/i.toml")
    assert any(message in p.message for p in caught.value.problems), caught.value.problems
