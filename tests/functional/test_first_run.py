"""Issue #14 end to end through the CLI: fmt like ``ruff format``, --version, completion.

No lab: these run the real CLI in a subprocess (stdin not a terminal, as in CI) on files in a
temporary directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "pins" / "pinmgr.toml"


def pinmgr(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pin_of_a_new_role_that_sorts_last_leaves_fmt_check_clean(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_bytes(BUNDLED.read_bytes())
    args = ("--role", "web", "--new-role", "--os", "debian-12", "-y", "-l", str(lock))
    pinned = pinmgr("pin", "nginx=1.22.1-9", *args)
    assert pinned.returncode == 0, pinned.stderr
    assert '+[roles.web."debian-12".deb]' in pinned.stdout
    check = pinmgr("fmt", "--check", "-l", str(lock))
    assert check.returncode == 0, check.stdout + check.stderr


def test_fmt_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    messy = 'schema = 1\n\n[roles.app."debian-12".deb]\nzlib1g="1:1.2.13.dfsg-1"\n'
    messy += 'bash = "5.2.15-2+b7"\n'
    lock.write_text(messy)
    shown = pinmgr("fmt", "--diff", "-l", str(lock))
    assert shown.returncode == 1, shown.stderr
    assert '-zlib1g="1:1.2.13.dfsg-1"' in shown.stdout
    assert '+zlib1g = "1:1.2.13.dfsg-1"' in shown.stdout
    assert lock.read_text() == messy
    written = pinmgr("fmt", "-l", str(lock))
    assert (written.returncode, written.stdout) == (0, f"{lock}: formatted\n")
    again = pinmgr("fmt", "--diff", "-l", str(lock))
    assert (again.returncode, again.stdout) == (0, f"{lock}: already formatted\n")
