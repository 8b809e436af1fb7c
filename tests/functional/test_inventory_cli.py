"""``pinmgr validate`` and ``pinmgr inventory`` on ssh_config sources, through the CLI.

Every config of the differential corpus (tests/data/ssh_config/) is given to ``validate`` as
an ssh_config source: never a traceback, and each problem is one ``pinmgr: error:`` line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "ssh_config"
LOCK = 'schema = 1\n\n[roles.app."debian-12".deb]\nbash = "5.2.15-2+b2"\n'


def pinmgr(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _concrete(config: Path) -> set[str]:
    """Concrete names on Host lines, read naively (one Include-free level is enough here)."""
    names = set()
    for line in config.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0].lower() == "host":
            names |= {w.strip('"') for w in words[1:] if not set(w) & set("*?!")}
    return names


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    shutil.copytree(CORPUS / "dot-ssh", home / ".ssh")
    (tmp_path / "pinmgr.toml").write_text(LOCK)
    return tmp_path, home


def _inventory(directory: Path, config: Path, extra: str = "") -> Path:
    inv = directory / "inventory.toml"
    inv.write_text(
        f'schema = 1\n{extra}\n[[sources]]\ntype = "ssh_config"\npath = "{config}"\n'
        'env = "production"\nhosts = { "*" = "app" }\n'
    )
    return inv


@pytest.mark.parametrize("config", sorted(CORPUS.glob("*.conf")), ids=lambda p: p.stem)
def test_validate_never_prints_a_traceback(project: tuple[Path, Path], config: Path) -> None:
    directory, home = project
    inv = _inventory(directory, config)
    result = pinmgr(home, "validate", "-l", "pinmgr.toml", "-i", str(inv), cwd=directory)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    listing = pinmgr(home, "inventory", "-i", str(inv), "-f", "json", cwd=directory)
    assert listing.returncode == 0, listing.stderr
    names = {h["host"] for h in json.loads(listing.stdout)["hosts"]}
    assert _concrete(config) <= names  # (Includes may name more)


def test_a_host_the_config_cannot_place_is_reported_once_and_the_others_load(
    project: tuple[Path, Path],
) -> None:
    directory, home = project
    config = directory / "ssh_config"
    config.write_text("Host good\n  HostName 10.0.0.1\nHost bad\n  HostName x-%n\n")
    inv = _inventory(directory, config)
    why = f"{config}:4:3: ssh_config host 'bad': unknown token %n in 'x-%n'"
    result = pinmgr(home, "validate", "-l", "pinmgr.toml", "-i", str(inv), cwd=directory)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"pinmgr: warning: {why}; host left out"]
    strict = pinmgr(
        home, "validate", "-l", "pinmgr.toml", "-i", str(inv), "--strict", cwd=directory
    )  # fmt: skip
    assert strict.returncode == 2
    errors = [line for line in strict.stderr.splitlines() if line.startswith("pinmgr: error:")]
    assert errors == [f"pinmgr: error: {why}"]
    listing = pinmgr(home, "inventory", "-i", str(inv), cwd=directory)
    assert listing.returncode == 0
    hosts, left_out = listing.stdout.split("\n\n")
    assert [line.split()[1] for line in hosts.splitlines()[1:]] == ["good"]
    assert left_out.splitlines()[0].split() == ["LEFT", "OUT", "WHERE", "WHY"]
    assert left_out.splitlines()[1].split(None, 2) == [
        "bad",
        f"{config}:4:3",
        why.split(": ", 1)[1],
    ]
    assert listing.stderr.splitlines() == [f"pinmgr: warning: {why}; host left out"]
    as_json = pinmgr(home, "inventory", "-i", str(inv), "-f", "json", cwd=directory)
    assert json.loads(as_json.stdout)["left_out"] == [
        {"host": "bad", "reason": why.split(": ", 1)[1], "location": f"{config}:4:3"}
    ]
    strict_listing = pinmgr(home, "inventory", "-i", str(inv), "--strict", cwd=directory)
    assert strict_listing.returncode == 2
    assert f"pinmgr: error: {why}; host left out" in strict_listing.stderr.splitlines()


def test_inventory_shows_what_each_host_resolves_to(project: tuple[Path, Path]) -> None:
    """The issue's Match Host case, end to end: `plain` is `other`, `i-1` is `ec2-user`."""
    directory, home = project
    config = CORPUS / "issue-match-host-case.conf"
    inv = _inventory(
        directory, config, '[environments.production.hosts.plain]\nroles = ["app"]\n'
        '[environments.production.hosts.i-1]\nroles = ["app"]\nkey = "k"\n'
        'proxy_jump = "ops@bastion:2200"\n',
    )  # fmt: skip
    result = pinmgr(
        home, "inventory", "-i", str(inv), "--ssh-config", str(config), "-f", "json",
        cwd=directory,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["plain"]["user"] == "other"
    assert hosts["i-1"]["user"] == "ec2-user"
    assert hosts["i-1"]["keys"] == [str(directory / "k")]
    assert [j["to"] for j in hosts["i-1"]["jumps"]] == ["ops@bastion:2200"]
    assert hosts["plain"]["source"] == f"{inv}:2:1"
    table = pinmgr(home, "inventory", "-i", str(inv), "--ssh-config", str(config), cwd=directory)
    assert table.stdout.splitlines()[0].split() == [
        "ENV", "HOST", "ROLES", "TRANSPORT", "ADDRESS", "USER", "KEYS", "VIA", "SOURCE",
    ]  # fmt: skip
    assert "ops@bastion:2200" in table.stdout


def test_strict_host_key_checking_no_is_a_warning_not_obeyed(project: tuple[Path, Path]) -> None:
    directory, home = project
    config = directory / "ssh_config"
    config.write_text("Host lax\n  StrictHostKeyChecking no\n")
    inv = _inventory(directory, config)
    result = pinmgr(home, "inventory", "-i", str(inv), cwd=directory)
    assert result.returncode == 0
    (warning,) = result.stderr.splitlines()
    assert warning.endswith(
        "host 'lax': ssh_config sets StrictHostKeyChecking no; pinmgr checks host keys anyway"
    )
    # A caveat, not a host left out: still a warning (exit 0) with --strict.
    strict = pinmgr(
        home, "validate", "-l", "pinmgr.toml", "-i", str(inv), "--strict", cwd=directory
    )  # fmt: skip
    assert strict.returncode == 0, strict.stderr
    assert strict.stderr.splitlines() == [warning]


def test_check_warns_once_about_a_host_left_out_and_checks_the_others(
    project: tuple[Path, Path],
) -> None:
    directory, home = project
    config = directory / "ssh_config"
    config.write_text("Host bad\n  HostName x-%n\n")
    inv = _inventory(
        directory, config,
        '[environments.local.hosts.here]\nroles = ["app"]\ntransport = "local"\n',
    )  # fmt: skip
    result = pinmgr(
        home, "check", "-l", "pinmgr.toml", "-i", str(inv), "-f", "json", "-q",
        "--fail-on", "never", cwd=directory,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: warning:")]
    assert len(warnings) == 1 and "ssh_config host 'bad': unknown token %n" in warnings[0]
    assert warnings[0].endswith("; host left out")
    assert {f["host"] for f in json.loads(result.stdout)["findings"]} == {"here"}
