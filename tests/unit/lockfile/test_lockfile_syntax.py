"""What a lockfile may hold: every reader and writer refuses what the ecosystem's syntax forbids.

``pinmgr.versions.validate`` is the one rule; the loader (``pinmgr validate``), ``pin``,
``lock``, ``accept`` and ``emit apt-preferences`` all go through it. Refusals are one line naming
the file:line:col or the host and package, and leave the lockfile byte for byte as it was.
Files are real files on disk; the CLI runs as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr import authoring
from pinmgr.authoring import Selection
from pinmgr.diff.report import build
from pinmgr.emitters.apt_preferences import emit_apt_preferences
from pinmgr.errors import LockfileError, UsageError, VersionError
from pinmgr.lockfile.load import load
from pinmgr.model import (
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    Location,
    Lockfile,
    Pin,
    PinPolicy,
    PolicyKind,
)
from pinmgr.versions import validate
from pinmgr.versions.names import name_problem
from pinmgr.versions.text import MAX_NAME_CHARS, MAX_VERSION_CHARS

ROOT = Path(__file__).resolve().parents[3]
DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP

# A deb version as the collectors hand over invalid UTF-8 (decoded with backslashreplace).
BACKSLASHED = "5.2\\xc3(-1"
SURROGATE = "5.2\udcc3(-1"  # the same byte decoded with surrogateescape

# Refused by every ecosystem, whatever else it allows.
EVERYWHERE = {
    "ESC": "1.0\x1b[31m",
    "BEL": "1.0\x07",
    "newline": "1.0\n",
    "C1 NEL": "1.0\x85",
    "DEL": "1.0\x7f",
    "backslash escape": BACKSLASHED,
    "lone surrogate": SURROGATE,
    "over the cap": "1." + "1" * (MAX_VERSION_CHARS - 1),
    "5,000-digit run": "1." + "9" * 5000,
}


@pytest.mark.parametrize("eco", list(Ecosystem))
@pytest.mark.parametrize("label", list(EVERYWHERE))
def test_validate_refuses_in_every_ecosystem(eco: Ecosystem, label: str) -> None:
    version = EVERYWHERE[label]
    with pytest.raises(VersionError) as info:
        validate(eco, version)
    message = str(info.value)
    assert message.startswith(f"invalid {eco.value} version ")
    assert "\n" not in message and "\x1b" not in message and len(message) < 200


@pytest.mark.parametrize(
    ("eco", "version"),
    [
        (RPM, "1.0 beta-1"),  # rpmbuild: "Tag takes single token only"
        (RPM, "1..0-1"),  # rpmbuild: Illegal sequence ".."
        (RPM, "1.0%{dist}-1"),  # rpmbuild only warns (unexpanded macro): refused here
        (RPM, "4294967296:1.0-1"),  # rpmbuild: Epoch field must be an unsigned number
        (RPM, "1.0-1-2"),  # '-' is in neither version nor release
        (DEB, "1.0_1"),  # dpkg warns: invalid character in version number
        (DEB, "a1.0"),  # dpkg warns: version number does not start with digit
        (DEB, " 1.0"),  # dpkg trims it; the lockfile would not
        (PIP, " 1.0"),  # packaging strips it
        (PIP, "1.0 "),
    ],
)
def test_validate_refuses_what_the_ecosystem_warns_about_or_trims(
    eco: Ecosystem, version: str
) -> None:
    with pytest.raises(VersionError):
        validate(eco, version)


@pytest.mark.parametrize(
    ("eco", "version"),
    [
        (DEB, "1:2.36-9+deb12u4"),
        (DEB, "1." + "1" * (MAX_VERSION_CHARS - 2)),  # exactly at the cap
        (RPM, "32:2.28-225.el9_3"),
        (RPM, "1.0~rc1^git1-0.1.fc40"),
        (RPM, "4294967295:1-1"),
        (PIP, "2.32.3"),
        (PIP, "1!2.0.post1.dev3+local.7"),
    ],
)
def test_validate_accepts_real_versions(eco: Ecosystem, version: str) -> None:
    validate(eco, version)


@pytest.mark.parametrize(
    ("eco", "name", "ok"),
    [
        (DEB, "libssl3:amd64", True),
        (DEB, "bash\n", False),  # '$' in a pattern matches before a final newline
        (DEB, "Bash", False),
        (DEB, "b" * MAX_NAME_CHARS, True),
        (DEB, "b" * (MAX_NAME_CHARS + 1), False),
        (RPM, "python3-libs", True),
        (RPM, "py\x1bthon", False),
        (PIP, "Django", True),
        (PIP, "django\\xc3", False),
        (PIP, "-django", False),
    ],
)
def test_package_names(eco: Ecosystem, name: str, ok: bool) -> None:
    assert (name_problem(eco, name) is None) is ok


# ---------------------------------------------------------------- the loader, pinmgr validate

BASE = """\
schema = 1

