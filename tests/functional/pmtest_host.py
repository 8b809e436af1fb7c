"""The pmtest packages and lab-host set-up shared by the end-to-end tests that apply pins
with a real configuration-management tool (Ansible, Salt, Puppet) on a writable lab host.

The host gets a local apt repository of tiny real .debs (tests/functional/debrepo.py) as its
only source and starts drifted from ``PINS`` (``START``); the machine running the tests never
has a pmtest package.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from tests.functional.cli import run_pinmgr
from tests.hostlab import LabHost

REPO_IN_HOST = "/srv/pmrepo"
REPO = {
    "pmtest-alpha": ("1.0-1", "1.1-1", "1.2-1"),
    "pmtest-beta": ("2.0-1", "2.1-1", "2.2-1"),
    "pmtest-gamma": ("3.0-1", "3.1-1", "3.2-1"),
}
PINS = {"pmtest-alpha": "1.1-1", "pmtest-beta": "2.1-1", "pmtest-gamma": "3.1-1"}
START = {"pmtest-alpha": "1.0-1", "pmtest-beta": "2.2-1"}  # gamma: not installed


def machine_has_pmtest() -> bool:
    """Whether the machine itself (not a lab host) has pmtest-alpha in its dpkg database."""
    done = subprocess.run(
        ["dpkg-query", "-W", "pmtest-alpha"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd)


def write_lockfile(path: Path, extra: dict[str, str] | None = None) -> Path:
    pins = {**PINS, **(extra or {})}
    lines = ["schema = 1", "", '[roles.app."debian-12".deb]']
    lines += [f'{name} = "{version}"' for name, version in sorted(pins.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def host_setup_script(repo: Path, host: LabHost, user: str) -> str:
    """Root, inside the host: the repo as the only apt source, the drifted start, sudo."""
    q = shlex.quote
    install = " ".join(q(f"{name}={version}") for name, version in sorted(START.items()))
    return "\n".join(
        [
            "set -eu",
            "export DEBIAN_FRONTEND=noninteractive",
            # /srv is the host's own tmpfs (app hosts); /etc and /var are overlays.
            f"mkdir -p {REPO_IN_HOST}",
            f"cp -a {q(str(repo))}/. {REPO_IN_HOST}/",
            f"chmod -R a+rX {REPO_IN_HOST}",
            "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d /var/lib/apt/lists",
            "mkdir -p /etc/apt/sources.list.d /var/lib/apt/lists/partial",
            f"echo 'deb [trusted=yes] file:{REPO_IN_HOST} ./' > /etc/apt/sources.list.d/pm.list",
            "apt-get update -q",
            f"apt-get install -y -q --no-install-recommends {install}",
            f"printf '%s ALL=(ALL) NOPASSWD: ALL\\n' {q(user)} > /etc/sudoers.d/pinmgr-lab",
            "chmod 0440 /etc/sudoers.d/pinmgr-lab",
            f"printf '127.0.1.1 %s\\n' {q(host.name)} >> /etc/hosts",
        ]
    )
