"""The lab's login user exists only inside its hosts: the machine's account files keep their
bytes and their inodes (never replaced: that would detach other bind mounts of them), and the
user never resolves in the root namespace, while every host accepts logins as it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hostlab import LAB_USER, HostSpec, Lab, requirements_missing
from tests.machine_state import Guarded, fingerprint

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.skipif(requirements_missing() is not None, reason=str(requirements_missing())),
]

ACCOUNT_FILES = [Guarded(Path("/etc", n), "file") for n in ("passwd", "group", "shadow", "gshadow")]


def resolves(user: str) -> bool:
    """``id USER`` in the root namespace (the machine's own view)."""
    return subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode == 0


def inode(path: str, lab: Lab | None = None, host: str = "") -> str:
    args = ["stat", "-L", "-c", "%d:%i", path]
    if lab is None:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    done = lab.exec(host, args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# The default user, and one no run before this one can have created on the machine (a machine
# used by older versions of the lab may still have pinmgr-lab: that must neither break the lab
# nor be touched by it).
@pytest.mark.parametrize("user", [LAB_USER, "pinmgr-lab-nsonly"])
def test_hosts_have_the_lab_user_and_the_machine_never_does(user: str) -> None:
    had_user = resolves(user)
    assert user == LAB_USER or not had_user
    before = fingerprint(ACCOUNT_FILES)
    lab = Lab(user=user)
    try:
        lab.start([HostSpec("plain"), HostSpec("layered", role="db", writable=True)])
        for h in lab.hosts.values():
            done = subprocess.run(
                ["ssh", "-F", str(lab.ssh_config), h.name, "id -un; echo $HOME; touch ~/w"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{h.name}: {done.stderr}"
            assert done.stdout.splitlines() == [user, str(h.home)]
            assert (h.home / "w").is_file()  # what a login writes lands in the lab's dir
            # The host's account files are its own copies, with the machine's users kept.
            assert inode("/etc/passwd", lab, h.name) != inode("/etc/passwd")
            seen = lab.exec(h.name, ["getent", "passwd", "root", "sshd", user])
            assert seen.returncode == 0, seen.stderr
        assert resolves(user) == had_user  # while the hosts run, too
        assert fingerprint(ACCOUNT_FILES) == before
    finally:
        lab.stop()
    assert fingerprint(ACCOUNT_FILES) == before
    assert resolves(user) == had_user
