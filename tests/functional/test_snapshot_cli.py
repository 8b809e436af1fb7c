"""``pinmgr collect`` and ``pinmgr check --snapshot`` end to end: the installed CLI, this
machine's real dpkg, real (refused) SSH connections, real files and exit codes."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.functional.cli import run_pinmgr

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "pins" / "pinmgr.toml"
SCHEMA = json.loads((ROOT / "docs" / "snapshot.schema.json").read_text())

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")

# localhost is collected for real; the others are refused at once (nothing listens on port 1).
INVENTORY = """\
schema = 1

[environments.lab.hosts.localhost]
transport = "local"
roles = ["app"]
""" + "".join(
    f"""
[environments.lab.hosts.down{i}]
address = "127.0.0.1"
port = 1
roles = ["app"]
"""
    for i in range(6)
)


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=100, timeout=120, home=cwd)


def _document(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    doc = json.loads(data)
    assert isinstance(doc, dict)
    return doc


def host_packages(doc: dict[str, Any], index: int, ecosystem: str) -> dict[str, list[str]]:
    """Host ``index``'s packages of one ecosystem in a format-2 snapshot document, by name: the
    ``package_table`` rows themselves (``[eco, name, version, arch, state, origin]``), so
    changing one changes the document."""
    table = doc["package_table"]
    rows = (table[i] for i in doc["hosts"][index]["packages"])
    return {row[1]: row for row in rows if row[0] == ecosystem}


def _findings(stdout: str) -> list[tuple[str, str, str, str]]:
    doc = json.loads(stdout)
    return sorted((f["host"], f["kind"], f["package"], f["actual"]) for f in doc["findings"])


def test_collect_then_check_the_snapshot_equals_a_live_check(tmp_path: Path) -> None:
    result = pinmgr("collect", "-o", "fleet.json.gz", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "fleet.json.gz: 1 host written\n"
    doc = _document(tmp_path / "fleet.json.gz")
    jsonschema.validate(doc, SCHEMA)
    assert doc["pinmgr_version"] and doc["hosts"][0]["name"] == "localhost"  # type: ignore[index]

    live = pinmgr("check", "-l", str(LOCK), "-f", "json", "--quiet", cwd=tmp_path)
    saved = pinmgr(
        "check", "-l", str(LOCK), "-f", "json", "--snapshot", "fleet.json.gz", cwd=tmp_path
    )
    assert saved.returncode == live.returncode == 1, saved.stderr
    assert _findings(saved.stdout) == _findings(live.stdout)


def test_shards_split_the_fleet_and_check_merges_them(tmp_path: Path) -> None:
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    inv = ["-i", "inventory.toml"]
    names: list[str] = []
    for k in (1, 2, 3):
        out = f"shard-{k}.json"
        result = pinmgr("collect", *inv, "--shard", f"{k}/3", "-o", out, "-q", cwd=tmp_path)
        doc = _document(tmp_path / out)
        jsonschema.validate(doc, SCHEMA)
        hosts = doc["hosts"]
        assert isinstance(hosts, list)
        names += [h["name"] for h in hosts]
        failed = [h for h in hosts if "failure" in h]
        # Written even when hosts failed; exit 3 exactly then, as for check.
        assert result.returncode == (3 if failed else 0), result.stderr
        for h in failed:
            assert h["failure"]["kind"] == "unreachable"
        assert doc["selection"] == {"envs": [], "roles": [], "shard": f"{k}/3"}
    assert sorted(names) == sorted(["localhost", *(f"down{i}" for i in range(6))])

    shards = [a for k in (1, 2, 3) for a in ("--snapshot", f"shard-{k}.json")]
    result = pinmgr("check", "-l", str(LOCK), *inv, *shards, "-f", "json", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    by_host: dict[str, set[str]] = {}
    for host, kind, _, _ in _findings(result.stdout):
        by_host.setdefault(host, set()).add(kind)
    assert set(by_host) == set(names)
    assert all(by_host[f"down{i}"] == {"unreachable"} for i in range(6))
    assert {"ok", "drift"} <= by_host["localhost"]
    # A quoted glob gives the same as the three paths.
    globbed = pinmgr(
        "check", "-l", str(LOCK), *inv, "--snapshot", "shard-*.json", "-f", "json", cwd=tmp_path
    )
    assert globbed.returncode == 3 and _findings(globbed.stdout) == _findings(result.stdout)
    nothing = pinmgr("check", "-l", str(LOCK), "--snapshot", "nope-*.json", cwd=tmp_path)
    assert nothing.returncode == 2 and "nope-*.json: no such snapshot" in nothing.stderr

    # A shard left out: its hosts are no-data, never silently skipped.
    result = pinmgr("check", "-l", str(LOCK), *inv, *shards[:2], "-f", "json", cwd=tmp_path)
    doc = json.loads(result.stdout)
    first = {h["name"] for h in _document(tmp_path / "shard-1.json")["hosts"]}  # type: ignore[union-attr]
    no_data = {f["host"] for f in doc["findings"] if f["kind"] == "no-data"}
    assert no_data == set(names) - first
    assert result.returncode == 3


def test_stale_snapshot_exits_3_with_the_age(tmp_path: Path) -> None:
    assert pinmgr("collect", "-o", "s.json", "-q", cwd=tmp_path).returncode == 0
    doc = _document(tmp_path / "s.json")
    doc["hosts"][0]["collected_at"] = "2020-01-01T00:00:00Z"  # type: ignore[index]
    (tmp_path / "s.json").write_text(json.dumps(doc))
    args = ["check", "-l", str(LOCK), "--snapshot", "s.json"]
    result = pinmgr(*args, "--max-age", "24h", cwd=tmp_path)
    assert result.returncode == 3
    assert "stale" in result.stdout and "collected 2020-01-01T00:00:00Z" in result.stdout
    assert pinmgr(*args, cwd=tmp_path).returncode == 1  # no --max-age: checked as it is
    bad = pinmgr(*args, "--max-age", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "--max-age" in bad.stderr
    alone = pinmgr("check", "-l", str(LOCK), "--max-age", "1h", cwd=tmp_path)
    assert alone.returncode == 2 and "only with --snapshot" in alone.stderr


def test_diff_two_snapshots_without_ssh(tmp_path: Path) -> None:
    assert pinmgr("collect", "-o", "a.json", "-q", cwd=tmp_path).returncode == 0
    doc = _document(tmp_path / "a.json")
    host = doc["hosts"][0]  # type: ignore[index]
    host.update(name="twin", env="staging")
    bash = host_packages(doc, 0, "deb")["bash"]
    bash[2] = "1:" + bash[2]  # an epoch: newer than anything without one
    (tmp_path / "b.json").write_text(json.dumps(doc))
    args = ["diff", "local", "staging", "--snapshot", "a.json", "--snapshot", "b.json"]
    result = pinmgr(*args, "-f", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)["differences"]
    assert [r["package"] for r in rows] == ["bash"], rows
    same = pinmgr("diff", "local", "local", "--snapshot", "a.json", cwd=tmp_path)
    assert same.returncode == 0, same.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{", "bad.json:1:2: not JSON"),
        (b'{"format": "pinmgr-snapshot", "format_version": 9}', "format_version 9 is newer"),
        (b"\x1f\x8b\x08\x00junk", "bad.json: cannot read"),
        (b'{"format": "pinmgr-snapshot", "format_version": 1, "hosts": [{"name": "w\\u001b"}]}',
         "host w\\x1b: env: expected a string"),
        (b"[1, 2]", "neither a pinmgr snapshot nor Ansible facts"),
    ],
)  # fmt: skip
def test_malformed_input_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "bad.json").write_bytes(content)
    result = pinmgr("check", "-l", str(LOCK), "--snapshot", "bad.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pinmgr: error: bad.json")
    assert expected in result.stderr


def test_collect_needs_output_and_a_valid_shard(tmp_path: Path) -> None:
    assert pinmgr("collect", cwd=tmp_path).returncode == 2
    result = pinmgr("collect", "-o", "x.json", "--shard", "4/3", cwd=tmp_path)
    assert result.returncode == 2 and "--shard '4/3'" in result.stderr
    assert not (tmp_path / "x.json").exists()
    nowhere = pinmgr("collect", "-o", "no/such/dir/x.json", "--env", "nope", cwd=tmp_path)
    assert nowhere.returncode == 2 and "no directory" in nowhere.stderr  # before anything else


ANSIBLE = Path(sys.executable).parent / "ansible-playbook"


@pytest.mark.skipif(not ANSIBLE.exists(), reason="needs ansible-core (test extras)")
def test_check_an_ansible_fact_cache_written_by_ansible(tmp_path: Path) -> None:
    """The real ansible-playbook (setup + package_facts) fills a jsonfile cache; checked with
    the same Ansible inventory (as a pinmgr inventory source), it gives what a live check of
    this machine gives, and the inventory host Ansible has no facts for is no-data."""
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: true\n  tasks:\n    - ansible.builtin.package_facts:\n"
    )
    # One Ansible inventory for both tools: groups give pinmgr env (local) and role (app).
    (tmp_path / "hosts.ini").write_text(
        "[local]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
        "web9 ansible_host=192.0.2.9\n[app]\nlocalhost\nweb9\n"
    )
    for d in ("home", "tmp"):
        (tmp_path / d).mkdir()
    env = {
        "PATH": f"{ANSIBLE.parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        # The "remote" side of a local connection expands ~ itself: keep it out of ~ too.
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"),
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONWARNINGS": "ignore",
    }
    subprocess.run(
        [str(ANSIBLE), "-i", "hosts.ini", "--limit", "localhost", "play.yml"],
        cwd=tmp_path, env=env, capture_output=True, timeout=240, check=True,
    )  # fmt: skip
    (tmp_path / "inventory.toml").write_text(
        'schema = 1\n[[sources]]\ntype = "ansible"\ninventory = "hosts.ini"\n'
    )
    base = ["check", "-l", str(LOCK), "-i", "inventory.toml", "-f", "json", "--quiet"]
    saved = pinmgr(*base, "--snapshot", "facts", cwd=tmp_path)
    live = pinmgr("check", "-l", str(LOCK), "-f", "json", "--quiet", cwd=tmp_path)
    assert saved.returncode == 3, saved.stderr  # web9 has no data
    got = _findings(saved.stdout)
    assert [f[:2] for f in got if f[0] == "web9"] == [("web9", "no-data")]
    # pip pins: the live check has no pip interpreters for localhost either.
    assert [f for f in got if f[0] == "localhost"] == _findings(live.stdout)


def test_saved_data_is_checked_without_reading_the_openssh_config(tmp_path: Path) -> None:
    """Saved hosts are matched to the inventory by name and none is contacted: an OpenSSH
    config that breaks a live check (or leaves a host out) changes nothing for saved data."""
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    inv = ["-i", "inventory.toml"]
    assert pinmgr("collect", *inv, "-o", "s.json", "-q", cwd=tmp_path).returncode == 3
    check = ["check", "-l", str(LOCK), *inv, "-f", "json", "--no-history"]
    clean = pinmgr(*check, "--snapshot", "s.json", cwd=tmp_path)
    assert clean.returncode == 3, clean.stderr
    for config, said, live_exit in (
        ("Match bogus\n", "bad_config:1:1: Missing Match criteria", 2),
        ("Host *\n  HostName %z\n", "host 'down0': unknown token %z in '%z'; host left out", 1),
    ):
        (tmp_path / "bad_config").write_text(config)
        live = pinmgr(*check, "--ssh-config", "bad_config", cwd=tmp_path)
        assert live.returncode == live_exit and said in live.stderr, live.stderr
        saved = pinmgr(*check, "--ssh-config", "bad_config", "--snapshot", "s.json", cwd=tmp_path)
        assert saved.returncode == 3, saved.stderr
        assert _findings(saved.stdout) == _findings(clean.stdout)
        assert "bad_config" not in saved.stderr
