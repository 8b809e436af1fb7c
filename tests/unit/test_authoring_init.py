"""Starting from nothing (#14 part 1): ``plan_init``, ``lock`` into a missing lockfile, the key
package set, and ``lock`` looking only at what the host can be checked in. No hosts: snapshots
are built by hand (the CLI walk on this machine is tests/functional/test_first_run.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pinmgr import authoring
from pinmgr.authoring import Selection, lock_release
from pinmgr.errors import UsageError, WriteError
from pinmgr.inventory import native
from pinmgr.inventory.template import native_text
from pinmgr.lockfile.keyset import KEY_PACKAGES, is_key
from pinmgr.lockfile.load import load
from pinmgr.model import Ecosystem, Host, HostSnapshot, InstalledPackage, OsRelease, TransportKind

ROOT = Path(__file__).resolve().parents[2]
DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP


def debian_host(*extra: InstalledPackage) -> HostSnapshot:
    pkgs = (
        InstalledPackage(DEB, "dpkg", "1.21.22", "amd64"),
        InstalledPackage(DEB, "bash", "5.2.15-2+b8", "amd64"),
        InstalledPackage(DEB, "libssl3:amd64", "3.0.19-1~deb12u2", "amd64"),
        InstalledPackage(DEB, "libssl3:i386", "3.0.19-1~deb12u2", "i386"),
        InstalledPackage(DEB, "libssl-dev", "3.0.19-1~deb12u2", "amd64"),
        InstalledPackage(DEB, "vim", "2:9.0.1378-2", "amd64"),
        InstalledPackage(DEB, "nginx", "1.22.1-9+deb12u1", "amd64"),
        *extra,
    )
    return HostSnapshot(
        Host("localhost", "local", ("app",), TransportKind.LOCAL), OsRelease("debian", "12"), pkgs
    )


def test_lock_into_a_missing_lockfile_creates_it(tmp_path: Path) -> None:
    """Before #14: ``fresh.toml: no such lockfile``."""
    path = tmp_path / "fresh.toml"
    change = authoring.plan_lock(path, debian_host(), "app", Selection.LISTED, ["bash", "libssl3"])
    assert change.created and change.diff().startswith("--- /dev/null\n+++ b/fresh.toml\n")
    assert not path.exists()  # planning writes nothing
    authoring.apply(change)
    lock = load(path)
    assert {(p.package, p.spec) for p in lock.pins} == {
        ("bash", "5.2.15-2+b8"),
        ("libssl3", "3.0.19-1~deb12u2"),  # the native arch, unqualified
    }
    assert "pinmgr validate" in path.read_text()


def test_creating_refuses_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "fresh.toml"
    change = authoring.plan_lock(path, debian_host(), "app", Selection.LISTED, ["bash"])
    path.write_text("schema = 1\n# someone else's\n")
    with pytest.raises(WriteError, match="created meanwhile"):
        authoring.apply(change)
    assert path.read_text() == "schema = 1\n# someone else's\n"


def test_lock_key_packages_skips_ecosystems_the_host_has_not(tmp_path: Path) -> None:
    """Before #14 a Debian host was told rocky-9's rpm pins and the pip pins were 'not installed
    on localhost'; only deb pins concern it (pip needs an interpreter listed)."""
    path = tmp_path / "pinmgr.toml"
    path.write_text(
        "schema = 1\n"
        '[roles.app."debian-12".deb]\nbash = "5.2.15-2+b7"\nnginx = "1.22.1-9"\n'
        'curl = "7.88.1-10"\n'
        '[roles.app."debian-12".pip]\nrequests = "2.31.0"\n'
        '[roles.app."rocky-9".rpm]\nnginx = "1.20.1-14.el9"\nopenssl = "3.0.7-27.el9"\n'
    )
    change = authoring.plan_lock(path, debian_host(), "app", Selection.KEY)
    assert change.notes == ("not installed on localhost: curl (deb)",)
    assert 'bash = "5.2.15-2+b8"' in change.after and 'nginx = "1.22.1-9+deb12u1"' in change.after


