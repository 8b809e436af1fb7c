"""Small things users hit, end to end through the installed CLI (no lab needed).

A selection of zero hosts, a timeout of zero, a typo in ``pin --role`` and a read-only lockfile
are all usage errors (exit 2) with one line saying what to do, never a silent "all clean".
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from pinmgr.cli import app

ROOT = Path(__file__).resolve().parents[2]

LOCK = """\
schema = 1

[roles.app."debian-12".deb]
nginx = "1.22.1-9"

[roles.db."debian-12".deb]
postgresql-15 = "15.8-0+deb12u1"
"""

INVENTORY = """\
schema = 1

[environments.staging.hosts.web1]
transport = "local"
roles = ["app"]

[environments.production.hosts.db1]
transport = "local"
roles = ["db"]
"""


def pinmgr(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin not a terminal (as in CI): nothing may wait for an answer."""
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(LOCK)
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(INVENTORY)
    return lock, inventory


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pinmgr: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --------------------------------------------------------------------- zero hosts selected

ZERO = ("--env", "staging", "--role", "db")  # both exist, but no staging host is a db


@pytest.mark.parametrize(
    "command",
    [
        ("check", "-q"),
        ("check", "-q", "-f", "json"),
        ("outdated", "-q"),
        ("accept", "-q", "--dry-run"),
        ("emit", "ansible-playbook", "-q", "--out", "PLAYBOOK"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_zero_hosts_selected_is_a_usage_error_naming_the_filters(
    files: tuple[Path, Path], command: tuple[str, ...], tmp_path: Path
) -> None:
    lock, inventory = files
    args = [a.replace("PLAYBOOK", str(tmp_path / "fix.yml")) for a in command]
    result = pinmgr(*args, "-l", str(lock), "-i", str(inventory), *ZERO)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result)
    assert f"no hosts selected (--env staging --role db in {inventory})" in line
    assert result.stdout == ""  # no report that could be read as "all clean"
    assert not (tmp_path / "fix.yml").exists()


def test_diff_of_sides_with_no_hosts_is_a_usage_error(files: tuple[Path, Path]) -> None:
    _, inventory = files
    result = pinmgr("diff", "staging", "staging", "-q", "-i", str(inventory), "--role", "db")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no hosts selected (--role db in" in one_error_line(result)


def test_a_selection_with_hosts_still_runs(files: tuple[Path, Path]) -> None:
    lock, inventory = files
    result = pinmgr("check", "-q", "-f", "json", "-l", str(lock), "-i", str(inventory))
    assert result.returncode in (0, 1), result.stderr  # this machine's versions decide
    assert json.loads(result.stdout)["summary"]["hosts_total"] == 2


# --------------------------------------------------------------------- timeouts and jobs


def commands_with(option: str) -> list[list[str]]:
    """Every command (and subcommand) that has ``option``, as argv prefixes."""
    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
            return
        params = getattr(cmd, "params", [])
        if any(option in p.opts for p in params):
            found.append(path)

    walk(get_command(app), [])
    return found


@pytest.mark.parametrize("option", ["--timeout", "--connect-timeout", "--jobs"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_non_positive_limits_are_usage_errors_on_every_command(
    files: tuple[Path, Path], option: str, value: str
) -> None:
    lock, inventory = files
    commands = commands_with(option)
    assert len(commands) >= 5, commands  # check, diff, outdated, accept, emit ansible-playbook
    with_lockfile = commands_with("-l")
    for command in commands:
        # diff compares two environments and reads no lockfile; collect reads none either
        if command == ["diff"]:
            args = ["production", "staging"]
        elif command == ["init"]:  # writes a new lockfile and inventory into --dir
            args = ["--dir", str(lock.parent / "new"), "--from", "web1"]
        elif command in with_lockfile:
            args = ["-l", str(lock)]
        else:
            args = ["-o", str(lock.parent / "out.json")]
        result = pinmgr(*command, *args, "-i", str(inventory), option, value)
        assert result.returncode == 2, (command, result.stderr)
        assert option in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr


# --------------------------------------------------------------------- pin --role


def test_pin_unknown_role_without_terminal_suggests_the_nearest(files: tuple[Path, Path]) -> None:
    lock, _ = files
    result = pinmgr("pin", "nginx=1.22.1-10", "--role", "ap", "--os", "debian-12", "--yes",
                    "-l", str(lock))  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result)
    assert f"role 'ap' is not in {lock} (did you mean 'app'? roles: app, db)" in line
    assert line.endswith("to create it, add --new-role")
    assert lock.read_text() == LOCK


def test_pin_new_role_is_created_with_new_role(files: tuple[Path, Path]) -> None:
    lock, _ = files
    result = pinmgr("pin", "nginx=1.22.1-10", "--role", "edge", "--new-role", "--os", "debian-12",
                    "--yes", "-l", str(lock))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '[roles.edge."debian-12".deb]\nnginx = "1.22.1-10"' in lock.read_text()


def test_pin_known_role_needs_no_new_role(files: tuple[Path, Path]) -> None:
    lock, _ = files
    result = pinmgr("pin", "nginx=1.22.1-10", "--role", "app", "--os", "debian-12", "--yes",
                    "-l", str(lock))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'nginx = "1.22.1-10"' in lock.read_text()


# --------------------------------------------------------------------- read-only lockfile


@pytest.mark.parametrize(
    "command",
    [
        ("pin", "nginx=1.22.1-10", "--role", "app", "--os", "debian-12", "--yes"),
        ("unpin", "nginx", "--role", "app", "--os", "debian-12", "--yes"),
        ("fmt",),
    ],
    ids=lambda c: c[0],
)
def test_read_only_lockfile_is_not_replaced(
    files: tuple[Path, Path], command: tuple[str, ...]
) -> None:
    lock, _ = files
    if command == ("fmt",):
        lock.write_text(LOCK.replace('nginx = "', 'nginx="'))  # something to format
    before = lock.read_bytes()
    lock.chmod(0o444)  # read-only for everyone; as root, rename would replace it anyway
    result = pinmgr(*command, "-l", str(lock))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{lock} is read-only (no write permission); nothing written" in one_error_line(result)
    assert lock.read_bytes() == before
    assert stat.S_IMODE(lock.stat().st_mode) == 0o444


@pytest.mark.parametrize(("answer", "created"), [("y", True), ("n", False)])
def test_pin_unknown_role_on_a_terminal_asks_first(
    files: tuple[Path, Path], answer: str, created: bool
) -> None:
    """On a terminal the question names the nearest role; only "y" creates the new one."""
    import pty

    lock, _ = files
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinmgr", "pin", "nginx=1.22.1-10", "--role", "dbs", "--os",
         "debian-12", "--yes", "-l", str(lock)],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    out, err = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, err
    assert "role 'dbs' is not in" in out and "did you mean 'db'?" in out
    assert ('[roles.dbs."debian-12".deb]' in lock.read_text()) is created
    if not created:
        assert lock.read_text() == LOCK and "nothing written" in out
