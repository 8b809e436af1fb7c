"""Acceptance of "SSH fleet collection": the real CLI over SSH against 20 real lab hosts.

``pinmgr check --env staging`` must report exactly the drift the fixture planted, and nothing
else. The expected findings are written out by hand below (not recomputed by an oracle), so a
wrong direction, a lost reason, a finding too many or one too few all fail the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.hostlab import (
    BASE_PACKAGES,
    BASE_PIP,
    VENV_PATH,
    Drift,
    HostSpec,
    Lab,
    LabFactory,
    newer,
    older,
)

ROOT = Path(__file__).resolve().parents[2]
JAMMY, NOBLE, BOOKWORM = "ubuntu-22.04", "ubuntu-24.04", "debian-12"
J, N, B = BASE_PACKAGES[JAMMY], BASE_PACKAGES[NOBLE], BASE_PACKAGES[BOOKWORM]

# What the lockfile pins per (role, release): BASE versions of a chosen subset, so every other
# base package is unpinned (and only checked for consistency between hosts).
DEB_PINS: dict[tuple[str, str], tuple[str, ...]] = {
    ("app", JAMMY): ("bash", "curl", "libssl3", "nginx", "openssl", "rsync", "vim"),
    ("app", NOBLE): ("bash", "curl", "libssl3t64", "nginx", "openssl"),
    ("db", BOOKWORM): ("bash", "openssl", "postgresql-15", "redis-server", "rsync"),
}
PIP_PINS = ("Django", "gunicorn", "requests", "urllib3")
# A role only db06 has: it pins the i386 copy of libssl3 by architecture.
LEGACY_ROLE = "legacy32"

APP05_PIP = {
    **{k: v for k, v in BASE_PIP.items() if k != "gunicorn"},
    "Django": "4.2.15",
    "requests": "2.32.4",
}


def staging_fleet() -> list[HostSpec]:
    """20 hosts: 7 app on jammy, 3 app on noble (migration canaries), 10 db on bookworm."""
    app: dict[str, Drift] = {
        "app01": Drift(versions={"nginx": older(J["nginx"])}),
        "app02": Drift(versions={"openssl": newer(J["openssl"])}),
        "app03": Drift(missing=("curl",)),
        "app04": Drift(config_files=("vim",)),
        "app05": Drift(),  # pip drift only (APP05_PIP)
        # nginx held at the pinned version (ok, reason held); rsync held at an older one.
        "app06": Drift(versions={"rsync": older(J["rsync"])}, held=("nginx", "rsync")),
        # An i386 copy (older) beside the native libssl3 pin, and a package no one else has.
        "app07": Drift(foreign={"libssl3": older(J["libssl3"])}, extra={"htop": "3.0.5-7build2"}),
    }
    specs = [
        HostSpec(
            name,
            role="app",
            os_release=JAMMY,
            drift=drift,
            pip=APP05_PIP if name == "app05" else None,
        )
        for name, drift in app.items()
    ]
    specs += [
        HostSpec(
            "app08",
            role="app",
            os_release=NOBLE,
            drift=Drift(versions={"nginx": newer(N["nginx"])}),
        ),
        HostSpec("app09", role="app", os_release=NOBLE),
        HostSpec("app10", role="app", os_release=NOBLE),
    ]
    db: dict[str, Drift] = {
        "db01": Drift(versions={"postgresql-15": newer(B["postgresql-15"])}),
        "db02": Drift(versions={"redis-server": older(B["redis-server"])}),
        "db03": Drift(missing=("rsync",)),
        "db04": Drift(versions={"libpq5": older(B["libpq5"])}),  # unpinned: inconsistent
        "db06": Drift(foreign={"libssl3": older(B["libssl3"])}),
    }
    for i in range(1, 11):
        name = f"db{i:02d}"
        roles = ("db", LEGACY_ROLE) if name == "db06" else ()
        specs.append(
            HostSpec(name, role="db", os_release=BOOKWORM, drift=db.get(name, Drift()), roles=roles)
        )
    return specs


def write_lockfile(path: Path) -> Path:
    """Pins are the BASE versions of the chosen packages; pip pins for app hosts."""
    lines = ["schema = 1", ""]
    for (role, release), names in DEB_PINS.items():
        lines.append(f'[roles.{role}."{release}".deb]')
        lines += [f'"{n}" = "{BASE_PACKAGES[release][n]}"' for n in names]
        if role == "app":
            lines.append(f'[roles.{role}."{release}".pip]')
            lines += [f'"{n}" = "{BASE_PIP[n]}"' for n in PIP_PINS]
        lines.append("")
    lines += [f'[roles.{LEGACY_ROLE}."{BOOKWORM}".deb]', f'"libssl3:i386" = "{B["libssl3"]}"', ""]
    path.write_text("\n".join(lines))
    return path


def pinmgr(*args: str, home: Path, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """The real CLI; HOME is a temp dir so the user's ~/.ssh is never read or written."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "HOME": str(home)}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


