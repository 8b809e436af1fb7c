"""The real salt-call (masterless), from its own virtualenv, with every path in a temp dir.

tests/run.sh installs Salt into ``$VENV-salt`` and exports PINMGR_TEST_SALT_CALL; without it
the repo's ``.venv-test-salt`` is tried, else the test skips naming what to install. Nothing
is written to the machine's /etc/salt or /var/cache/salt: config, cache, pki and logs all live
under the config dir given here (``root_dir``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_REASON = (
    "salt-call not installed: run tests/run.sh (installs salt into .venv-test-salt) or "
    "set PINMGR_TEST_SALT_CALL"
)


def salt_call_path() -> str | None:
    """The salt-call to use, or None."""
    named = os.environ.get("PINMGR_TEST_SALT_CALL")
    for candidate in (named, str(ROOT / ".venv-test-salt" / "bin" / "salt-call")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_salt_call() -> str:
    found = salt_call_path()
    if found is None:
        pytest.skip(SKIP_REASON)
    return found


def write_config(config_dir: Path, *, minion_id: str, grains: dict[str, Any]) -> Path:
    """A masterless minion config whose root_dir (cache, pki, logs) is ``config_dir``."""
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "id": minion_id,
        "file_client": "local",
        "root_dir": str(config_dir / "root"),
        "grains": grains,
        "log_level_logfile": "warning",
    }
    # JSON is YAML: Salt reads the minion file with its YAML loader.
    (config_dir / "minion").write_text(json.dumps(config, indent=2) + "\n")
    return config_dir


def salt_argv(salt_call: str, config_dir: Path, file_root: Path, args: Sequence[str]) -> list[str]:
    return [
        salt_call,
        "--local",
        f"--config-dir={config_dir}",
        f"--file-root={file_root}",
        "--out=json",
        "--log-level=quiet",
        "--retcode-passthrough",
        *args,
    ]


def run_salt(
    salt_call: str,
    config_dir: Path,
    file_root: Path,
    *args: str,
    ok_codes: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
) -> Any:
    """Run salt-call on this machine; the ``local`` part of its JSON."""
    done = subprocess.run(
        salt_argv(salt_call, config_dir, file_root, args),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in ok_codes, (
        f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return json.loads(done.stdout)["local"]
