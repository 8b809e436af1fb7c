"""SSH safety of the real CLI against real lab hosts: host keys, dead/hung hosts, bad keys,
hostile output. Every failure is a finding with a kind; nothing is trusted or printed raw."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory, LabHost

ROOT = Path(__file__).resolve().parents[2]
BOOKWORM = "debian-12"
B = BASE_PACKAGES[BOOKWORM]
PINNED = ("bash", "nginx", "openssl")

# What a hostile host prints: an OSC 8 hyperlink, rich markup, a screen clear, invalid UTF-8.
EVIL_NAME = b"evil\x1b]8;;http://x\x07[red]pkg\xff"
EVIL_VERSION = b"1.0\x1b[2J[bold]x\xfe"
EVIL_NGINX = b"1.22.1-9\x1b]8;;http://x\x07[red]\xff"


def pinmgr(
    *args: str, home: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI; HOME is a temp dir so the user's ~/.ssh is never read or written."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home), **(extra_env or {})}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_lockfile(path: Path) -> Path:
    pins = "".join(f'{n} = "{B[n]}"\n' for n in PINNED)
    path.write_text(f'schema = 1\n\n[roles.app."{BOOKWORM}".deb]\n{pins}')
    return path


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    return hostlab(
        [
            HostSpec("s1"),
            HostSpec("s2"),
            HostSpec("s3"),  # rekeyed by one test: nobody else uses it
            HostSpec("stuck", kind="hang"),
            HostSpec("gone", kind="unreachable"),
            HostSpec("evil", writable=True),
            HostSpec("peer"),
            HostSpec("flood", writable=True),
        ]
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def setup(lab: Lab, tmp_path: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """Lockfile, inventory of ``names`` and a private copy of the lab's known_hosts."""
    lock = write_lockfile(tmp_path / "pinmgr.toml")
    inv = lab.write_inventory(tmp_path / "inventory.toml", [lab.hosts[n] for n in names])
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    return lock, inv, known


