from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.errors import InventoryError
from pinmgr.inventory import ssh_config
from pinmgr.model import Host, Location, TransportKind

ALIASES = ["web-1", "web-2", "db-1", "legacy-app", "bastion", "x.internal", "bad.internal", "zz"]


def _ssh_g(config: Path, alias: str) -> dict[str, list[str]]:
    """What the real OpenSSH client makes of ``alias`` (``ssh -G``): the oracle."""
    out = subprocess.run(
        ["ssh", "-G", "-F", str(config), alias],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key, []).append(value)
    return found


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client (ssh -G)")
@pytest.mark.parametrize("alias", ALIASES)
def test_resolve_agrees_with_ssh_G(ssh_home: Path, alias: str) -> None:
    config = ssh_home / ".ssh" / "config"
    want = _ssh_g(config, alias)
    got = ssh_config.resolve(Host(alias, "production", ("app",)), config)
    assert got.address == want["hostname"][0]
    assert got.user == want["user"][0]
    assert (got.port or 22) == int(want["port"][0])
    assert got.key_file == str(Path(want["identityfile"][0]).expanduser())
    assert got.proxy_jump == (want["proxyjump"][0] if "proxyjump" in want else None)


def test_resolve_values_from_config(ssh_home: Path) -> None:
    config = ssh_home / ".ssh" / "config"
    db = ssh_config.resolve(Host("db-1", "production", ("db",)), config)
    assert db.address == "10.1.0.7"
    assert db.user == "postgres"
    assert db.port == 2200
    assert db.key_file == str(ssh_home / ".ssh" / "id_db")
    # The jump spec is kept as written: several hops, user and port included.
    assert db.proxy_jump == "ops@bastion.example.com:2022,inner.example.com"
    # Found only through `Include config.d/*.conf`; its `ProxyJump none` means no jump.
    legacy = ssh_config.resolve(Host("legacy-app", "production", ("app",)), config)
    assert (legacy.address, legacy.port, legacy.proxy_jump) == ("192.0.2.10", 2222, None)


def test_address_is_the_alias_looked_up(ssh_home: Path) -> None:
    host = Host("frontend", "staging", ("app",), address="web-2")
    got = ssh_config.resolve(host, ssh_home / ".ssh" / "config")
    assert got.name == "frontend"
    assert got.address == "web-2.prod.example.com"
    assert got.proxy_jump == "bastion"


def test_explicit_inventory_values_win(ssh_home: Path) -> None:
    host = Host(
        "db-1", "production", ("db",), user="admin", port=22, key_file="/k", proxy_jump="j2"
    )
    got = ssh_config.resolve(host, ssh_home / ".ssh" / "config")
    assert (got.address, got.user, got.port, got.key_file, got.proxy_jump) == (
        "10.1.0.7",
        "admin",
        22,
        "/k",
        "j2",
    )


def test_local_hosts_are_not_resolved(ssh_home: Path) -> None:
    host = Host("web-1", "local", ("app",), transport=TransportKind.LOCAL)
    assert ssh_config.resolve(host, ssh_home / ".ssh" / "config") is host


def test_load_lists_concrete_hosts_matching_patterns(ssh_home: Path) -> None:
    where = Location("inventory.toml", 7)
    hosts = ssh_config.load(
        ssh_home / ".ssh" / "config",
        "production",
        {"web-*": "app", "db-*": ["db", "backup"], "legacy-*": "app"},
        source=where,
    ).hosts
    assert [(h.name, h.roles) for h in hosts] == [
        ("db-1", ("db", "backup")),
        ("legacy-app", ("app",)),
        ("web-1", ("app",)),
        ("web-2", ("app",)),
    ]
    assert {h.env for h in hosts} == {"production"}
    assert all(h.source == where for h in hosts)
    assert hosts[3].address == "web-2.prod.example.com"
    # bastion matches no pattern; "*.internal" and "*" are patterns, never hosts.


def test_first_matching_pattern_wins(ssh_home: Path) -> None:
    hosts = ssh_config.load(
        ssh_home / ".ssh" / "config", "p", {"web-1": "canary", "web-*": "app"}
    ).hosts
    assert [(h.name, h.roles) for h in hosts] == [("web-1", ("canary",)), ("web-2", ("app",))]


def test_bad_port_is_an_error(home: Path) -> None:
    config = home / ".ssh" / "config"
    config.write_text("Host odd\n  Port 99999\n")
    with pytest.raises(InventoryError, match="invalid Port '99999'") as caught:
        ssh_config.resolve(Host("odd", "e", ("app",)), config)
    assert caught.value.location == Location(str(config), 2, 3)