@pytest.mark.parametrize(
    ("os_id", "version", "declared", "key"),
    [
        ("debian", "12", (), "debian-12"),
        ("ubuntu", "22.04", (), "ubuntu-22.04"),
        ("rocky", "9.3", (), "rocky-9"),
        ("almalinux", "9.4", (), "almalinux-9"),
        ("rocky", "9.3", ("rocky-9.3",), "rocky-9.3"),  # a declared table wins
        ("fedora", "40", (), "fedora-40"),
    ],
)
def test_lock_release(os_id: str, version: str, declared: tuple[str, ...], key: str) -> None:
    assert lock_release(OsRelease(os_id, version), declared) == key


def test_init_pins_the_installed_key_packages_only(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    change = authoring.plan_init(path, [("app", debian_host())])
    authoring.apply(change)
    pins = {(p.role, p.os_release, p.package): p.spec for p in load(path).pins}
    assert pins == {
        ("app", "debian-12", "bash"): "5.2.15-2+b8",
        ("app", "debian-12", "libssl3"): "3.0.19-1~deb12u2",
        ("app", "debian-12", "nginx"): "1.22.1-9+deb12u1",
    }  # not vim, not libssl-dev, not the foreign libssl3:i386, not dpkg
    assert change.notes == ("role app, debian-12: 3 key packages of localhost pinned (deb)",)


def test_init_refuses_an_existing_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text("schema = 1\n")
    with pytest.raises(UsageError, match="exists; not overwriting it"):
        authoring.plan_init(path, [("app", debian_host())])
    forced = authoring.plan_init(path, [("app", debian_host())], force=True)
    assert not forced.created and forced.before == b"schema = 1\n"
    authoring.apply(forced)  # through write_atomic, refusing a change since it was read
    assert len(load(path).pins) == 3


def test_init_refuses_a_host_version_the_lockfile_may_not_hold(tmp_path: Path) -> None:
    bad = InstalledPackage(DEB, "openssl", "3.0\n[roles.x]", "amd64")
    with pytest.raises(Exception, match="openssl"):
        authoring.plan_init(tmp_path / "pinmgr.toml", [("app", debian_host(bad))])
    assert not (tmp_path / "pinmgr.toml").exists()


def test_key_set_is_documented_exactly() -> None:
    doc = (ROOT / "docs" / "quickstart.md").read_text()
    rows = dict(re.findall(r"^\| ([A-Za-z ,]+) \| (`.*`) \|$", doc, re.M))
    assert {g: tuple(re.findall(r"`([^`]+)`", v)) for g, v in rows.items()} == dict(KEY_PACKAGES)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("libssl3", True),
        ("libssl1.1", True),
        ("libssl-dev", False),
        ("postgresql-15", True),
        ("postgresql-client-15", False),
        ("python3.11", True),
        ("python3.11-venv", False),
        ("openjdk-17-jre-headless", True),
        ("vim", False),
    ],
)
def test_key_patterns(name: str, key: bool) -> None:
    assert is_key(name) is key


def test_inventory_template_loads_as_written(tmp_path: Path) -> None:
    hosts = [
        Host("localhost", "local", ("app",), TransportKind.LOCAL),
        Host("db.1@x:y", "prod-eu", ("db", "app"), address="10.0.0.5", user="deploy", port=2222,
             key_file="/k/id \"quoted\"", proxy_jump="ops@gw:2200", pip=("/srv/venv",)),
    ]  # fmt: skip
    path = tmp_path / "inventory.toml"
    path.write_text(native_text(hosts, ansible_inventory="../ansible/hosts.ini"))
    parsed = native.load(path)
    got = [h for e in parsed.environments for h in e.hosts]
    assert [(h.name, h.env, h.roles, h.transport) for h in got] == [
        (h.name, h.env, h.roles, h.transport) for h in hosts
    ]
    assert (got[1].key_file, got[1].port, got[1].pip) == ('/k/id "quoted"', 2222, ("/srv/venv",))
    target = Path(parsed.sources[0].target)
    assert target.resolve() == (tmp_path.parent / "ansible" / "hosts.ini").resolve()
