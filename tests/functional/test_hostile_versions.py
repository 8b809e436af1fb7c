"""Issue 10: versions a hostile or broken host reports, through the real CLI and a real sshd host.

The host's dpkg-query prints nginx with ESC/BEL in its version, bash with a byte that is not
UTF-8 (which the collector turns into the text ``\\xc3``), and openssl with a 5,000-digit run
(past Python's int-from-string limit). ``check`` must report them as drift with the reason in
every format (no traceback, no empty JSON/JUnit/SARIF); ``accept --yes`` and ``lock`` must refuse
with one line naming the host and package and leave the lockfile byte-identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
B = BASE_PACKAGES["debian-12"]
PINNED = ("bash", "nginx", "openssl")

NGINX = b"1.22.1-9\x1b]0;owned\x07"
BASH = b"5.2\xc3(-1"
OPENSSL = b"3.0." + b"9" * 5000 + b"-1"
WRAPPER = b"""#!/bin/sh
# A hostile dpkg-query: the real output without three packages, then forged lines for them.
/usr/bin/dpkg-query "$@" | grep -v -e '^nginx\t' -e '^bash\t' -e '^openssl\t'
printf 'nginx\\t%s\\tii \\tamd64\\n' 'NGINX'
printf 'bash\\t%s\\tii \\tamd64\\n' 'BASH'
printf 'openssl\\t%s\\tii \\tamd64\\n' 'OPENSSL'
"""


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    lab = hostlab([HostSpec("liar", writable=True)])
    script = (
        WRAPPER.replace(b"'NGINX'", b"'" + NGINX + b"'")
        .replace(b"'BASH'", b"'" + BASH + b"'")
        .replace(b"'OPENSSL'", b"'" + OPENSSL + b"'")
    )
    done = subprocess.run(
        ["nsenter", "-t", str(lab.pid1("liar")), "-a", "--", "sh", "-c",
         "cat > /usr/local/bin/dpkg-query && chmod 755 /usr/local/bin/dpkg-query"],
        input=script, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return lab


@pytest.fixture
def files(lab: Lab, tmp_path: Path) -> tuple[Path, list[str]]:
    """A lockfile pinning the three packages, and the options reaching the lab host."""
    lock = tmp_path / "pinmgr.toml"
    pins = "".join(f'{n} = "{B[n]}"\n' for n in PINNED)
    lock.write_text(f'schema = 1\n\n[roles.app."debian-12".deb]\n{pins}')
    inv = lab.write_inventory(tmp_path / "inventory.toml", [lab.hosts["liar"]])
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    return lock, ["-l", str(lock), "-i", str(inv), "--known-hosts", str(known), str(home)]


def pinmgr(*args: str, opts: list[str]) -> subprocess.CompletedProcess[str]:
    """The real CLI with the lockfile, inventory and known_hosts of ``opts``; HOME a temp dir."""
    *options, home = opts
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "HOME": home}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args, *options],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def test_check_reports_each_as_drift_with_the_reason_in_every_format(
    files: tuple[Path, list[str]],
) -> None:
    _, opts = files
    as_json = pinmgr("check", "-q", "-f", "json", opts=opts)
    assert as_json.returncode == 1, as_json.stderr
    assert "Traceback" not in as_json.stderr
    doc = json.loads(as_json.stdout)
    reasons = {f["package"]: f["reason"] for f in doc["findings"] if f["host"] == "liar"}
    assert reasons["nginx"].startswith("installed version '1.22.1-9\\x1b]0;owned\\x07' is not")
    assert reasons["bash"] == (
        "installed version '5.2\\\\xc3(-1' is not a valid deb version: "
        "invalid character in version number"
    )
    assert reasons["openssl"].endswith("(5006 characters) is not a valid deb version: "
                                       "longer than 256 characters")  # fmt: skip
    for fmt in ("junit", "sarif"):
        out = pinmgr("check", "-q", "-f", fmt, opts=opts)
        assert out.returncode == 1 and out.stdout.strip(), out.stderr
        assert "Traceback" not in out.stderr and "\x1b" not in out.stdout
        if fmt == "junit":
            ET.fromstring(out.stdout)
        else:
            json.loads(out.stdout)


def test_accept_yes_refuses_and_leaves_the_lockfile_byte_identical(
    files: tuple[Path, list[str]],
) -> None:
    lock, opts = files
    before = lock.read_bytes()
    result = pinmgr("accept", "-q", "--yes", opts=opts)
    assert result.returncode == 2, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("pinmgr: error")]
    assert error.startswith("pinmgr: error: liar: deb package '"), error
    assert error.endswith("; the lockfile was not changed")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert lock.read_bytes() == before
    valid = subprocess.run(
        [sys.executable, "-m", "pinmgr", "validate", *opts[:4]],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert valid.returncode == 0, valid.stderr


def test_lock_refuses_and_leaves_the_lockfile_byte_identical(
    files: tuple[Path, list[str]],
) -> None:
    lock, opts = files
    before = lock.read_bytes()
    result = pinmgr("lock", "--from", "liar", "--role", "app", "--packages", "nginx", "--yes",
                    opts=opts)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "pinmgr: error: liar: deb package 'nginx': invalid deb version " in result.stderr
    assert "contains the control character U+001B" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert lock.read_bytes() == before