def test_unparsable_config_points_at_the_line(home: Path) -> None:
    config = home / ".ssh" / "config"
    config.write_text("Host a\n  HostName a.example.com\n  garbage\n")
    with pytest.raises(InventoryError) as caught:
        ssh_config.read(config)
    assert caught.value.location == Location(str(config), 3, 3)


def test_missing_config_is_an_error(home: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read OpenSSH config"):
        ssh_config.read(home / "nope")


def test_include_cycle_is_bounded(home: Path) -> None:
    config = home / ".ssh" / "config"
    config.write_text("Include config\nHost a\n")
    with pytest.raises(InventoryError, match="nested deeper"):
        ssh_config.read(config)


def test_route_resolves_every_jump_host_like_ssh_J(home: Path) -> None:
    """A ProxyJump ``a,b``: ``a`` follows its own ProxyJump, ``b`` is resolved with -J a."""
    config = home / ".ssh" / "config"
    config.write_text(
        "Host outer\n  HostName 203.0.113.1\n  User ops\n"
        "Host mid\n  HostName 10.0.0.2\n  ProxyJump outer\n  IdentityFile ~/.ssh/mid\n"
        "Host far\n  ProxyJump mid,deploy@10.9.9.9:2200\n"
    )
    host = ssh_config.resolve(Host("far", "e", ("app",)), config)
    assert host.route is not None
    hops = [(h.alias, h.address, h.user, h.port) for h in host.route.jumps]
    user = host.route.target.user
    assert hops == [
        ("outer", "203.0.113.1", "ops", 22),
        ("mid", "10.0.0.2", user, 22),
        ("10.9.9.9", "10.9.9.9", "deploy", 2200),
    ]
    assert host.route.jumps[1].identity_files == (str(home / ".ssh" / "mid"),)
    assert host.route.config == str(config)


def test_jump_loops_are_host_problems(home: Path) -> None:
    config = home / ".ssh" / "config"
    config.write_text("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost *\n  ProxyJump gw\n")
    with pytest.raises(ssh_config.HostProblem, match="longer than"):
        ssh_config.resolve(Host("a", "e", ("app",)), config)
    # A host whose jump host is itself: OpenSSH stops with these words.
    with pytest.raises(ssh_config.HostProblem, match="jumphost loop via gw"):
        ssh_config.resolve(Host("other", "e", ("app",)), config)


def test_a_host_the_config_cannot_place_is_left_out_and_reported(home: Path) -> None:
    """OpenSSH refuses ``%n`` in HostName: that host is reported, the others still load."""
    config = home / ".ssh" / "config"
    config.write_text("Host good\n  HostName 10.0.0.1\nHost bad\n  HostName x-%n\n")
    where = Location("inventory.toml", 4)
    result = ssh_config.load(config, "e", {"*": "app"}, source=where)
    hosts, problems = result.hosts, result.problems
    assert [h.name for h in hosts] == ["good"]
    assert len(problems) == 1
    assert problems[0].host == "bad"
    assert problems[0].location == Location(str(config), 4, 3)  # the line that says why
    assert problems[0].message == "ssh_config host 'bad': unknown token %n in 'x-%n'"


def test_match_blocks_do_not_crash_the_source(home: Path) -> None:
    """The issue's crash: a Match block made paramiko's get_hostnames() raise KeyError."""
    config = home / ".ssh" / "config"
    config.write_text("Host a\n  HostName b\nMatch user x\n  Port 2\n")
    (host,) = ssh_config.load(config, "e", {"*": "app"}).hosts
    assert (host.name, host.address) == ("a", "b")


def test_dns_canonicalisation_is_a_host_problem_not_a_guess(home: Path) -> None:
    """ssh would try web.example.com in DNS: pinmgr cannot agree without it, so it says so;
    a name with more dots than CanonicalizeMaxDots (1) is not canonicalised by ssh either."""
    config = home / ".ssh" / "config"
    config.write_text(
        "CanonicalDomains example.com\nHost web\n  CanonicalizeHostname yes\n"
        "Host a.b.c\n  CanonicalizeHostname yes\n"
    )
    with pytest.raises(ssh_config.HostProblem, match="does not canonicalise") as caught:
        ssh_config.resolve(Host("web", "e", ("app",)), config)
    assert caught.value.location == Location(str(config), 3, 3)
    assert ssh_config.resolve(Host("a.b.c", "e", ("app",)), config).address == "a.b.c"