def check(
    lock: Path, inv: Path, known: Path, home: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    result = pinmgr(
        "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known),
        "-f", "json", "-q", *extra, home=home,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, doc, result.stderr


def failure(doc: dict[str, Any], host: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in doc["findings"] if f["host"] == host]
    assert len(found) == 1, found
    return found[0]


def fingerprint(host: LabHost) -> str:
    pub = host.dir / "ssh_host_ed25519_key.pub"
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[1]


def drop_host(known: Path, name: str) -> None:
    kept = [ln for ln in known.read_text().splitlines(True) if not ln.startswith(f"{name},")]
    known.write_text("".join(kept))


def test_unknown_host_is_refused_with_fingerprint_and_known_hosts_untouched(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    lock, inv, known = setup(lab, tmp_path, ["s1", "s2"])
    drop_host(known, "s1")
    before = known.read_bytes()
    code, doc, _ = check(lock, inv, known, home)
    assert code == 3
    f = failure(doc, "s1")
    assert f["kind"] == "hostkey-unknown"
    assert fingerprint(lab.hosts["s1"]) in f["reason"]
    assert fingerprint(lab.hosts["s1"]).startswith("SHA256:")
    assert "ssh-keyscan" in f["reason"]
    assert {g["kind"] for g in doc["findings"] if g["host"] == "s2"} == {"ok"}
    assert known.read_bytes() == before
    assert not (home / ".ssh").exists()


def test_accept_new_collects_and_records_the_key_in_the_project_file(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    lock, inv, known = setup(lab, tmp_path, ["s1", "s2"])
    drop_host(known, "s1")
    before = known.read_text()
    code, doc, _ = check(lock, inv, known, home, "--accept-new")
    assert code == 0, doc
    assert {f["kind"] for f in doc["findings"]} == {"ok"}
    assert {f["host"] for f in doc["findings"]} == {"s1", "s2"}
    after = known.read_text()
    assert after.startswith(before)  # appended, nothing rewritten
    added = after[len(before) :].splitlines()
    s1 = lab.hosts["s1"]
    key_type, key_b64 = s1.host_key_pub.split()[:2]
    assert len(added) == 1
    assert added[0].split()[1:3] == [key_type, key_b64]
    assert s1.address in added[0].split()[0]
    assert not (home / ".ssh").exists()
    # Now known: strict checking passes without --accept-new and changes nothing.
    code, doc, _ = check(lock, inv, known, home)
    assert code == 0
    assert known.read_text() == after


def test_changed_host_key_is_refused_others_checked_file_byte_identical(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    lock, inv, known = setup(lab, tmp_path, ["s1", "s2", "s3"])
    lab.rekey("s3")  # the lab's known_hosts (and our copy) keep the old key
    before = known.read_bytes()
    for extra in ((), ("--accept-new",)):  # --accept-new never overrides a changed key
        code, doc, _ = check(lock, inv, known, home, *extra)
        assert code == 3
        f = failure(doc, "s3")
        assert f["kind"] == "hostkey-changed"
        assert fingerprint(lab.hosts["s3"]) in f["reason"]
        for name in ("s1", "s2"):
            got = {(g["kind"], g["package"]) for g in doc["findings"] if g["host"] == name}
            assert got == {("ok", p) for p in PINNED}
        assert known.read_bytes() == before


def test_unreachable_address_is_reported_at_once(lab: Lab, tmp_path: Path, home: Path) -> None:
    lock, inv, known = setup(lab, tmp_path, ["gone", "s1"])
    started = time.monotonic()
    code, doc, _ = check(lock, inv, known, home)
    elapsed = time.monotonic() - started
    assert code == 3
    f = failure(doc, "gone")
    assert f["kind"] == "unreachable"
    assert "No route to host" in f["reason"]
    assert lab.hosts["gone"].address in f["reason"]
    assert {g["kind"] for g in doc["findings"] if g["host"] == "s1"} == {"ok"}
    assert elapsed < 60  # sanity only: no route fails at once, not after a timeout


def test_hung_host_times_out_within_the_connect_timeout(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    lock, inv, known = setup(lab, tmp_path, ["stuck", "s1"])
    started = time.monotonic()
    code, doc, _ = check(lock, inv, known, home, "--connect-timeout", "2")
    elapsed = time.monotonic() - started
    assert code == 3
    f = failure(doc, "stuck")
    assert f["kind"] == "timeout"
    assert "2s" in f["reason"]
    assert {g["kind"] for g in doc["findings"] if g["host"] == "s1"} == {"ok"}
    assert elapsed < 60  # sanity only (the pool's own deadline would be 60 + 30 s)


def test_wrong_key_is_auth_failed(lab: Lab, tmp_path: Path, home: Path) -> None:
    lock, inv, known = setup(lab, tmp_path, ["s1"])
    wrong = tmp_path / "wrong_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    inv.write_text(inv.read_text().replace(str(lab.client_key), str(wrong)))
    assert str(wrong) in inv.read_text()
    code, doc, _ = check(lock, inv, known, home)
    assert code == 3
    f = failure(doc, "s1")
    assert f["kind"] == "auth-failed"
    assert lab.user in f["reason"]
    assert str(wrong) in f["reason"]  # says which key was tried


# --- hostile output --------------------------------------------------------------------------

WRAPPER = b"""#!/bin/sh
# A hostile dpkg-query: the real output with nginx's version replaced, plus a forged package.
/usr/bin/dpkg-query "$@" | grep -v '^nginx\t'
printf '%s\\t%s\\tii \\tamd64\\n' 'NGINX_VERSION_LINE'
printf '%s\\t%s\\tii \\tamd64\\n' 'EVIL_NAME' 'EVIL_VERSION'
"""


@pytest.fixture(scope="module")
def hostile(lab: Lab) -> Lab:
    """``evil`` runs a dpkg-query wrapper (inside its own /usr overlay) printing hostile text."""
    script = (
        WRAPPER.replace(b"'NGINX_VERSION_LINE'", b"nginx '" + EVIL_NGINX + b"'")
        .replace(b"'EVIL_NAME'", b"'" + EVIL_NAME + b"'")
        .replace(b"'EVIL_VERSION'", b"'" + EVIL_VERSION + b"'")
    )
    pid = str(lab.pid1("evil"))
    done = subprocess.run(
        ["nsenter", "-t", pid, "-a", "--", "sh", "-c",
         "cat > /usr/local/bin/dpkg-query && chmod 755 /usr/local/bin/dpkg-query"],
        input=script, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = subprocess.run(
        ["nsenter", "-t", pid, "-a", "--", "sh", "-c", "PATH=/usr/local/bin:$PATH dpkg-query -W"],
        capture_output=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert EVIL_NAME in shown and EVIL_NGINX in shown
    return lab


def test_hostile_output_is_escaped_in_table_and_json(
    hostile: Lab, tmp_path: Path, home: Path
) -> None:
    lock, inv, known = setup(hostile, tmp_path, ["evil", "peer"])
    base = ["check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known), "-q"]

    as_json = pinmgr(*base, "-f", "json", "--unpinned", home=home)
    assert as_json.returncode == 1, as_json.stderr
    doc = json.loads(as_json.stdout)  # valid JSON despite invalid UTF-8 from the host
    nginx = [f for f in doc["findings"] if f["host"] == "evil" and f["package"] == "nginx"]
    assert len(nginx) == 1 and nginx[0]["kind"] == "drift"
    evil_pkgs = [f["package"] for f in doc["findings"] if "evil" in (f["package"] or "")]
    assert evil_pkgs, doc["findings"]
    for text in (as_json.stdout, as_json.stderr):
        assert "\x1b" not in text and "\x07" not in text

    table = pinmgr(*base, "--unpinned", "--by-host", home=home)
    assert table.returncode == 1, table.stderr
    out = table.stdout
    assert "evil" in out and "nginx" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "[red]" in out  # markup from the host is shown as text, not applied
    assert "\\x1b]8;;http://x\\x07" in out  # the OSC 8 link is visible as an escape


def test_hostile_output_never_reaches_a_colour_terminal_raw(
    hostile: Lab, tmp_path: Path, home: Path
) -> None:
    """Without NO_COLOR, on a real pty: pinmgr's own colours, never the host's sequences."""
    lock, inv, known = setup(hostile, tmp_path, ["evil", "peer"])
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SSH_AUTH_SOCK")}
    env.update(HOME=str(home), TERM="xterm-256color", COLUMNS="200")
    master, slave = pty.openpty()
    # A wide terminal, so no host text is wrapped in the middle of what we look for.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "-i", str(inv),
         "--known-hosts", str(known), "-q", "--unpinned", "--by-host"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the pty
                break
            if not chunk:
                break
            out += chunk
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    proc.stderr.close()
    assert rc == 1
    assert b"\x1b[" in out  # colour is really on: the test would see a raw sequence
    assert b"\x1b]" not in out and b"\x07" not in out  # no OSC (hyperlink, title), no BEL
    assert b"\x1b[2J" not in out  # no screen clear
    assert b"\xff" not in out and b"\xfe" not in out
    text = out.decode("utf-8")
    assert "[red]" in text and "[bold]" in text


def test_endless_output_stops_at_the_byte_cap(lab: Lab) -> None:
    """A host whose dpkg-query never stops talking costs one collect-error, not memory/time."""
    from pinmgr.collectors.pool import collect_all, make_transport_factory
    from pinmgr.collectors.ssh import SshOptions
    from pinmgr.model import FailureKind, HostFailure

    done = lab.exec(
        "flood",
        ["sh", "-c", "cat > /usr/local/bin/dpkg-query && chmod 755 /usr/local/bin/dpkg-query"],
        input="#!/bin/sh\nexec yes pinmgr-flood\n",
    )
    assert done.returncode == 0, done.stderr
    cap = 2_000_000
    options = SshOptions(
        known_hosts=None,
        global_known_hosts=None,
        project_known_hosts=str(lab.known_hosts),
        allow_agent=False,
        identity_files=(),
        max_bytes=cap,
    )
    host = lab.hosts["flood"].as_host(lab)
    factory = make_transport_factory(ssh_options=options)
    started = time.monotonic()
    (result,) = collect_all([host], factory, timeout=120)
    elapsed = time.monotonic() - started
    assert isinstance(result, HostFailure), result
    assert result.kind is FailureKind.COLLECT_ERROR
    assert result.reason.endswith(f"output over {cap} bytes")
    assert elapsed < 60  # sanity only: the cap ends it, not the 120 s command timeout
