"""Available versions: the probe's optional sources section, its parsers, and the host query."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.collectors.available import (
    SECTION_APT,
    SECTION_RPM,
    parse_dnf_list,
    parse_madison,
    probe_lines,
    query_for,
)
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.model import (
    SHARED_ROLE,
    AvailableVersions,
    Ecosystem,
    Host,
    Lockfile,
    Pin,
    PinPolicy,
    PolicyKind,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "collect"
MADISON = DATA / "apt-cache-madison.debian-12.txt"
NONCE = "0123456789abcdef0123456789abcdef"
HOST = Host("web1", "prod", ("app",))
DEB, RPM = Ecosystem.DEB, Ecosystem.RPM


def frame(sections: list[tuple[str, bytes, int | None]]) -> bytes:
    """Probe-shaped output (see test_collect_parsers.frame); rc None: no end marker."""
    m = f"@@pinmgr {NONCE}".encode()
    out = m + b" begin os-release\nID=debian\nVERSION_ID=12\n\n" + m + b" end os-release 0\n"
    for name, body, rc in sections:
        out += m + b" begin " + name.encode() + b"\n" + body
        if rc is not None:
            out += b"\n" + m + b" end " + name.encode() + b" " + str(rc).encode() + b"\n"
    return out + m + b" done\n"


def offered(snap_available: tuple[AvailableVersions, ...]) -> dict[str, tuple[str, ...]]:
    return {a.name: a.versions for a in snap_available}


def test_captured_madison_output() -> None:
    lines = MADISON.read_text().splitlines()
    sources, found, bad = parse_madison(["sources 3", *lines])
    assert sources == 3
    assert bad == []
    assert found["bash"] == ["5.2.15-2+b13"]
    # madison prints libc6 once per name asked (libc6 and libc6:amd64), without the arch.
    assert found["libc6"][:2] == ["2.36-9+deb12u14", "2.36-9+deb12u7"]
    assert found["openssl"] == ["3.0.22-1~deb12u2", "3.0.20-1~deb12u2", "3.0.17-1~deb12u2"]
    assert "pinmgr-no-such-package" not in found


def test_madison_section_in_the_probe_output() -> None:
    body = b"sources 3\n" + MADISON.read_bytes()
    asked = {DEB: ("bash", "libc6:amd64", "libssl3:i386", "pinmgr-no-such-package", "tzdata")}
    snap = parse_probe(HOST, frame([(SECTION_APT, body, 0)]), NONCE, available=asked)
    assert snap.warnings == ()
    got = offered(snap.available)
    assert got["bash"] == ("5.2.15-2+b13",)
    assert got["libc6:amd64"] == ("2.36-9+deb12u14", "2.36-9+deb12u7")  # deduplicated
    assert got["libssl3:i386"] == ("3.0.22-1~deb12u2", "3.0.20-1~deb12u2", "3.0.17-1~deb12u2")
    assert got["pinmgr-no-such-package"] == ()  # asked, lists present: not offered
    assert all(a.ecosystem is DEB for a in snap.available)


def test_madison_skips_source_packages_and_reports_odd_lines() -> None:
    body = (
        b"sources 1\n"
        b"     nginx | 1.22.1-9 | http://deb.debian.org/debian bookworm/main Sources\n"
        b"     nginx | 1.22.1-9+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 "
        b"Packages\n"
        b"garbage without columns\n"
    )
    snap = parse_probe(HOST, frame([(SECTION_APT, body, 0)]), NONCE, available={DEB: ("nginx",)})
    assert offered(snap.available) == {"nginx": ("1.22.1-9+deb12u1",)}
    assert snap.warnings == (f"{SECTION_APT}: unexpected line: garbage without columns",)


@pytest.mark.parametrize(
    ("body", "rc", "warning"),
    [
        (b"sources 0\n", 0, "no apt package lists"),
        (b"sources 2\n", 100, "apt-cache exited with status 100"),
        (b"sources 2\n   bash | 5.2 | x Packages\n", None, "output cut short"),
    ],
)
def test_unusable_apt_section_means_unknown_not_uninstallable(
    body: bytes, rc: int | None, warning: str
) -> None:
    snap = parse_probe(HOST, frame([(SECTION_APT, body, rc)]), NONCE, available={DEB: ("bash",)})
    assert snap.available == ()
    assert any(warning in w for w in snap.warnings), snap.warnings


DNF_LIST = b"""\
Installed Packages
nginx.x86_64                     1:1.20.1-14.el9_2.1                 @appstream
openssl.x86_64                   1:3.0.7-24.el9                      @System
Available Packages
nginx.x86_64                     1:1.20.1-10.el9                     appstream
nginx.x86_64                     1:1.20.1-13.el9                     appstream
nginx.x86_64                     1:1.20.1-14.el9_2.1                 appstream
python3-pinmgr-with-a-really-long-name.noarch
                                 2.0-1.el9                           epel
