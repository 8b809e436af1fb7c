"""The ``pinmgr`` command line: parse -> api -> render -> write -> exit.

The only place that prints errors or chooses an exit code. Heavy modules (paramiko, the
collectors) are imported inside commands so ``pinmgr --help`` stays fast.
"""

from __future__ import annotations

import gc
import sys

from pinmgr.cli import authoring as _authoring  # noqa: F401  (registers commands)
from pinmgr.cli import emit as _emit  # noqa: F401  (registers commands)
from pinmgr.cli import fleet as _fleet  # noqa: F401  (registers commands)
from pinmgr.cli import history as _history  # noqa: F401  (registers commands)
from pinmgr.cli import init as _init  # noqa: F401  (registers commands)
from pinmgr.cli import inventory as _inventory  # noqa: F401  (registers commands)
from pinmgr.cli import outdated as _outdated  # noqa: F401  (registers commands)
from pinmgr.cli import report as _report  # noqa: F401  (registers commands)
from pinmgr.cli.app import app
from pinmgr.errors import PinmgrError, ProblemsError

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: every user error becomes one line and an exit code."""
    # A fleet check keeps ~700 package records per host alive until exit, and the cyclic
    # garbage collector would rescan them (and every module object) over and over: ~28 ms of
    # a 50-host run, all of it holding the GIL that the SSH threads need. Freezing what exists
    # now and collecting less often cuts that to ~8 ms (docs/benchmarks.md). Only the
    # command line does this: as a library, pinmgr leaves the caller's collector alone.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        app(prog_name="pinmgr")
    except PinmgrError as exc:
        sys.stderr.write("".join(f"pinmgr: error: {line}\n" for line in error_lines(exc)))
        sys.exit(exc.exit_code)


def error_lines(exc: PinmgrError) -> list[str]:
    """Every problem an error stands for (a bad inventory has several), as ``validate`` lists
    them. An error whose headline is not its first problem (``3 inventory hosts left out``)
    is one line: its problems were shown as they were found."""
    problems = exc.problems if isinstance(exc, ProblemsError) else (exc,)
    if str(problems[0]) != str(exc):
        return [str(exc)]
    return [str(p) for p in problems]
