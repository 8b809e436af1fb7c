"""LoadedInventory.warnings (caveats, not hosts left out) from ssh_config, through
``load_with_problems``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinmgr.inventory import load_with_problems

from .conftest import DATA


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_strict_host_key_checking_no_is_one_warning_per_host(home: Path, tmp_path: Path) -> None:
    config = _write(
        tmp_path / "ssh_config",
        "Host lax\n  StrictHostKeyChecking off\nHost hop\n  StrictHostKeyChecking no\n"
        "Host viahop\n  ProxyJump hop\nHost strict\n  StrictHostKeyChecking yes\n",
    )
    inv = _write(
        tmp_path / "inventory.toml",
        'schema = 1\n[environments.e.hosts.lax]\nroles = ["app"]\n'
        '[environments.e.hosts.viahop]\nroles = ["app"]\n'
        '[environments.e.hosts.strict]\nroles = ["app"]\n',
    )
    loaded = load_with_problems(inv, ssh_config=str(config))
    assert [h.name for h in loaded.inventory.hosts] == ["lax", "viahop", "strict"]
    assert [(w.host, w.message.split(": ", 1)[1]) for w in loaded.warnings] == [
        (
            "lax",
            "host 'lax': ssh_config sets StrictHostKeyChecking no; pinmgr checks host keys anyway",
        ),
        (
            "viahop",
            "host 'viahop': ssh_config sets StrictHostKeyChecking no (jump host 'hop'); "
            "pinmgr checks host keys anyway",
        ),
    ]
    assert loaded.problems == ()


def test_vagrant_hosts_are_not_warned_about(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vagrant ssh-config` always says StrictHostKeyChecking no; docs/inventory.md says it is
    ignored, so no warning is repeated on every run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "vagrant"
    stand_in.write_text(f'#!/bin/sh\ncat "{DATA / "vagrant" / "ssh-config-default.txt"}"\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    (tmp_path / "vm").mkdir()
    inv = _write(
        tmp_path / "inventory.toml",
        'schema = 1\n[[sources]]\ntype = "vagrant"\ndir = "vm"\n',
    )
    loaded = load_with_problems(inv)
    (host,) = loaded.inventory.hosts
    assert host.route is not None and host.route.target.strict_host_key_checking == "no"
    assert loaded.warnings == ()
