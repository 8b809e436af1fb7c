"""The probe script: POSIX shells, stdin mode (as the SSH transport runs it), quoting, nonce."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.model import Ecosystem, Host, HostSnapshot

HOST = Host(
    "web1;$(touch /tmp/pinmgr-never)",
    "prod",
    ("app",),
    address="`reboot`",
    user="$(id)",
    pip=(sys.executable,),
)

# sh -c and sh -s (the SSH transport feeds "{ script }" on stdin) under every POSIX shell here.
SHELLS = [
    pytest.param([name] if name != "busybox" else ["busybox", "sh"], id=name)
    for name in ("sh", "dash", "posh", "busybox")
]


def run_probe(shell: list[str], mode: str, script: str) -> bytes:
    if shutil.which(shell[0]) is None:
        pytest.skip(f"{shell[0]} not installed (tests/apt-packages.txt)")
    if mode == "-c":
        proc = subprocess.run([*shell, "-c", script], capture_output=True, timeout=120)
    else:
        # posh has no -s flag; with no arguments it reads commands from stdin all the same.
        argv = shell if shell == ["posh"] else [*shell, "-s"]
        stdin = script if mode == "bare-stdin" else f"{{ {script}\n}}\n"
        proc = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("mode", ["-c", "-s"])
@pytest.mark.parametrize("shell", SHELLS)
def test_probe_runs_under_posix_shells(shell: list[str], mode: str) -> None:
    nonce = new_nonce()
    out = run_probe(shell, mode, build_probe(HOST, nonce))
    snap = parse_probe(HOST, out, nonce)
    assert snap.warnings == ()
    assert snap.os_release is not None
    ecosystems = {p.ecosystem for p in snap.packages}
    assert Ecosystem.PIP in ecosystems
    if shutil.which("dpkg-query"):
        assert Ecosystem.DEB in ecosystems


def test_same_snapshot_from_every_shell() -> None:
    snaps: list[HostSnapshot] = []
    for shell in (["dash"], ["posh"], ["busybox", "sh"]):
        if shutil.which(shell[0]) is None:
            continue
        nonce = new_nonce()
        snaps.append(parse_probe(HOST, run_probe(shell, "-c", build_probe(HOST, nonce)), nonce))
    if len(snaps) < 2:
        pytest.skip("needs two POSIX shells")
    assert all(s == snaps[0] for s in snaps)


def test_inventory_values_never_reach_the_script_unquoted() -> None:
    script = build_probe(HOST, "ab" * 16)
    # Only pip paths are used at all, and only inside single quotes.
    for value in (HOST.name, HOST.address, HOST.user):
        assert value is not None
        assert value not in script
    assert not Path("/tmp/pinmgr-never").exists()


def test_nonce_must_be_hex() -> None:
    for bad in ("", "abc", "AB" * 16, "'; reboot; '" + "a" * 16, "g" * 32):
        with pytest.raises(ValueError, match="nonce"):
            build_probe(HOST, bad)
    first, second = new_nonce(), new_nonce()
    assert first != second
    assert len(first) == 32
    build_probe(HOST, first)


def test_stdin_of_the_probe_is_never_read() -> None:
    """Fed bare (no braces) to ``sh -s``, sh reads the script line by line from stdin: any
    command reading stdin would swallow the rest and the final marker would never come."""
    nonce = new_nonce()
    out = run_probe(["dash"], "bare-stdin", build_probe(HOST, nonce))
    snap = parse_probe(HOST, out, nonce)
    assert snap.warnings == ()
    assert out.rstrip().endswith(f"@@pinmgr {nonce} done".encode())
