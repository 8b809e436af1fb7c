"""Hand-built lockfile and check report shared by the emitter tests (no hosts, no files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pinmgr.model import (
    SHARED_ROLE,
    CheckReport,
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    Lockfile,
    Pin,
    PinPolicy,
    PolicyKind,
    Summary,
)

# Test dependency (with ansible-core and ansible-lint): skip, naming it, when absent.
yaml = pytest.importorskip("yaml", reason="PyYAML is a test dependency: pip install pyyaml")

DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP
EXACT, GLOB, RANGE = PolicyKind.EXACT, PolicyKind.GLOB, PolicyKind.RANGE
DATA = Path(__file__).resolve().parents[2] / "data" / "emitters"
BIN = Path(sys.executable).parent


def pin(
    pkg: str,
    spec: str,
    role: str = "app",
    rel: str = "debian-12",
    eco: Ecosystem = DEB,
    kind: PolicyKind = EXACT,
) -> Pin:
    return Pin(role, rel, eco, pkg, PinPolicy(kind, spec))


def finding(
    host: str,
    pkg: str,
    expected: str,
    *,
    kind: FindingKind = FindingKind.DRIFT,
    eco: Ecosystem = DEB,
    role: str = "app",
    rel: str = "debian-12",
    actual: str = "0",
    reason: str = "",
) -> Finding:
    return Finding(
        kind=kind,
        host=host,
        env="prod",
        role=role,
        ecosystem=eco,
        package=pkg,
        expected=expected,
        actual=actual if kind is not FindingKind.MISSING else "",
        direction=Direction.OLDER if kind is FindingKind.DRIFT else None,
        reason=reason,
        os_release=rel,
    )


LOCK = Lockfile(
    path="pins/pinmgr.toml",
    schema=1,
    roles=("app", "db"),
    pins=(
        pin("nginx", "1.22.1-9"),
        pin("openssl", "3.0.*", kind=GLOB),
        pin("libssl3:i386", "3.0.15-1~deb12u1"),
        pin("ca-certificates", "20230311", role=SHARED_ROLE),
        pin("curl", "7.88.1-10", role=SHARED_ROLE),
        pin("curl", "7.88.1-10+deb12u5"),  # overrides the shared pin for app
        pin("nginx", "1.18.0-6ubuntu14.4", rel="ubuntu-22.04"),
        pin("requests", "==2.31.0", eco=PIP),
        pin("Django", ">=4.2, <5", eco=PIP, kind=RANGE),
        pin("nginx", "1:1.20.1-14.el9", rel="rocky-9", eco=RPM),
        pin("postgresql-15", "15.6-0+deb12u1", role="db"),
        pin("nginx", "1.22.1-9+deb12u1", role="db"),  # db pins nginx differently from app
    ),
    releases=(("db", "debian-12"), ("db", "rocky-9")),
)

VENV = "/opt/app/venv"

FINDINGS = (
    finding("web-1", "nginx", "1.22.1-9", actual="1.22.1-8"),
    finding("web-2", "nginx", "1.22.1-9", actual="1.22.1-9+deb12u1"),
    finding("web-2", "openssl", "3.0.*", actual="3.1.0-1"),
    finding("web-3", "ca-certificates", "20230311", kind=FindingKind.MISSING),
    finding("web-3", "libssl3:i386", "3.0.15-1~deb12u1", actual="3.0.11-1~deb12u2"),
    finding("web-3", "requests", "==2.31.0", eco=PIP, actual="2.30.0", reason=VENV),
    finding("web-3", "requests", "==2.31.0", eco=PIP, actual="2.28.1", reason="/usr/bin/python3"),
    finding("web-3", "requests", "==2.31.0", eco=PIP, kind=FindingKind.MISSING),
    finding("web-3", "django", ">=4.2, <5", eco=PIP, actual="5.0", reason=VENV),
    finding("rk-1", "nginx", "1:1.20.1-14.el9", eco=RPM, rel="rocky-9", actual="1:1.20.0-1"),
    # Both roles of dual-1 want nginx, at different versions: a human decides.
    finding("dual-1", "nginx", "1.22.1-9"),
    finding("dual-1", "nginx", "1.22.1-9+deb12u1", role="db"),
    finding("dual-1", "postgresql-15", "15.6-0+deb12u1", role="db"),
    # Never touched by a fix playbook.
    finding("web-4", "nginx", "1.22.1-9", kind=FindingKind.OK, actual="1.22.1-9"),
    finding("web-4", "curl", "7.88.1-10+deb12u5", kind=FindingKind.WAIVED),
    Finding(FindingKind.UNREACHABLE, "web-5", "prod", "app", reason="connection refused"),
)


def report(findings: tuple[Finding, ...] = FINDINGS) -> CheckReport:
    return CheckReport(
        findings=findings,
        summary=Summary(hosts_total=8, hosts_collected=7, counts=()),
        lockfile="pins/pinmgr.toml",
        environments=("prod",),
    )


class _UnsafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Ansible's ``!unsafe`` tag (a plain string to us)."""


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_UnsafeLoader.add_constructor("!unsafe", _unsafe)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_UnsafeLoader)  # a SafeLoader subclass


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def tool(name: str) -> str:
    """A CLI from the test virtualenv (or PATH); skip with the reason if it is not installed."""
    found = BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.skip(f"{name} is not installed (pip install ansible-core ansible-lint)")
    return on_path


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a real tool; fail the test with its output unless it exits 0."""
    full_env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(cwd / ".ansible-tmp"),
        "ANSIBLE_HOME": str(cwd / ".ansible-home"),
        # A local connection expands the default ~/.ansible/tmp as ~root (the passwd home,
        # not $HOME): it would create /root/.ansible on the machine.
        "ANSIBLE_REMOTE_TMP": str(cwd / ".ansible-remote-tmp"),
        **(env or {}),
    }
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def assert_golden(rel: str, text: str) -> None:
    """Compare with tests/data/emitters/<rel>; PINMGR_UPDATE_GOLDEN=1 rewrites it instead."""
    golden = DATA / rel
    if os.environ.get("PINMGR_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with PINMGR_UPDATE_GOLDEN=1 and review it"
    assert golden.read_text(encoding="utf-8") == text, f"{golden} differs from the emitted text"