[roles.app."debian-12".deb]
bash = "5.2.15-2+b2"
"""


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("line", "col", "pin"),
    [
        (5, 8, r'curl = "7.88\u001b[31m"'),
        (5, 8, r'curl = "7.88\u0007-1"'),
        (5, 8, r"curl = '5.2\xc3(-1'"),  # literal string: the backslash escape as text
        (5, 1, r'"curl\n" = "7.88.1-10"'),
        (5, 8, f'curl = "1.{"0" * 300}"'),
    ],
)
def test_validate_command_refuses_with_file_line_col(
    tmp_path: Path, line: int, col: int, pin: str
) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text(BASE + pin + "\n")
    result = run("validate", "-l", str(path), cwd=tmp_path)  # no inventory: the local one
    assert result.returncode == 2, result.stderr
    (error,) = [e for e in result.stderr.splitlines() if e.startswith("pinmgr: error:")]
    assert error.startswith(f"pinmgr: error: {path}:{line}:{col}: "), error
    assert "\x1b" not in error and "\x07" not in error
    with pytest.raises(LockfileError):
        load(path)


def test_rpm_version_with_a_space_is_refused_by_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text('schema = 1\n\n[roles.app."rocky-9".rpm]\nbash = "1.0 beta-1"\n')
    with pytest.raises(LockfileError, match=r":4:8: bash: invalid rpm version '1.0 beta-1'"):
        load(path)


# ---------------------------------------------------------------- writers: pin, lock, accept


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    path = tmp_path / "pinmgr.toml"
    path.write_text(BASE)
    return path


@pytest.mark.parametrize("version", [BACKSLASHED, "5.2.15\x1b]0;x\x07", "5.2 15"])
def test_pin_command_refuses_and_leaves_the_file_alone(lockfile: Path, version: str) -> None:
    before = lockfile.read_bytes()
    result = run("pin", f"bash={version}", "--role", "app", "--os", "debian-12", "-l",
                 str(lockfile), "--yes")  # fmt: skip
    assert result.returncode == 2, result.stderr
    (error,) = result.stderr.splitlines()
    assert error.startswith("pinmgr: error: invalid deb ") and "\x1b" not in error
    assert lockfile.read_bytes() == before


def web1(*packages: InstalledPackage) -> HostSnapshot:
    dpkg = InstalledPackage(DEB, "dpkg", "1.21.22", "amd64")
    from pinmgr.model import OsRelease

    return HostSnapshot(
        Host("web1", "prod", ("app",)), OsRelease("debian", "12"), (dpkg, *packages)
    )


@pytest.mark.parametrize(
    ("name", "version", "says"),
    [
        ("bash", BACKSLASHED, "web1: deb package 'bash': invalid deb version '5.2\\\\xc3(-1'"),
        ("bash", SURROGATE, "web1: deb package 'bash': invalid deb version"),
        ("bash", "5.2\x1b[2J", "contains the control character U+001B"),
        ("ba\x1bsh", "5.2-1", "web1: package name 'ba\\x1bsh': contains the control character"),
    ],
)
def test_lock_refuses_a_hosts_unwritable_text(
    lockfile: Path, name: str, version: str, says: str
) -> None:
    before = lockfile.read_bytes()
    snap = web1(InstalledPackage(DEB, name, version, "amd64"))
    with pytest.raises(VersionError) as info:
        authoring.plan_lock(lockfile, snap, "app", Selection.ALL)
    message = str(info.value)
    assert says in message and message.endswith("; the lockfile was not changed")
    assert "\n" not in message and "\x1b" not in message
    assert lockfile.read_bytes() == before


@pytest.mark.parametrize("actual", [BACKSLASHED, "5.2.15-2\x07", "5.2.15-2+b2 "])
def test_accept_refuses_a_drifted_version_it_may_not_write(lockfile: Path, actual: str) -> None:
    before = lockfile.read_bytes()
    finding = Finding(
        FindingKind.DRIFT, "web7", "prod", "app", DEB, "bash", "5.2.15-2+b2", actual,
        Direction.NEWER, os_release="debian-12",
    )  # fmt: skip
    report = build([finding], hosts_total=1, hosts_collected=1)
    with pytest.raises(VersionError, match=r"^web7: deb package 'bash': invalid deb version "):
        authoring.plan_accept(lockfile, report)
    assert lockfile.read_bytes() == before


# ---------------------------------------------------------------- emit apt-preferences


def test_apt_preferences_never_prints_an_invalid_pin() -> None:
    """A model that bypassed the loader (the loader refuses it) still cannot forge a stanza."""
    where = Location("pins.toml", 7, 8)
    forged = "1.0\nPackage: *\nPin-Priority: -1"
    pin = Pin("app", "debian-12", DEB, "bash", PinPolicy(PolicyKind.EXACT, forged), where)
    lock = Lockfile("pins.toml", 1, ("app",), (pin,), (), (("app", "debian-12"),))
    with pytest.raises(UsageError, match=r"^pins.toml:7:8: bash: invalid deb pin .*control"):
        emit_apt_preferences(lock, "app", "debian-12")
    glob = Pin("app", "debian-12", DEB, "bash", PinPolicy(PolicyKind.GLOB, "5.2\\x*"), where)
    lock = Lockfile("pins.toml", 1, ("app",), (glob,), (), (("app", "debian-12"),))
    with pytest.raises(UsageError, match=r"invalid deb glob"):
        emit_apt_preferences(lock, "app", "debian-12")


def test_waiver_text_with_control_characters_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text(
        BASE + '\n[[waivers]]\npackage = "bash"\nreason = "ok\\u001b[2J"\nexpires = 2030-01-01\n'
    )
    with pytest.raises(LockfileError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}:8:10: waiver #1: reason 'ok\\x1b[2J': contains the control character U+001B"
    )
