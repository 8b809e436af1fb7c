"""The system-ssh transport against real lab sshd hosts: same snapshot as paramiko, same
failure kinds, host keys never trusted silently. HOME is a temp dir; ~/.ssh is never touched."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinmgr.collectors.collect import probe_host
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.openssh import OpensshTransport
from pinmgr.collectors.ssh import SshOptions, SshTransport
from pinmgr.model import FailureKind, Host, TransportKind
from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory

ROOT = Path(__file__).resolve().parents[2]
B = BASE_PACKAGES["debian-12"]


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    return hostlab(
        [
            HostSpec("o1"),
            HostSpec("o2"),
            HostSpec("o3"),  # rekeyed by one test
            HostSpec("ostuck", kind="hang"),
            HostSpec("ogone", kind="unreachable"),
            HostSpec("orefused", kind="refused"),
            HostSpec("obastion", role="bastion"),
            HostSpec("oinner", role="db", os_release="ubuntu-24.04", proxy_jump="obastion"),
        ]
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A throwaway HOME for this process and the ssh it starts (restored afterwards)."""
    h = tmp_path / "home"
    h.mkdir()
    saved = {k: os.environ.get(k) for k in ("HOME", "SSH_AUTH_SOCK")}
    os.environ["HOME"] = str(h)
    os.environ.pop("SSH_AUTH_SOCK", None)
    yield h
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert not (h / ".ssh").exists()


def known_copy(lab: Lab, tmp_path: Path, drop: str | None = None) -> Path:
    known = tmp_path / "known_hosts"
    lines = lab.known_hosts.read_text().splitlines(True)
    known.write_text("".join(ln for ln in lines if not (drop and ln.startswith(f"{drop},"))))
    return known


def options(known: Path, tmp_path: Path, **kw: object) -> SshOptions:
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    base: dict[str, object] = {
        "project_known_hosts": str(known),
        "connect_timeout": 2.0,
        "ssh_config": str(empty),
        "allow_agent": False,
        "identity_files": (),
    }
    return SshOptions(**{**base, **kw})  # type: ignore[arg-type]


def openssh_host(lab: Lab, name: str, **kw: object) -> Host:
    host = dataclasses.replace(lab.hosts[name].as_host(lab), transport=TransportKind.OPENSSH)
    return dataclasses.replace(host, **kw)  # type: ignore[arg-type]


def fail(host: Host, opts: SshOptions, timeout: float = 30.0) -> CollectFailed:
    transport = OpensshTransport(host, opts)
    with pytest.raises(CollectFailed) as info:
        probe_host(host, transport, timeout)
    return info.value


def test_snapshot_matches_the_paramiko_transport(lab: Lab, tmp_path: Path, home: Path) -> None:
    known = known_copy(lab, tmp_path)
    opts = options(known, tmp_path)
    host = openssh_host(lab, "o1")
    ours = probe_host(host, OpensshTransport(host, opts), 60)
    paramiko_host = dataclasses.replace(host, transport=TransportKind.SSH)
    theirs = probe_host(paramiko_host, SshTransport(paramiko_host, opts), 60)
    assert ours.packages == theirs.packages
    assert ours.os_release == theirs.os_release
    assert ours.warnings == theirs.warnings
    assert {p.name: p.version for p in ours.packages if p.name == "bash"} == {"bash": B["bash"]}
    assert len(ours.packages) >= len(B)