"""


def test_dnf_list_with_wrapped_rows_and_installed_entries() -> None:
    found, bad, no_match = parse_dnf_list(DNF_LIST.decode().splitlines())
    assert bad == [] and not no_match
    assert found["nginx"] == [
        "1:1.20.1-14.el9_2.1",  # installed from a repo: still counted
        "1:1.20.1-10.el9",
        "1:1.20.1-13.el9",
        "1:1.20.1-14.el9_2.1",
    ]
    assert "openssl" not in found  # @System says nothing about the sources
    assert found["python3-pinmgr-with-a-really-long-name"] == ["2.0-1.el9"]


def test_dnf_section_in_the_probe_output() -> None:
    asked = {RPM: ("nginx", "openssl", "python3-pinmgr-with-a-really-long-name")}
    snap = parse_probe(HOST, frame([(SECTION_RPM, DNF_LIST, 0)]), NONCE, available=asked)
    assert snap.warnings == ()
    got = offered(snap.available)
    assert got["nginx"] == ("1:1.20.1-14.el9_2.1", "1:1.20.1-10.el9", "1:1.20.1-13.el9")
    assert got["openssl"] == ()
    assert got["python3-pinmgr-with-a-really-long-name"] == ("2.0-1.el9",)


def test_dnf_no_match_is_not_offered_but_a_cache_error_is_unknown() -> None:
    asked = {RPM: ("nginx",)}
    none = b"Error: No matching Packages to list\n"
    snap = parse_probe(HOST, frame([(SECTION_RPM, none, 1)]), NONCE, available=asked)
    assert offered(snap.available) == {"nginx": ()}
    assert snap.warnings == ()
    broken = b"Error: Cache-only enabled but no cache for 'appstream'\n"
    snap = parse_probe(HOST, frame([(SECTION_RPM, broken, 1)]), NONCE, available=asked)
    assert snap.available == ()
    assert snap.warnings == (
        f"{SECTION_RPM}: exited with status 1: Error: Cache-only enabled but no cache for "
        "'appstream'",
    )


def test_sections_ignored_when_not_asked() -> None:
    body = b"sources 3\n" + MADISON.read_bytes()
    snap = parse_probe(HOST, frame([(SECTION_APT, body, 0)]), NONCE)
    assert snap.available == ()


def test_probe_lines_quote_every_name_after_double_dash() -> None:
    hostile = "x'; touch /tmp/pinmgr-never #"
    text = "\n".join(probe_lines({DEB: ("bash", hostile), RPM: ("-rf",)}))
    assert "apt-cache madison -- bash 'x'\"'\"'; touch /tmp/pinmgr-never #'" in text
    assert "dnf -C -q list --showduplicates -- -rf" in text
    assert "yum -C -q list --showduplicates -- -rf" in text
    # never refreshes anything (``updateinfo`` only reads the cached advisories: dnf -C)
    assert "apt-get" not in text and "update" not in text.replace("-C -q updateinfo", "")
    assert "makecache" not in text and "--refresh" not in text
    assert probe_lines({}) == []


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs apt-cache (Debian/Ubuntu)")
def test_real_probe_against_this_machines_apt(tmp_path: Path) -> None:
    """The probe's section runs the real apt-cache; a hostile name stays one argument."""
    canary = tmp_path / "canary"
    hostile = f"$(touch {canary})"
    asked = {DEB: ("bash", "dpkg", "pinmgr-no-such-package", hostile)}
    nonce = new_nonce()
    proc = subprocess.run(
        ["sh", "-c", build_probe(HOST, nonce, asked)], capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    snap = parse_probe(HOST, proc.stdout, nonce, stderr=proc.stderr, available=asked)
    assert not canary.exists()
    direct = subprocess.run(
        ["apt-cache", "madison", "bash"], capture_output=True, text=True, check=True
    ).stdout
    expected = tuple(dict.fromkeys(ln.split("|")[1].strip() for ln in direct.splitlines()))
    got = offered(snap.available)
    if not expected:
        pytest.skip("this machine's apt lists are empty (apt-get update never ran)")
    assert got["bash"] == expected
    assert got["pinmgr-no-such-package"] == ()
    assert got[hostile] == ()


def _pin(role: str, pkg: str, eco: Ecosystem = DEB, rel: str = "debian-12") -> Pin:
    return Pin(role, rel, eco, pkg, PinPolicy(PolicyKind.EXACT, "1.0-1"))


def test_query_for_asks_about_the_hosts_roles_and_shared_pins_only() -> None:
    lock = Lockfile(
        "pins/pinmgr.toml",
        1,
        ("app", "db"),
        (
            _pin("app", "nginx"),
            _pin("app", "nginx", rel="ubuntu-22.04"),  # every release: one round trip
            _pin(SHARED_ROLE, "bash"),
            _pin("db", "postgresql-15"),
            _pin("app", "httpd", eco=RPM, rel="rocky-9"),
            _pin("app", "requests", eco=Ecosystem.PIP),  # pip indexes are not queried
        ),
    )
    query = query_for(lock)
    assert query(HOST) == {DEB: ("bash", "nginx"), RPM: ("httpd",)}
    assert query(Host("db1", "prod", ("db",))) == {DEB: ("bash", "postgresql-15")}
    both = query(Host("x", "prod", ("app", "db")))
    assert both[DEB] == ("bash", "nginx", "postgresql-15")


def test_real_dnf_output_with_a_multilib_pair_and_arch_qualified_names() -> None:
    """What Debian's dnf 4.14 printed on an rpm lab host (tests/hostlab/rpmhost.py) whose only
    source is a createrepo_c repository: ``dnf -C -q list --showduplicates -- glibc
    glibc.i686 openssl kernel python3-pinmgr-with-a-really-long-name-for-wrapping nosuch``."""
    lines = (DATA / "dnf-list.rocky-9.txt").read_text().splitlines()
    found, bad, no_match = parse_dnf_list(lines)
    assert bad == [] and not no_match
    assert found["glibc.i686"] == ["2.34-83.el9", "2.34-100.el9", "2.34-105.el9"]
    assert found["glibc"] == [v for v in found["glibc.i686"] for _ in (0, 1)]  # both arches
    assert found["kernel"] == ["5.14.0-362.8.1.el9_3", "5.14.0-427.13.1.el9_4"]  # not @System
    asked = {RPM: ("glibc.i686", "glibc.x86_64", "openssl", "zsh")}
    body = (DATA / "dnf-list.rocky-9.txt").read_bytes()
    snap = parse_probe(HOST, frame([(SECTION_RPM, body, 0)]), NONCE, available=asked)
    assert snap.warnings == ()
    got = offered(snap.available)
    assert got["glibc.x86_64"] == ("2.34-83.el9", "2.34-100.el9", "2.34-105.el9")
    assert got["openssl"] == ("1:3.0.7-24.el9", "1:3.0.7-27.el9")
    assert got["zsh"] == ()
