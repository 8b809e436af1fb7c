"""``accept --snapshot`` and ``emit ansible-playbook --snapshot`` end to end: the saved data
gives the same lockfile edit and the same playbook as the live run, and the refusal rules
(failed, stale, no-data hosts: exit 3) hold without contacting a host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.functional.test_snapshot_cli import INVENTORY, _document, host_packages, pinmgr

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")


def _planted_lockfile(tmp_path: Path, snapshot: Path) -> tuple[Path, str]:
    """A lockfile pinning this machine's bash to a version it does not run (and coreutils to
    the one it does); returns it and the installed bash version."""
    doc = _document(snapshot)
    host = doc["hosts"][0]  # type: ignore[index]
    release = f"{host['os_release']['id']}-{host['os_release']['version_id']}"
    installed = {name: row[2] for name, row in host_packages(doc, 0, "deb").items()}
    lockfile = tmp_path / "pins.toml"
    lockfile.write_text(
        f'schema = 1\n\n[roles.app."{release}".deb]\n'
        f'bash = "0.1-1"\ncoreutils = "{installed["coreutils"]}"\n'
    )
    return lockfile, installed["bash"]


def test_accept_from_a_snapshot_writes_what_a_live_accept_writes(tmp_path: Path) -> None:
    assert pinmgr("collect", "-o", "s.json.gz", "-q", cwd=tmp_path).returncode == 0
    planted, bash = _planted_lockfile(tmp_path, tmp_path / "s.json.gz")
    live_lock, saved_lock = tmp_path / "live.toml", tmp_path / "saved.toml"
    shutil.copy(planted, live_lock)
    shutil.copy(planted, saved_lock)

    live = pinmgr("accept", "-l", str(live_lock), "--yes", "-q", cwd=tmp_path)
    saved = pinmgr(
        "accept", "-l", str(saved_lock), "--snapshot", "s.json.gz", "--yes", cwd=tmp_path
    )
    assert live.returncode == saved.returncode == 0, (live.stderr, saved.stderr)
    assert saved_lock.read_text() == live_lock.read_text() != planted.read_text()
    assert f'bash = "{bash}"' in saved_lock.read_text()
    # And the accepted lockfile checks clean against the same snapshot.
    clean = pinmgr("check", "-l", str(saved_lock), "--snapshot", "s.json.gz", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout


def test_accept_from_a_snapshot_refuses_failed_stale_and_missing_hosts(tmp_path: Path) -> None:
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    inv = ["-i", "inventory.toml"]
    # down0..down5 are refused at once (port 1): the snapshot holds their failures.
    assert pinmgr("collect", *inv, "-o", "fleet.json", "-q", cwd=tmp_path).returncode == 3
    lockfile, _ = _planted_lockfile(tmp_path, tmp_path / "fleet.json")
    before = lockfile.read_bytes()
    accept = ["accept", "-l", str(lockfile), *inv, "--yes"]

    failed = pinmgr(*accept, "--snapshot", "fleet.json", cwd=tmp_path)
    assert failed.returncode == 3, failed.stderr
    assert "down0" in failed.stderr and "not accepting" in failed.stderr
    assert lockfile.read_bytes() == before

    # Only localhost, but its data is too old for --max-age: stale, refused.
    doc = _document(tmp_path / "fleet.json")
    hosts = [h for h in doc["hosts"] if h["name"] == "localhost"]  # type: ignore[attr-defined]
    hosts[0]["collected_at"] = "2020-01-01T00:00:00Z"
    (tmp_path / "old.json").write_text(json.dumps({**doc, "hosts": hosts}))
    # No inventory file here (-i not given): the snapshot's hosts are the inventory.
    no_inv = ["accept", "-l", str(lockfile), "--yes", "--snapshot", "old.json"]
    stale = pinmgr(*no_inv, "--max-age", "24h", cwd=tmp_path)
    assert stale.returncode == 3 and "localhost (lab): stale" in stale.stderr, stale.stderr
    assert lockfile.read_bytes() == before
    assert pinmgr(*no_inv, "--dry-run", cwd=tmp_path).returncode == 0  # without --max-age
    # The down hosts are in the inventory but not in old.json: no data, refused too.
    missing = pinmgr(*accept, "--snapshot", "old.json", cwd=tmp_path)
    assert missing.returncode == 3 and "down0 (lab): no-data" in missing.stderr, missing.stderr
    assert lockfile.read_bytes() == before

    alone = pinmgr("accept", "-l", str(lockfile), "--max-age", "1h", cwd=tmp_path)
    assert alone.returncode == 2 and "only with --snapshot" in alone.stderr


def test_emit_playbook_from_a_snapshot_equals_the_live_emit(tmp_path: Path) -> None:
    assert pinmgr("collect", "-o", "s.json", "-q", cwd=tmp_path).returncode == 0
    lockfile, _ = _planted_lockfile(tmp_path, tmp_path / "s.json")
    emit = ["emit", "ansible-playbook", "-l", str(lockfile), "--drift-only"]
    live = pinmgr(*emit, "--out", "live/fix.yml", "-q", cwd=tmp_path)
    saved = pinmgr(*emit, "--snapshot", "s.json", "--out", "saved/fix.yml", cwd=tmp_path)
    assert live.returncode == saved.returncode == 0, (live.stderr, saved.stderr)
    text = (tmp_path / "saved" / "fix.yml").read_text()
    assert text == (tmp_path / "live" / "fix.yml").read_text()
    assert "bash=0.1-1" in text and "coreutils" not in text


def test_emit_playbook_from_a_snapshot_names_failed_hosts_and_writes_the_rest(
    tmp_path: Path,
) -> None:
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    inv = ["-i", "inventory.toml"]
    assert pinmgr("collect", *inv, "-o", "fleet.json", "-q", cwd=tmp_path).returncode == 3
    lockfile, _ = _planted_lockfile(tmp_path, tmp_path / "fleet.json")
    result = pinmgr(
        "emit", "ansible-playbook", "-l", str(lockfile), *inv, "--drift-only",
        "--snapshot", "fleet.json", "--out", "fix.yml", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "down0 (unreachable" in result.stderr and "not in the playbook" in result.stderr
    text = (tmp_path / "fix.yml").read_text()
    assert "localhost" in text and "down0" not in text and "bash=0.1-1" in text
