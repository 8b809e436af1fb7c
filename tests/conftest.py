"""Suite-wide: a summary section for oracle counts (how many pairs were checked), a throwaway
$HOME for the whole run, and a guard that fails the run if the machine's own files changed."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.machine_state import changes, fingerprint, guarded

_CHECKS: list[str] = []
_MACHINE_CHANGES: list[str] = []
_STATE: dict[str, object] = {}


@pytest.fixture
def checked() -> Callable[[str], None]:
    """Record a line like "checked 5000 deb pairs against dpkg" for the end-of-run summary."""

    def add(message: str) -> None:
        print(message)
        _CHECKS.append(message)

    return add


def pytest_configure(config: pytest.Config) -> None:
    """Fingerprint the machine, then point $HOME at a temp dir: tools the tests start (rpm's
    ~/.rpmdb, ansible's ~/.ansible, ssh's ~/.ssh) must never write into the real one."""
    homes = [Path(os.environ.get("HOME") or Path.home())]
    with contextlib.suppress(KeyError):
        homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    items = guarded(homes)
    _STATE["items"] = items
    _STATE["before"] = fingerprint(items)
    _STATE["home"] = os.environ.get("HOME")
    temp_home = tempfile.mkdtemp(prefix="pinmgr-test-home-")
    _STATE["temp_home"] = temp_home
    os.environ["HOME"] = temp_home
    # No check/collect of the suite records history (pins/.pinmgr/ of the checkout stays
    # absent, and reports carry no new/known marks that would depend on test order); the
    # history tests unset this and name their own store.
    os.environ["PINMGR_NO_HISTORY"] = "1"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run (loudly, in the summary) if a guarded machine file changed during it."""
    items = _STATE.get("items")
    if not isinstance(items, list):
        return
    before = _STATE["before"]
    assert isinstance(before, dict)
    _MACHINE_CHANGES[:] = changes(before, fingerprint(items))
    if _MACHINE_CHANGES and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    home, temp_home = _STATE.get("home"), _STATE.get("temp_home")
    if isinstance(temp_home, str):
        if isinstance(home, str):
            os.environ["HOME"] = home
        else:
            os.environ.pop("HOME", None)
        shutil.rmtree(temp_home, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _CHECKS:
        terminalreporter.section("checked against the real tools")
        for line in _CHECKS:
            terminalreporter.write_line(line)
    if _MACHINE_CHANGES:
        terminalreporter.section("MACHINE CHANGED DURING THE RUN", red=True, bold=True)
        terminalreporter.write_line(
            "tests must leave the machine as they found it (or something else on this machine "
            "changed these meanwhile):",
            red=True,
        )
        for line in _MACHINE_CHANGES:
            terminalreporter.write_line(f"  {line}", red=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """One throwaway PostgreSQL 15 server for the session (tests/pgserver.py); each test asks
    it for a fresh database with ``pg_server.new_database()``."""
    from tests import pgserver

    why = pgserver.available()
    if why:
        pytest.skip(why)
    with pgserver.running() as server:
        yield server
