"""Ctrl-C during a fleet check stops at once and still reports what was collected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory

ROOT = Path(__file__).resolve().parents[2]
B = BASE_PACKAGES["debian-12"]


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    return hostlab([HostSpec("quick1"), HostSpec("quick2"), HostSpec("stuck", kind="hang")])


def _sessions_done(lab: Lab, names: list[str]) -> bool:
    """pinmgr logged in to both quick hosts and has closed those connections again."""
    for name in names:
        host = lab.hosts[name]
        text = host.log.read_text(errors="replace") if host.log.exists() else ""
        if "Accepted publickey" not in text:
            return False
        open_conns = subprocess.run(
            ["ss", "-Htn", "state", "established", f"( dport = :22 and dst {host.address} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if open_conns.strip():
            return False
    return True


def test_ctrl_c_reports_collected_hosts_and_marks_the_rest_interrupted(
    lab: Lab, tmp_path: Path
) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(f'schema = 1\n\n[roles.app."debian-12".deb]\nbash = "{B["bash"]}"\n')
    inv = lab.write_inventory(tmp_path / "inventory.toml")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(home)}
    env.pop("SSH_AUTH_SOCK", None)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "-i", str(inv),
            "--known-hosts", str(lab.known_hosts), "--connect-timeout", "120", "-f", "json", "-q",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _sessions_done(lab, ["quick1", "quick2"]):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "quick hosts were never collected"
            time.sleep(0.05)  # polling interval of the deadline loop, not a wait for a service
        assert proc.poll() is None  # still waiting on the hung host
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 20  # stops promptly, not after the 120 s timeout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    doc = json.loads(out)
    by_host = {f["host"]: f for f in doc["findings"]}
    assert by_host["quick1"]["kind"] == "ok" and by_host["quick2"]["kind"] == "ok"
    assert by_host["stuck"]["kind"] == "collect-error"
    assert by_host["stuck"]["reason"] == "interrupted"
