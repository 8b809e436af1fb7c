"""The installed CLI end to end on this machine: real dpkg-query, real files, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "pins"


def pinmgr(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")


@needs_dpkg
def test_bundled_pins_show_ok_drift_and_missing_on_this_machine() -> None:
    result = pinmgr("check", "--format", "json", "--quiet")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "pinmgr.check/1"
    kinds = {f["kind"] for f in doc["findings"]}
    assert {"ok", "drift", "missing"} <= kinds, kinds
    # Every pin finding points back at its line in the lockfile.
    lines = (PINS / "pinmgr.toml").read_text().splitlines()
    for f in doc["findings"]:
        if f["location"] and f["package"]:
            assert f["package"].split(":")[0] in lines[f["location"]["line"] - 1]
    # The bundled inventory lists no interpreter for localhost: its pip pins are said unchecked.
    assert "not-checked" in kinds


@needs_dpkg
def test_table_output_is_plain_with_no_color_and_fits_80_columns() -> None:
    result = pinmgr("check", "--quiet", env={"COLUMNS": "80"})
    assert result.returncode == 1
    assert "\x1b" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "drift" in result.stdout and "missing" in result.stdout
    assert "Traceback" not in result.stderr


@needs_dpkg
def test_check_is_clean_when_pins_match_the_machine(tmp_path: Path) -> None:
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    key = f"{release['ID'].strip(chr(34)).lower()}-{release['VERSION_ID'].strip(chr(34))}"
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(f'schema = 1\n\n[roles.app."{key}".deb]\ndpkg = "{version}"\n')
    result = pinmgr("check", "-l", str(lock), "-i", str(tmp_path / "none.toml"), "-q")
    assert result.returncode == 2  # an explicitly named inventory that does not exist
    assert "no such inventory" in result.stderr
    result = pinmgr("check", "-l", str(lock), "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 ok" in result.stdout


def test_validate_lists_all_three_mistakes_with_line_and_column(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(
        "schema = 1\n"
        "\n"
        '[roles.app."debian-12".deb]\n'
        'nginx = "1.22.1-9"\n'
        'curl = "1:"\n'  # invalid deb version: nothing after the colon
        '[roles.app."debian-12".snap]\n'  # unknown ecosystem
        'core = "16"\n'
        '[roles.app."ubuntu-22.04".deb]\n'
        "bash = 5\n"  # not a string
    )
    result = pinmgr("validate", "-l", str(lock), cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: error:")]
    assert len(errors) == 3, result.stderr
    assert f"{lock}:5:" in errors[0] or any(f"{lock}:5:" in e for e in errors)
    assert any(f"{lock}:6:" in e for e in errors)
    assert any(f"{lock}:9:" in e for e in errors)
    assert "3 problems found" in result.stderr


def test_malformed_lockfile_is_one_line_error_exit_2(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_text('schema = 1\n[roles.app."debian-12".deb\nnginx = "1"\n')
    before = lock.read_bytes()
    result = pinmgr("check", "-l", str(lock), "-q", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"pinmgr: error: {lock}:2:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert lock.read_bytes() == before


def test_unknown_environment_and_role_are_usage_errors() -> None:
    result = pinmgr("check", "--env", "prod", "-q")
    assert result.returncode == 2
    assert "unknown environment 'prod'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_lockfile_is_a_clear_error(tmp_path: Path) -> None:
    result = pinmgr("check", "-q", cwd=tmp_path)
    assert result.returncode == 2
    assert "no such lockfile" in result.stderr


def test_every_command_has_help_and_docs_are_current() -> None:
    for args in (["--help"], ["check", "--help"], ["validate", "--help"], ["diff", "--help"]):
        result = pinmgr(*args)
        assert result.returncode == 0 and "Usage:" in result.stdout
    docs = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert docs.returncode == 0, docs.stderr


def test_cli_import_does_not_load_paramiko() -> None:
    code = "import sys, pinmgr.cli; print('paramiko' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_dpkg
def test_local_check_does_not_load_paramiko() -> None:
    code = (
        "import sys\n"
        "from pinmgr import api\n"
        "api.check('pins/pinmgr.toml', 'pins/inventory.toml')\n"
        "print('paramiko' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"
