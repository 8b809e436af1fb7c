"""Acceptance: lockfile authoring against real sshd test hosts.

"``pinmgr lock --from`` a test host over SSH, then ``pinmgr check`` on that host reports
clean", plus ``pinmgr accept`` after planted drift, the note when hosts disagree, and the
safety rails: a stale edit is refused, ``--dry-run`` and a missing ``--yes`` write nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from pinmgr import api, authoring
from pinmgr.errors import WriteError
from pinmgr.lockfile.load import load
from tests.hostlab import BASE_PACKAGES, Drift, HostSpec, Lab, LabFactory, newer, older

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
DEB = BASE_PACKAGES["debian-12"]

# Staging starts exactly on these pins; dev has no lockfile yet (lock --from writes it).
STAGING_PINS = f"""\
schema = 1

# Web tier
[roles.app."debian-12".deb]
libssl3 = "{DEB["libssl3"]}"
nginx = "{DEB["nginx"]}"   # web server
nginx-common = "{DEB["nginx-common"]}"
openssl = "{DEB["openssl"]}"

[roles.db."debian-12".deb]
openssl = "{DEB["openssl"]}"
postgresql-15 = "{DEB["postgresql-15"]}"
"""


@dataclass(frozen=True)
class Setup:
    lab: Lab
    inventory: Path


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    lab = hostlab(
        [
            HostSpec("dev-web1", env="dev", role="app"),
            HostSpec("dev-web2", env="dev", role="app"),
            HostSpec("web-s1", env="staging", role="app"),
            HostSpec("web-s2", env="staging", role="app"),
            HostSpec("db-s1", env="staging", role="db"),
        ]
    )
    work = tmp_path_factory.mktemp("authoring")
    return Setup(lab, lab.write_inventory(work / "inventory.toml"))


def pinmgr(
    s: Setup, *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pinmgr",
            *args,
            "-i",
            str(s.inventory),
            "--known-hosts",
            str(s.lab.known_hosts),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def check_json(s: Setup, lockfile: Path, env: str) -> tuple[int, dict[str, Any]]:
    result = pinmgr(s, "check", "-l", str(lockfile), "--env", env, "-f", "json", "-q")
    assert "Traceback" not in result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, doc


def kinds(doc: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in doc["findings"]:
        out[f["kind"]] = out.get(f["kind"], 0) + 1
    return out


# ---------------------------------------------------------------- lock --from, then check


def test_lock_listed_packages_then_check_is_clean(setup: Setup, tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text('schema = 1\n\n[roles.app."debian-12".deb]\nnginx = "1.0-1"  # stale\n')
    code, doc = check_json(setup, lockfile, "dev")
    assert code == 1 and kinds(doc) == {"drift": 2}

    result = pinmgr(
        setup,
        "lock",
        "--from",
        "dev-web1",
        "--role",
        "app",
        "--packages",
        "nginx,openssl,libssl3,requests",
        "--yes",
        "-l",
        str(lockfile),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(f"{lockfile}: written")
    text = lockfile.read_text()
    assert f'nginx = "{DEB["nginx"]}"  # stale' in text  # the comment stays on its pin
    assert f'libssl3 = "{DEB["libssl3"]}"' in text  # native arch pinned without ":amd64"
    assert '[roles.app."debian-12".pip]\nrequests = "2.32.3"' in text

    code, doc = check_json(setup, lockfile, "dev")
    assert code == 0, doc
    assert kinds(doc) == {"ok": 8}  # 4 pins x 2 dev hosts
    assert {f["host"] for f in doc["findings"]} == {"dev-web1", "dev-web2"}


def test_lock_all_into_a_fresh_lockfile_then_check_is_clean(setup: Setup, tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text("# new lockfile\nschema = 1\n")
    result = pinmgr(setup, "lock", "--from", "dev/dev-web2", "--all", "--yes", "-l", str(lockfile))
    assert result.returncode == 0, result.stderr
    lock = load(lockfile)
    assert lock.roles == ("app",)
    assert lockfile.read_text().startswith("# new lockfile\nschema = 1\n")
    host = setup.lab.hosts["dev-web2"]
    pinned = {(p.ecosystem.value, p.package): p.spec for p in lock.pins}
    expected = {("deb", e.name): e.version for e in host.packages}
    # pip names as the collector reports them: normalised (Django -> django).
    expected |= {("pip", canonicalize_name(n)): v for n, v in host.pip.items()}
    assert pinned == expected

    code, doc = check_json(setup, lockfile, "dev")
    assert code == 0, [f for f in doc["findings"] if f["kind"] != "ok"]
    assert kinds(doc) == {"ok": 2 * len(expected)}


def test_lock_dry_run_writes_nothing(setup: Setup, tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text("schema = 1\n")
    before = lockfile.read_bytes()
    result = pinmgr(
        setup, "lock", "--from", "dev-web1", "--packages", "nginx", "--dry-run", "-l", str(lockfile)
    )
    assert result.returncode == 0, result.stderr
    assert f'+nginx = "{DEB["nginx"]}"' in result.stdout
    assert "(dry run: nothing written)" in result.stdout
    assert lockfile.read_bytes() == before


def test_lock_without_yes_and_no_terminal_is_refused(setup: Setup, tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text("schema = 1\n")
    before = lockfile.read_bytes()
    result = pinmgr(setup, "lock", "--from", "dev-web1", "--packages", "nginx", "-l", str(lockfile))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: error:")]
    assert errors == [
        "pinmgr: error: not writing without confirmation: stdin is not a terminal (use --yes)"
    ]
    assert "Traceback" not in result.stderr
    assert lockfile.read_bytes() == before


def test_stale_edit_is_refused_and_the_file_left_alone(setup: Setup, tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text(STAGING_PINS)
    options = api.CheckOptions(known_hosts=str(setup.lab.known_hosts))
    snap = api.snapshot_of(setup.inventory, "dev-web1", options)
    change = authoring.plan_lock(lockfile, snap, "app", authoring.Selection.LISTED, ["curl"])
    assert change.changed
    meanwhile = STAGING_PINS + "# edited by a colleague meanwhile\n"
    lockfile.write_text(meanwhile)
    with pytest.raises(WriteError):
        authoring.apply(change)
    assert lockfile.read_text() == meanwhile


# ---------------------------------------------------------------- accept


def test_accept_after_planted_drift_makes_check_clean(setup: Setup, tmp_path: Path) -> None:
    lab = setup.lab
    upgraded, ssl = newer(DEB["nginx"]), newer(DEB["libssl3"])
    for name in ("web-s1", "web-s2"):
        lab.replant(name, Drift(versions={"nginx": upgraded, "libssl3": ssl}))
    lab.replant("db-s1", Drift())
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text(STAGING_PINS)
    code, doc = check_json(setup, lockfile, "staging")
    assert code == 1 and kinds(doc)["drift"] == 4

    result = pinmgr(setup, "accept", "--env", "staging", "--yes", "-q", "-l", str(lockfile))
    assert result.returncode == 0, result.stderr
    assert lockfile.read_text() == STAGING_PINS.replace(
        f'nginx = "{DEB["nginx"]}"   # web server', f'nginx = "{upgraded}"   # web server'
    ).replace(f'libssl3 = "{DEB["libssl3"]}"', f'libssl3 = "{ssl}"')
    code, doc = check_json(setup, lockfile, "staging")
    assert code == 0, [f for f in doc["findings"] if f["kind"] != "ok"]
    assert set(kinds(doc)) == {"ok"}


def test_accept_leaves_a_package_hosts_disagree_on(setup: Setup, tmp_path: Path) -> None:
    lab = setup.lab
    lab.replant("web-s1", Drift(versions={"openssl": older(DEB["openssl"])}))
    lab.replant("web-s2", Drift(versions={"openssl": newer(DEB["openssl"])}))
    lab.replant("db-s1", Drift(versions={"postgresql-15": newer(DEB["postgresql-15"])}))
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text(STAGING_PINS)

    result = pinmgr(setup, "accept", "--env", "staging", "--yes", "-q", "-l", str(lockfile))
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: note:")]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith("pinmgr: note: openssl (deb, debian-12): hosts disagree (")
    assert "pinmgr pin openssl=VERSION --role app --os debian-12" in notes[0]
    # Only the db pin the one db host agrees with itself on was taken.
    assert lockfile.read_text() == STAGING_PINS.replace(
        f'postgresql-15 = "{DEB["postgresql-15"]}"',
        f'postgresql-15 = "{newer(DEB["postgresql-15"])}"',
    )
    code, doc = check_json(setup, lockfile, "staging")
    assert code == 1
    left = {(f["host"], f["package"]) for f in doc["findings"] if f["kind"] != "ok"}
    assert left == {("web-s1", "openssl"), ("web-s2", "openssl")}