def test_unknown_key_refused_then_accepted_with_accept_new(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    known = known_copy(lab, tmp_path, drop="o2")
    before = known.read_bytes()
    host = openssh_host(lab, "o2")
    failed = fail(host, options(known, tmp_path))
    assert failed.kind is FailureKind.HOSTKEY_UNKNOWN
    assert "--accept-new" in failed.reason
    assert known.read_bytes() == before

    opts = options(known, tmp_path, accept_new=True)
    snap = probe_host(host, OpensshTransport(host, opts), 60)
    assert snap.packages
    added = known.read_bytes()[len(before) :].decode()
    assert known.read_bytes().startswith(before)
    assert lab.hosts["o2"].address in added
    assert lab.hosts["o2"].trusted_key.split()[1] in added
    # Now known: strict checking passes without accept-new.
    assert probe_host(host, OpensshTransport(host, options(known, tmp_path)), 60).packages


def test_rekeyed_host_is_hostkey_changed_even_with_accept_new(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    known = known_copy(lab, tmp_path)
    lab.rekey(lab.hosts["o3"])
    before = known.read_bytes()
    host = openssh_host(lab, "o3")
    for accept in (False, True):
        failed = fail(host, options(known, tmp_path, accept_new=accept))
        assert failed.kind is FailureKind.HOSTKEY_CHANGED, failed.reason
        assert "SHA256:" in failed.reason
        assert known.read_bytes() == before


def test_unreachable_refused_and_hung_hosts(lab: Lab, tmp_path: Path, home: Path) -> None:
    opts = options(known_copy(lab, tmp_path), tmp_path)
    gone = fail(openssh_host(lab, "ogone"), opts)
    assert gone.kind is FailureKind.UNREACHABLE
    assert "No route to host" in gone.reason
    refused = fail(openssh_host(lab, "orefused"), opts)
    assert refused.kind is FailureKind.UNREACHABLE
    assert refused.transient
    started = time.monotonic()
    stuck = fail(openssh_host(lab, "ostuck"), opts, timeout=30)
    assert stuck.kind is FailureKind.TIMEOUT
    assert time.monotonic() - started < 15  # ConnectTimeout 2, not the 30 s command deadline


def test_wrong_key_is_auth_failed(lab: Lab, tmp_path: Path, home: Path) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    opts = options(known_copy(lab, tmp_path), tmp_path)
    failed = fail(openssh_host(lab, "o1", key_file=str(wrong)), opts)
    assert failed.kind is FailureKind.AUTH_FAILED
    assert "Permission denied" in failed.reason


def test_command_timeout_kills_ssh_and_byte_cap(lab: Lab, tmp_path: Path, home: Path) -> None:
    host = openssh_host(lab, "o1")
    opts = options(known_copy(lab, tmp_path), tmp_path)
    started = time.monotonic()
    with pytest.raises(CollectFailed) as info:
        # connect_timeout (2 s) is added to the command's 1 s
        OpensshTransport(host, opts).run("sleep 30", 1.0)
    assert info.value.kind is FailureKind.TIMEOUT
    assert time.monotonic() - started < 10
    capped = dataclasses.replace(opts, max_bytes=1000)
    with pytest.raises(CollectFailed) as info:
        OpensshTransport(host, capped).run("head -c 100000 /dev/zero", 30)
    assert info.value.kind is FailureKind.COLLECT_ERROR
    assert "over 1000 bytes" in info.value.reason
    result = OpensshTransport(host, opts).run("cat >/dev/null; echo out; echo err >&2; exit 3", 30)
    assert (result.rc, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_cli_with_openssh_inventory(lab: Lab, tmp_path: Path, home: Path) -> None:
    pins = "".join(f'{n} = "{B[n]}"\n' for n in ("bash", "openssl"))
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(f'schema = 1\n\n[roles.app."debian-12".deb]\n{pins}')
    inv = lab.write_inventory(tmp_path / "inventory.toml", [lab.hosts["o1"], lab.hosts["ogone"]])
    text = inv.read_text().replace('address = "', 'transport = "openssh"\naddress = "')
    inv.write_text(text)
    known = known_copy(lab, tmp_path)
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "-i", str(inv),
         "--known-hosts", str(known), "--ssh-config", str(empty), "--connect-timeout", "2",
         "-f", "json", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    assert result.returncode == 3, result.stderr
    kinds = {f["host"]: f["kind"] for f in doc["findings"]}
    assert kinds["o1"] == "ok", doc["findings"]
    assert kinds["ogone"] == "unreachable"


def test_cli_transport_option_overrides_the_inventory(lab: Lab, tmp_path: Path, home: Path) -> None:
    """A plain (paramiko) inventory, --transport openssh: a known host is collected and
    an unknown key is refused with ssh's wording, so the system ssh really ran."""
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(f'schema = 1\n\n[roles.app."debian-12".deb]\nbash = "{B["bash"]}"\n')
    inv = lab.write_inventory(tmp_path / "inventory.toml", [lab.hosts["o1"], lab.hosts["o2"]])
    assert "openssh" not in inv.read_text()
    known = known_copy(lab, tmp_path, drop="o2")
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "-i", str(inv),
         "--known-hosts", str(known), "--ssh-config", str(empty), "--transport", "openssh",
         "-f", "json", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    findings = json.loads(result.stdout)["findings"]
    by_host = {f["host"]: f for f in findings}
    assert by_host["o1"]["kind"] == "ok"
    assert by_host["o2"]["kind"] == "hostkey-unknown"
    assert "ED25519" in by_host["o2"]["reason"]  # from ssh's "No ED25519 host key is known"
    assert result.returncode == 3


def test_inventory_proxy_jump_goes_through_the_bastion_with_strict_keys(
    lab: Lab, tmp_path: Path, home: Path
) -> None:
    """``proxy_jump = "user@addr:22"`` names no key and no known_hosts: the hop gets ours."""
    host = openssh_host(lab, "oinner")
    assert host.proxy_jump == f"{lab.user}@{lab.hosts['obastion'].address}:22"
    opts = options(known_copy(lab, tmp_path), tmp_path)
    result = OpensshTransport(host, opts).run("cat >/dev/null; echo $SSH_CONNECTION", 30)
    assert result.rc == 0, result.stderr
    assert result.stdout.split()[0] == lab.hosts["obastion"].address.encode()
    snap = probe_host(host, OpensshTransport(host, opts), 60)
    assert snap.os_release is not None and snap.os_release.id == "ubuntu"

    known = known_copy(lab, tmp_path, drop="obastion")
    before = known.read_bytes()
    failed = fail(host, options(known, tmp_path))
    assert failed.kind is FailureKind.HOSTKEY_UNKNOWN, failed.reason
    assert known.read_bytes() == before
