"""Every command that contacts hosts exits 3 when one could not be collected, as check does.

One lab: a real sshd host, a host whose address has no route and one that refuses the
connection. Each collecting command runs end to end against them and must exit 3 with one
``pinmgr: error:`` line naming the host and the cause.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
DEB = BASE_PACKAGES["debian-12"]
PINS = f"""\
schema = 1

[roles.app."debian-12".deb]
nginx = "{DEB["nginx"]}"
"""


@dataclass(frozen=True)
class Setup:
    lab: Lab
    lockfile: Path
    inventory: Path


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    lab = hostlab(
        [
            HostSpec("web1", env="staging"),
            HostSpec("gone", env="staging", kind="unreachable"),
            HostSpec("closed", env="production", kind="refused"),
        ]
    )
    work = tmp_path_factory.mktemp("exit3")
    lockfile = work / "pinmgr.toml"
    lockfile.write_text(PINS)
    return Setup(lab, lockfile, lab.write_inventory(work / "inventory.toml"))


def run(s: Setup, *args: str, lockfile: bool = True) -> subprocess.CompletedProcess[str]:
    common = ["-i", str(s.inventory), "--known-hosts", str(s.lab.known_hosts)]
    common += ["--connect-timeout", "5"]
    if lockfile:
        common += ["-l", str(s.lockfile)]
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args, *common],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``pinmgr: error:`` line (a progress bar is off: -q or no terminal)."""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


GONE = "gone (unreachable: "
CLOSED = "closed (unreachable: "


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("check", "-q", "--env", "staging"), [GONE]),
        (("check", "-q", "-f", "json"), [CLOSED, GONE]),
        (("check", "-q", "--env", "production", "--transport", "openssh"), [CLOSED]),
        (("outdated", "-q", "--env", "staging"), [GONE]),
        # accept refuses in the library (authoring.plan_accept), naming host, env and kind
        (("accept", "-q", "--dry-run", "--env", "staging"), ["gone (staging): unreachable: "]),
    ],
    ids=["check", "check-json", "check-openssh", "outdated", "accept"],
)
def test_collecting_commands_exit_3_naming_the_host(
    setup: Setup, args: tuple[str, ...], names: list[str]
) -> None:
    result = run(setup, *args)
    assert result.returncode == 3, result.stdout + result.stderr
    line = error_line(result)
    positions = [line.index(name) for name in names]  # every failed host, sorted by name
    assert positions == sorted(positions), line
    assert "web1" not in line


def test_emit_playbook_exits_3_and_still_writes_the_collected_hosts(
    setup: Setup, tmp_path: Path
) -> None:
    out = tmp_path / "fix.yml"
    result = run(setup, "emit", "ansible-playbook", "-q", "--env", "staging", "--out", str(out))
    assert result.returncode == 3, result.stdout + result.stderr
    line = error_line(result)
    assert GONE in line and line.endswith("; not in the playbook")
    assert out.exists() and "gone" not in out.read_text()


def test_lock_from_an_unreachable_host_exits_3(setup: Setup) -> None:
    result = run(setup, "lock", "--from", "gone", "--dry-run")
    assert result.returncode == 3, result.stdout + result.stderr
    line = error_line(result)
    assert line.startswith("pinmgr: error: not locking: gone (staging) could not be collected:")
    assert "unreachable: " in line and line.endswith("the lockfile is unchanged")
    assert setup.lockfile.read_text() == PINS


def test_diff_exits_3_naming_the_host(setup: Setup) -> None:
    result = run(setup, "diff", "web1", "closed", "-q", lockfile=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert CLOSED in error_line(result)


def test_lab_host_alone_is_collected(setup: Setup) -> None:
    """The control: without the failed hosts the same commands do not exit 3."""
    result = run(setup, "diff", "web1", "web1", "-q", lockfile=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("transport", ["ssh", "openssh"])
def test_unusable_key_exits_3_naming_the_key_and_cause(
    setup: Setup, transport: str, tmp_path: Path
) -> None:
    """The inventory's key is missing: one line names the host, the key file and the cause."""
    absent = tmp_path / "id_absent"
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        setup.inventory.read_text().replace(str(setup.lab.client_key), str(absent))
    )
    result = subprocess.run(
        [sys.executable, "-m", "pinmgr", "check", "-q", "--env", "staging", "-l",
         str(setup.lockfile), "-i", str(inventory), "--known-hosts", str(setup.lab.known_hosts),
         "--connect-timeout", "5", "--transport", transport],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "HOME": str(tmp_path)},  # no default identities
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    line = error_line(result)
    assert "web1 (auth-failed: " in line
    assert f"key {absent}: no such file" in line


def test_fail_on_never_still_names_the_host_as_a_warning(setup: Setup) -> None:
    result = run(setup, "check", "-q", "--env", "staging", "--fail-on", "never")
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: warning:")]
    assert len(warnings) == 1 and GONE in warnings[0], result.stderr
    assert "pinmgr: error:" not in result.stderr
