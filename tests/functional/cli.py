"""The pinmgr CLI run as a user runs it: a fresh process, no colour, a fixed terminal width."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_pinmgr(
    *args: str,
    cwd: Path,
    columns: int = 120,
    timeout: float = 180,
    home: Path | None = None,
    unset: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -m pinmgr ARGS`` in ``cwd``; ``home``: its $HOME; ``unset``: variables of
    this environment it must not see."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    if home is not None:
        env["HOME"] = str(home)
    for name in unset:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
