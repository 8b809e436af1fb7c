"""Suite-wide: a summary section for oracle counts (how many pairs were checked), a throwaway
$HOME for the whole run, and a guard that fails the run if the machine's own files changed.

The suite runs in parallel (tests/run.sh: pytest-xdist, two workers per core, ``--dist
loadfile``: each test module runs whole on one worker, so module-scoped fixtures such as a
shared lab stay shared; session-scoped fixtures such as ``pg_server`` run once per worker).
Rules that keep a test parallel-safe, for everyone adding tests:

- Lab hosts only through ``hostlab``/``lab`` (tests/functional/conftest.py) or ``Lab()``: a lab
  takes an exclusive slot (subnet, bridge, netns names) from tests/hostlab/net.py, from a range
  of its own per xdist worker. Never a fixed subnet, bridge, netns name or address.
- Ports: bind port 0 (or let the tool pick) and read the port back; never a fixed port.
  PostgreSQL only through ``pg_server`` (unix socket in its own temp dir, no port).
- Files: ``tmp_path``/``tmp_path_factory`` (per worker) or ``tempfile.mkdtemp``; never a fixed
  path in /tmp, and never write into the checkout (two workers share it).
- Process state: ``monkeypatch`` for env vars and cwd (or pass ``env=``/``cwd=`` to the
  subprocess); $HOME is already a throwaway dir per worker. Never touch the real ~/.ssh,
  /etc or the machine's package databases (the guard below fails the run).
- Nothing may depend on another module having run first, or on running alone: a module
  can share the machine with any other module, and each core with another worker, so
  deadlines must hold on a loaded machine (poll with a generous deadline, never time a step).
"""

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


_CHECKED = "pinmgr-checked"
"""user_properties key of a ``checked`` line: reports carry it from an xdist worker to the
controller, which prints the summary."""


@pytest.fixture
def checked(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a line like "checked 5000 deb pairs against dpkg" for the end-of-run summary."""

    def add(message: str) -> None:
        print(message)
        request.node.user_properties.append((_CHECKED, message))

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect ``checked`` lines (from this process's tests or, under xdist, a worker's)."""
    if report.when == "teardown":
        _CHECKS.extend(str(v) for k, v in report.user_properties if k == _CHECKED)


def _xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Fingerprint the machine, then point $HOME at a temp dir: tools the tests start (rpm's
    ~/.rpmdb, ansible's ~/.ansible, ssh's ~/.ssh) must never write into the real one.

    Under xdist the controller fingerprints before any worker starts and compares after all
    have ended (a worker's own summary would not be shown); each worker gets its own $HOME."""
    if not _xdist_worker(config):
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
