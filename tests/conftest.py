"""Suite-wide helpers: a summary section for oracle counts (how many pairs were checked)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_CHECKS: list[str] = []


@pytest.fixture
def checked() -> Callable[[str], None]:
    """Record a line like "checked 5000 deb pairs against dpkg" for the end-of-run summary."""

    def add(message: str) -> None:
        print(message)
        _CHECKS.append(message)

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _CHECKS:
        terminalreporter.section("checked against the real tools")
        for line in _CHECKS:
            terminalreporter.write_line(line)