Key = tuple[str, str, str, str, str, str, str, str]


def key(f: Mapping[str, Any]) -> Key:
    """What identifies a finding for these tests (every field but location and os_release)."""
    return (
        f["host"],
        f["role"],
        f["kind"],
        f["package"] or "",
        f["expected"] or "",
        f["actual"] or "",
        f["direction"] or "",
        f["reason"] or "",
    )


def keys(findings: Iterable[Mapping[str, Any]]) -> set[Key]:
    return {key(f) for f in findings}


@pytest.fixture(scope="module")
def fleet(hostlab: LabFactory) -> Lab:
    return hostlab(staging_fleet(), timeout=120)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def staging_report(
    fleet: Lab, home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict[str, Any]]:
    d = tmp_path_factory.mktemp("fleet")
    lock = write_lockfile(d / "pinmgr.toml")
    inv = fleet.write_inventory(d / "inventory.toml")
    known = d / "known_hosts"
    known.write_bytes(fleet.known_hosts.read_bytes())
    result = pinmgr(
        "check",
        "-l",
        str(lock),
        "-i",
        str(inv),
        "--env",
        "staging",
        "-f",
        "json",
        "-q",
        "-j",
        "20",
        "--known-hosts",
        str(known),
        home=home,
    )
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def expected_non_ok() -> set[Key]:
    """Every non-ok finding the planted fleet must produce, written out."""
    venv = VENV_PATH
    jammy_app = "7 app hosts (ubuntu-22.04)"
    bookworm_db = "10 db hosts (debian-12)"
    return {
        ("app01", "app", "drift", "nginx", J["nginx"], older(J["nginx"]), "older", ""),
        ("app02", "app", "drift", "openssl", J["openssl"], newer(J["openssl"]), "newer", ""),
        ("app03", "app", "missing", "curl", J["curl"], "", "", ""),
        # state rc (removed, config files left) counts as not installed
        ("app04", "app", "missing", "vim", J["vim"], "", "", ""),
        ("app05", "app", "drift", "django", "4.2.16", "4.2.15", "older", venv),
        ("app05", "app", "drift", "requests", "2.32.3", "2.32.4", "newer", venv),
        ("app05", "app", "missing", "gunicorn", "23.0.0", "", "", ""),
        ("app06", "app", "drift", "rsync", J["rsync"], older(J["rsync"]), "older", "held"),
        # unpinned packages only app07 has: inconsistent with its 6 jammy peers
        (
            "app07",
            "app",
            "inconsistent",
            "htop",
            "",
            "3.0.5-7build2",
            "",
            f"1 of {jammy_app} have it: absent on 6, 3.0.5-7build2 on 1",
        ),
        (
            "app07",
            "app",
            "inconsistent",
            "libssl3:i386",
            "",
            older(J["libssl3"]),
            "",
            f"1 of {jammy_app} have it: absent on 6, {older(J['libssl3'])} on 1",
        ),
        ("app08", "app", "drift", "nginx", N["nginx"], newer(N["nginx"]), "newer", ""),
        *(
            (
                h,
                "app",
                "mixed-os",
                "",
                JAMMY,
                NOBLE,
                "",
                f"app hosts in staging run {JAMMY} (7), {NOBLE} (3)",
            )
            for h in ("app08", "app09", "app10")
        ),
        (
            "db01",
            "db",
            "drift",
            "postgresql-15",
            B["postgresql-15"],
            newer(B["postgresql-15"]),
            "newer",
            "",
        ),
        (
            "db02",
            "db",
            "drift",
            "redis-server",
            B["redis-server"],
            older(B["redis-server"]),
            "older",
            "",
        ),
        ("db03", "db", "missing", "rsync", B["rsync"], "", "", ""),
        (
            "db04",
            "db",
            "inconsistent",
            "libpq5",
            B["libpq5"],
            older(B["libpq5"]),
            "",
            f"10 of {bookworm_db} have it: {B['libpq5']} on 9, {older(B['libpq5'])} on 1",
        ),
        (
            "db06",
            "db",
            "inconsistent",
            "libssl3:i386",
            "",
            older(B["libssl3"]),
            "",
            f"1 of {bookworm_db} have it: absent on 9, {older(B['libssl3'])} on 1",
        ),
        # the legacy32 role pins the i386 copy by architecture: found, and older
        (
            "db06",
            LEGACY_ROLE,
            "drift",
            "libssl3:i386",
            B["libssl3"],
            older(B["libssl3"]),
            "older",
            "",
        ),
    }


