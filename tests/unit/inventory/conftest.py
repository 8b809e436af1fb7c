from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "inventory"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway $HOME, so ~ and ~/.ssh/config never mean the developer's own."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def ssh_home(home: Path) -> Path:
    """$HOME whose ~/.ssh holds the sample OpenSSH config (with its Include directory)."""
    shutil.copytree(DATA / "ssh", home / ".ssh", dirs_exist_ok=True)
    return home
