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
from pinmgr.cli import inventory as _inventory  # noqa: F401  (registers commands)
from pinmgr.cli import outdated as _outdated  # noqa: F401  (registers commands)
from pinmgr.cli.app import app
from pinmgr.errors import PinmgrError

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
        sys.stderr.write(f"pinmgr: error: {exc}\n")
        sys.exit(exc.exit_code)