def test_check_staging_reports_exactly_the_planted_drift(
    fleet: Lab, staging_report: tuple[int, dict[str, Any]]
) -> None:
    code, doc = staging_report
    assert code == 1
    assert doc["summary"]["hosts_total"] == 20
    assert doc["summary"]["hosts_collected"] == 20
    non_ok = [f for f in doc["findings"] if f["kind"] != "ok"]
    got = keys(non_ok)
    want = expected_non_ok()
    assert got == want, f"unexpected: {sorted(got - want)}\nnot found: {sorted(want - got)}"
    assert len(non_ok) == len(want)  # no duplicates hiding behind the set


def test_every_pin_of_every_host_is_reported_once(
    fleet: Lab, staging_report: tuple[int, dict[str, Any]]
) -> None:
    """A pin finding (ok, drift or missing) per host and pin: nothing skipped or doubled."""
    _, doc = staging_report
    pin_kinds = {"ok", "drift", "missing"}
    seen: dict[tuple[str, str], list[str]] = {}
    for f in doc["findings"]:
        if f["kind"] in pin_kinds:
            seen.setdefault((f["host"], f["role"]), []).append(f"{f['ecosystem']}:{f['package']}")
    for h in fleet.hosts.values():
        names = [f"deb:{n}" for n in DEB_PINS[(h.role, h.os_release)]]
        if h.role == "app":
            names += [f"pip:{n.lower()}" for n in PIP_PINS]
        assert sorted(seen[(h.name, h.role)]) == sorted(names), h.name
    assert seen[("db06", LEGACY_ROLE)] == ["deb:libssl3:i386"]


def test_hosts_without_planted_drift_are_all_ok(
    fleet: Lab, staging_report: tuple[int, dict[str, Any]]
) -> None:
    _, doc = staging_report
    planted = {k[0] for k in expected_non_ok()}
    clean = sorted(set(fleet.hosts) - planted)
    assert clean == ["db05", "db07", "db08", "db09", "db10"]
    for name in clean:
        kinds = {f["kind"] for f in doc["findings"] if f["host"] == name}
        assert kinds == {"ok"}, (name, kinds)


def test_held_at_the_pinned_version_is_ok_with_reason(
    staging_report: tuple[int, dict[str, Any]],
) -> None:
    _, doc = staging_report
    (nginx,) = [f for f in doc["findings"] if f["host"] == "app06" and f["package"] == "nginx"]
    assert (nginx["kind"], nginx["reason"], nginx["actual"]) == ("ok", "held", J["nginx"])
    # app07's native libssl3 is checked against the arch-less pin, not its i386 copy
    (ssl,) = [f for f in doc["findings"] if f["host"] == "app07" and f["package"] == "libssl3"]
    assert (ssl["kind"], ssl["actual"]) == ("ok", J["libssl3"])


def test_each_host_reports_its_own_os_release(
    fleet: Lab, staging_report: tuple[int, dict[str, Any]]
) -> None:
    _, doc = staging_report
    by_host: dict[str, set[str]] = {}
    for f in doc["findings"]:
        by_host.setdefault(f["host"], set()).add(f["os_release"])
    assert by_host == {h.name: {h.os_release} for h in fleet.hosts.values()}
    assert set().union(*by_host.values()) == {JAMMY, NOBLE, BOOKWORM}


def test_drift_on_one_host_only_flags_that_host(fleet: Lab, home: Path, tmp_path: Path) -> None:
    """A second environment in the same lab, identical hosts but one: only that one is named."""
    specs = [
        HostSpec(f"p{i}", env="production", role="db", os_release=BOOKWORM) for i in range(1, 5)
    ]
    specs[2] = HostSpec(
        "p3",
        env="production",
        role="db",
        os_release=BOOKWORM,
        drift=Drift(versions={"openssl": older(B["openssl"])}),
    )
    added = fleet.start(specs)
    lock = write_lockfile(tmp_path / "pinmgr.toml")
    inv = fleet.write_inventory(tmp_path / "inventory.toml", added)
    known = tmp_path / "known_hosts"
    known.write_bytes(fleet.known_hosts.read_bytes())
    result = pinmgr(
        "check",
        "-l",
        str(lock),
        "-i",
        str(inv),
        "-e",
        "production",
        "-f",
        "json",
        "-q",
        "--known-hosts",
        str(known),
        home=home,
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["hosts_collected"] == 4
    assert keys(f for f in doc["findings"] if f["kind"] != "ok") == {
        ("p3", "db", "drift", "openssl", B["openssl"], older(B["openssl"]), "older", "")
    }
    assert {f["host"] for f in doc["findings"] if f["kind"] == "ok"} == {"p1", "p2", "p3", "p4"}
