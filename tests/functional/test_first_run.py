"""Acceptance of #14 parts 1-3: a new user's path with the real CLI, and each wrong-way message.

The walk on this machine: ``pinmgr init`` → ``check`` exit 0 → ``pin`` a wrong version → exit 1
→ ``accept --yes`` → exit 0, all in a temp dir (never the repository's ``pins/``). "Fresh clone
→ install" is not repeated here: the walk runs the test venv's pinmgr, installed from this
checkout as ``scripts/install.sh`` does (pip install of the project); ``install.sh`` itself is
only checked for its options (``test_install_script_options``), a full install being minutes.

``init --ansible`` runs against real sshd test hosts (tests/hostlab) through an INI inventory
read by the real ``ansible-inventory``, then ``check`` reaches them over SSH: exit 0.

This machine is shared: an ``apt-get`` someone runs during the walk changes what is installed
between two commands, and the walk then sees real drift. Nothing here waits for that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.hostlab import HostSpec, Lab, LabFactory

ROOT = Path(__file__).resolve().parents[2]


def pinmgr(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in ``cwd``; HOME is a temp dir so the user's ~/.ssh is never read."""
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160", "HOME": str(home)}
    for var in ("SSH_AUTH_SOCK", "PINMGR_LOCKFILE", "PINMGR_INVENTORY"):
        env.pop(var, None)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def _toml(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = tomlkit.parse(text).unwrap()  # tomllib is 3.11+
    return doc


def _deb_pins(lockfile: Path) -> tuple[str, dict[str, str]]:
    doc = _toml(lockfile.read_text())
    ((release, tables),) = doc["roles"]["app"].items()
    return release, tables["deb"]


def test_new_user_walk_on_this_machine(tmp_path: Path) -> None:
    init = pinmgr("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    lock, inv = tmp_path / "pins" / "pinmgr.toml", tmp_path / "pins" / "inventory.toml"
    assert "pins/pinmgr.toml: created" in init.stdout and inv.is_file()
    release, pins = _deb_pins(lock)
    assert {"bash", "libc6"} <= set(pins)  # key packages every Debian-like system has
    assert "vim" not in pins and "libssl-dev" not in pins

    first = pinmgr("check", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{len(pins)} ok" in first.stdout

    wrong = pinmgr("pin", "bash=1.0-1", "--role", "app", "--os", release, "--yes", cwd=tmp_path)
    assert wrong.returncode == 0, wrong.stderr
    drift = pinmgr("check", "-f", "json", cwd=tmp_path)
    assert drift.returncode == 1
    (found,) = [f for f in json.loads(drift.stdout)["findings"] if f["kind"] != "ok"]
    assert (found["package"], found["kind"], found["direction"]) == ("bash", "drift", "newer")

    accepted = pinmgr("accept", "--yes", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert _deb_pins(lock)[1]["bash"] == pins["bash"]
    assert pinmgr("check", cwd=tmp_path).returncode == 0

    # The header's own advice works as written (it said `pinmgr validate pins/pinmgr.toml`).
    assert "Check it with `pinmgr validate`" in lock.read_text()
    assert pinmgr("validate", cwd=tmp_path).returncode == 0
    assert pinmgr("validate", "-l", str(lock), cwd=tmp_path).returncode == 0

    # A second init never replaces what the first wrote.
    again = pinmgr("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists; not overwriting it (--force" in again.stderr


def test_lock_creates_a_missing_lockfile_after_confirmation(tmp_path: Path) -> None:
    """Before: ``fresh.toml: no such lockfile``."""
    args = ("lock", "--from", "localhost", "-l", "fresh.toml", "--packages", "bash")
    asked = pinmgr(*args, cwd=tmp_path)  # no terminal to confirm on: refused, nothing written
    assert asked.returncode == 2 and "--- /dev/null" in asked.stdout
    assert not (tmp_path / "fresh.toml").exists()
    done = pinmgr(*args, "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "bash"
        in _toml((tmp_path / "fresh.toml").read_text())["roles"]["app"][
            _deb_release(tmp_path / "fresh.toml")
        ]["deb"]
    )


def _deb_release(lockfile: Path) -> str:
    return _deb_pins(lockfile)[0]


def test_wrong_way_messages_say_what_is_missing(tmp_path: Path) -> None:
    assert pinmgr("init", cwd=tmp_path).returncode == 0
    lock = tmp_path / "pins" / "pinmgr.toml"
    release = _deb_release(lock)
    db = pinmgr("pin", "bash=5.2-1", "--role", "db", "--new-role", "--os", release, "--yes",
                cwd=tmp_path)  # fmt: skip
    assert db.returncode == 0, db.stderr

    # --role db: the lockfile defines db; what is missing is a host with that role.
    role = pinmgr("check", "--role", "db", cwd=tmp_path)
    assert role.returncode == 2
    assert "no host in the inventory has role 'db', which the lockfile defines" in role.stderr
    assert "known: app" not in role.stderr

    # check with a bad inventory lists every problem, as validate does.
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "schema = 1\n[environments.s.hosts.a]\nport = '22'\nroles = ['app']\n"
        "[environments.s.hosts.b]\naddress = 'x'\n"
    )
    checked = pinmgr("check", "-i", str(bad), cwd=tmp_path)
    validated = pinmgr("validate", "-i", str(bad), cwd=tmp_path)
    errors = [ln for ln in checked.stderr.splitlines() if ln.startswith("pinmgr: error:")]
    assert checked.returncode == 2 and len(errors) == 2, checked.stderr
    assert set(errors) <= set(validated.stderr.splitlines())

    # emit ansible-vars --check: a file never written is missing, not stale.
    out = tmp_path / "vars"
    emitted = pinmgr("emit", "ansible-vars", "--out", str(out), "--check", cwd=tmp_path)
    assert emitted.returncode == 1
    assert f"pinmgr: missing: {out}/group_vars/app.yml" in emitted.stderr
    assert "stale" not in emitted.stderr

    # -i hosts.ini: an Ansible inventory, not TOML that lacks '='.
    ini = tmp_path / "hosts.ini"
    ini.write_text("[web]\nweb1 ansible_host=192.0.2.1\n[web:children\n")
    listed = pinmgr("inventory", "-i", str(ini), cwd=tmp_path)
    assert listed.returncode == 2
    assert "read as Ansible inventory (INI)" in listed.stderr
    assert "Expected '='" not in listed.stderr


def test_pip_pins_without_an_interpreter_are_a_finding(tmp_path: Path) -> None:
    """Before: skipped without a word, exit 0."""
    assert pinmgr("init", cwd=tmp_path).returncode == 0
    release = _deb_release(tmp_path / "pins" / "pinmgr.toml")
    pinned = pinmgr("pin", "requests=2.31.0", "-E", "pip", "--role", "app", "--os", release,
                    "--yes", cwd=tmp_path)  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    formats = ("json", "junit", "sarif", "github", "markdown")
    outputs = [f"--output={fmt}={tmp_path / fmt}" for fmt in formats]
    done = pinmgr("check", *outputs, cwd=tmp_path)  # the table on stdout, the others in files
    assert done.returncode == 1, done.stdout + done.stderr
    for fmt, text in [("table", done.stdout), *((f, (tmp_path / f).read_text()) for f in formats)]:
        assert "not-checked" in text, fmt
        assert "no pip interpreter listed" in text.replace("\n", " "), fmt


def test_install_script_options(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "install.sh"
    assert (
        "usage: bash scripts/install.sh [--with-ansible]"
        in subprocess.run(
            ["bash", str(script), "--help"], capture_output=True, text=True, check=True
        ).stdout
    )
    wrong = subprocess.run(["bash", str(script), "--nope"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "unknown option --nope" in wrong.stderr
    pyproject = _toml((ROOT / "pyproject.toml").read_text())
    assert any(
        d.startswith("ansible-core")
        for d in pyproject["project"]["optional-dependencies"]["ansible"]
    )


# --- init --ansible over SSH -----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_lab(hostlab: LabFactory) -> Lab:
    return hostlab([HostSpec("fr-app1", role="app"), HostSpec("fr-db1", role="db")])


def test_init_from_an_ansible_inventory_then_check_over_ssh(small_lab: Lab, tmp_path: Path) -> None:
    lab = small_lab
    app, db = lab.hosts["fr-app1"], lab.hosts["fr-db1"]
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    ansible = tmp_path / "ansible"
    ansible.mkdir()
    (ansible / "hosts.ini").write_text(
        "[web]\n"
        f"web-a.invalid ansible_host={app.address} ansible_user={lab.user} "
        f"ansible_ssh_private_key_file={lab.client_key}\n"
        "\n[db]\n"
        f"db-a.invalid ansible_host={db.address} ansible_user={lab.user} "
        f"ansible_ssh_private_key_file={lab.client_key}\n"
    )
    init = pinmgr("init", "--ansible", "ansible/hosts.ini", "--known-hosts", str(known),
                  cwd=tmp_path)  # fmt: skip
    assert init.returncode == 0, init.stderr
    inv = (tmp_path / "pins" / "inventory.toml").read_text()
    assert 'inventory = "../ansible/hosts.ini"' in inv
    doc = _toml((tmp_path / "pins" / "pinmgr.toml").read_text())
    assert set(doc["roles"]) == {"web", "db"}  # the groups
    assert (
        doc["roles"]["db"]["debian-12"]["deb"]["postgresql-15"] == db.installed()["postgresql-15"]
    )
    assert doc["roles"]["web"]["debian-12"]["deb"]["bash"] == app.installed()["bash"]

    checked = pinmgr("check", "--known-hosts", str(known), "-f", "json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert {f["host"] for f in report["findings"]} == {"web-a.invalid", "db-a.invalid"}
    assert {f["kind"] for f in report["findings"]} == {"ok"}


def test_init_from_one_host_of_an_inventory(small_lab: Lab, tmp_path: Path) -> None:
    lab = small_lab
    db = lab.hosts["fr-db1"]
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    source = lab.write_inventory(tmp_path / "lab.toml")
    init = pinmgr("init", "--from", "fr-db1", "-i", str(source), "--known-hosts", str(known),
                  cwd=tmp_path)  # fmt: skip
    assert init.returncode == 0, init.stderr
    doc = _toml((tmp_path / "pins" / "pinmgr.toml").read_text())
    assert (
        doc["roles"]["db"]["debian-12"]["deb"]["postgresql-15"] == db.installed()["postgresql-15"]
    )
    inv = _toml((tmp_path / "pins" / "inventory.toml").read_text())
    written = inv["environments"][db.env]["hosts"]["fr-db1"]
    assert (written["address"], written["user"], written["roles"]) == (db.address, lab.user, ["db"])
    checked = pinmgr("check", "--known-hosts", str(known), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
