"""``pinmgr check --snapshot`` on osquery results, end to end through the installed CLI.

osquery cannot be installed here (not in Debian or PyPI), so the oracle is this machine's real
dpkg database: its rows are written in osquery's own columns (``deb_packages`` is libdpkg's
name, version, arch and "want eflag status", read here through ``dpkg-query`` fields of the
same meaning; ``os_version`` splits VERSION_ID as osquery does) and in osquery's result-log
form. That log must give the findings of a pinmgr snapshot that ``pinmgr collect`` took of the
same machine at the same moment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.functional.cli import run_pinmgr

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "pins" / "pinmgr.toml"
DATA = ROOT / "tests" / "data" / "osquery"
DPKG_STATUS = Path("/var/lib/dpkg/status")
OSQUERY_DEB = "${Package}\t${Version}\t${Architecture}\t${db:Status-Want} ${db:Status-Eflag} ${db:Status-Status}\n"  # noqa: E501

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")

LOCALHOST = """\
schema = 1
[environments.lab.hosts.localhost]
transport = "local"
roles = ["app"]
"""
INVENTORY = (
    LOCALHOST
    + """\
[environments.lab.hosts.web9]
address = "192.0.2.9"
roles = ["app"]
"""
)


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=100, timeout=120, home=cwd)


def _findings(stdout: str) -> list[tuple[str, ...]]:
    doc = json.loads(stdout)
    return sorted(
        (f["host"], f["kind"], f["package"] or "", f["expected"] or "", f["actual"] or "")
        for f in doc["findings"]
    )


def _os_version_row() -> dict[str, str]:
    """``os_version`` as osquery fills it from /etc/os-release (VERSION_ID split on dots)."""
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"')
    parts = [*values.get("VERSION_ID", "").split(".", 2), "", ""]
    return {
        "name": values.get("NAME", ""),
        "version": values.get("VERSION", ""),
        "major": parts[0],
        "minor": parts[1],
        "patch": parts[2],
        "build": "",
        "platform": values.get("ID", ""),
        "platform_like": values.get("ID_LIKE", ""),
        "codename": values.get("VERSION_CODENAME", ""),
        "arch": os.uname().machine,
    }


def _osquery_log(host: str, when: int) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", OSQUERY_DEB], capture_output=True, text=True, check=True
    ).stdout
    head = {"hostIdentifier": host, "calendarTime": "", "unixTime": when, "epoch": 0,
            "counter": 0, "numerics": False}  # fmt: skip
    lines = [{"name": "pack_pinmgr_os_version", **head, "columns": _os_version_row(),
              "action": "added"}]  # fmt: skip
    for row in out.splitlines():
        name, version, arch, status = row.split("\t")
        columns = {"name": name, "version": version, "arch": arch, "status": status,
                   "admindir": "/var/lib/dpkg", "pid_with_namespace": "0"}  # fmt: skip
        lines.append({"name": "pack_pinmgr_deb_packages", **head, "columns": columns,
                      "action": "added"})  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines)


def _dpkg_state() -> str:
    return hashlib.sha256(DPKG_STATUS.read_bytes()).hexdigest()


def test_osquery_log_of_this_machine_equals_its_pinmgr_snapshot(tmp_path: Path) -> None:
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    (tmp_path / "localhost.toml").write_text(LOCALHOST)
    for _ in range(3):  # another process may be changing the package database meanwhile
        before = _dpkg_state()
        collected = pinmgr(
            "collect", "-i", "localhost.toml", "-o", "snap.json", "--quiet", cwd=tmp_path
        )
        log = _osquery_log("localhost", int(os.path.getmtime(tmp_path / "snap.json")))
        if _dpkg_state() == before:
            break
    assert collected.returncode == 0, collected.stderr
    (tmp_path / "osqueryd.results.log").write_text(log)
    base = ["check", "-l", str(LOCK), "-i", "inventory.toml", "-f", "json", "--quiet"]
    from_snapshot = pinmgr(*base, "--snapshot", "snap.json", cwd=tmp_path)
    from_osquery = pinmgr(*base, "--snapshot", "osqueryd.results.log", cwd=tmp_path)
    assert from_osquery.returncode == from_snapshot.returncode == 3, from_osquery.stderr
    got = _findings(from_osquery.stdout)
    assert got == _findings(from_snapshot.stdout)
    assert [f[:2] for f in got if f[0] == "web9"] == [("web9", "no-data")]
    assert [f for f in got if f[0] == "localhost"]  # the lockfile's pins were checked


def test_fixture_logs_hosts_bound_to_the_inventory(tmp_path: Path) -> None:
    """Event, batch and snapshot logs together: env and roles from the inventory, a host only
    in the data is not-in-inventory, one only in the inventory no-data, old data stale."""
    (tmp_path / "inventory.toml").write_text(
        'schema = 1\n[environments.prod.hosts."web1.example.com"]\nroles = ["app"]\n'
        'pip = ["/srv/app/venv"]\n[environments.prod.hosts.web2]\nroles = ["app"]\n'
        '[environments.prod.hosts.db1]\nroles = ["db"]\n'
        '[environments.prod.hosts.web9]\nroles = ["app"]\n'
    )
    (tmp_path / "pins.toml").write_text(
        'schema = 1\n[roles.app."debian-12".deb]\nopenssl = "3.0.22-1~deb12u2"\n'
        '"libc6:i386" = "2.36-9+deb12u14"\n[roles.app."debian-12".pip]\nDjango = "4.2.17"\n'
        '[roles.app."ubuntu-22.04".deb]\nlibc6 = "2.35-0ubuntu3.8"\n'
        '[roles.db."rocky-9".rpm]\nopenssl = "1:3.0.7-27.el9"\npostgresql = "13.16-1.el9_4"\n'
    )
    logs = [str(DATA / n) for n in ("results-event.log", "results-batch.log", "snapshots.log")]
    args = ["check", "-l", "pins.toml", "-i", "inventory.toml", "-f", "json"]
    for log in logs:
        args += ["--snapshot", log]
    result = pinmgr(*args, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    kinds = {(f[0], f[1], f[2]) for f in _findings(result.stdout)}
    assert kinds >= {
        ("web1.example.com", "ok", "openssl"),
        ("web1.example.com", "ok", "libc6:i386"),
        ("web1.example.com", "drift", "django"),
        ("web2", "ok", "libc6"),
        ("db1", "ok", "openssl"),
        ("db1", "ok", "postgresql"),
        ("web9", "no-data", ""),
        ("web4.example.com", "not-in-inventory", ""),
    }, kinds
    stale = pinmgr(*args, "--max-age", "1d", cwd=tmp_path)
    assert stale.returncode == 3
    assert ("db1", "stale") in {f[:2] for f in _findings(stale.stdout)}


def test_the_newer_copy_of_a_host_wins_and_says_so(tmp_path: Path) -> None:
    """web2 in an osqueryi export (written now) and in a snapshot log (2026-12-05): the export
    is kept, and the report names both."""
    (tmp_path / "inventory.toml").write_text(
        'schema = 1\n[environments.prod.hosts.web2]\nroles = ["app"]\n'
    )
    (tmp_path / "pins.toml").write_text('schema = 1\n[roles.app."debian-12".deb]\nbash = "1"\n')
    export = tmp_path / "export"
    export.mkdir()
    for table in ("deb_packages", "os_version"):
        shutil.copy(DATA / "osqueryi" / f"web3.{table}.json", export / f"web2.{table}.json")
    args = ["check", "-l", "pins.toml", "-i", "inventory.toml", "-f", "json"]
    result = pinmgr(*args, "--snapshot", str(DATA / "snapshots.log"), "--snapshot", "export",
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert [f["actual"] for f in doc["findings"] if f["package"] == "bash"] == ["5.2.15-2+b13"]
    text = json.dumps(doc["warnings"])
    assert "kept osqueryi export/web2.deb_packages.json" in text, text
    assert "ignored pack_pinmgr_deb_packages in " in text and "snapshots.log" in text, text


def test_a_bad_log_line_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    good = (DATA / "snapshots.log").read_text().splitlines()[0]
    (tmp_path / "bad.log").write_text(good + '\n{"name": "x", "hostIdentifier": 7}\n')
    result = pinmgr("check", "-l", str(LOCK), "--snapshot", "bad.log", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pinmgr: error: bad.log:2: ")
