"""Real OpenSSH servers on loopback for the SSH transport tests.

Each sshd runs in the foreground (``-D``) with a config, host key and authorized_keys in a
temp dir, is waited for by polling for its banner (never by sleeping), and is killed by a
finalizer even when the test fails. Keys are generated at test time with ssh-keygen.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinmgr.collectors.ssh import SshOptions
from pinmgr.model import Host

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

pytestmark = pytest.mark.skipif(not Path(SSHD).exists(), reason="openssh-server not installed")


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    """A throwaway key pair (private at ``path``, public at ``path.pub``)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "pinmgr-test", "-f", str(path)],
        check=True,
    )
    return path


def pubkey(path: Path) -> str:
    """``type base64`` of a key pair's public half."""
    fields = Path(f"{path}.pub").read_text().split()
    return f"{fields[0]} {fields[1]}"


def openssh_fingerprint(path: Path) -> str:
    """The fingerprint as ssh-keygen prints it: the oracle for our own formatting."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{path}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1]


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_for_banner(
    address: str, port: int, proc: subprocess.Popen[bytes], deadline: float
) -> None:
    """Poll until the server answers with an SSH banner (or fail at the deadline)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection((address, port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError as exc:
            last = exc
        # Not a sleep-wait: a bounded pause between connection attempts.
        time.sleep(0.02)
    raise RuntimeError(f"sshd on {address}:{port} never answered: {last}")


@dataclass
class Sshd:
    address: str
    port: int
    host_key: Path
    proc: subprocess.Popen[bytes]

    def known_hosts_line(self, key: Path | None = None) -> str:
        name = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        return f"{name} {pubkey(key or self.host_key)}\n"


@dataclass
class Keys:
    dir: Path
    client: Path  # authorized on every test sshd
    other_client: Path  # never authorized
    other_host: Path  # a host key no server uses (for "changed key")


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("sshkeys")
    return Keys(
        dir=d,
        client=keygen(d / "client"),
        other_client=keygen(d / "other_client"),
        other_host=keygen(d / "other_host"),
    )


StartSshd = Callable[..., Sshd]

# sshd as root needs its privilege-separation dir, created by the openssh-server service.
_PRIVATE_RUN = (
    "mount --make-rprivate / && mount -t tmpfs -o mode=0755 pinmgr-test-run /run && "
    'mkdir /run/sshd && exec "$@"'
)


def sshd_command(config: Path) -> list[str]:
    """sshd in the foreground; where the machine has no /run/sshd, in a private mount
    namespace with its own /run, rather than creating the dir on the machine."""
    cmd = [SSHD, "-D", "-e", "-f", str(config)]
    if os.geteuid() != 0 or Path("/run/sshd").is_dir():
        return cmd
    return ["unshare", "-m", "sh", "-c", _PRIVATE_RUN, "sh", *cmd]


@pytest.fixture
def start_sshd(tmp_path: Path, keys: Keys) -> Iterator[StartSshd]:
    """Factory: start an sshd on loopback; every one started is stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(address: str = "127.0.0.1", extra: str = "", authorized: Path | None = None) -> Sshd:
        d = tmp_path / f"sshd{len(procs)}"
        d.mkdir()
        host_key = keygen(d / "host_ed25519")
        auth = d / "authorized_keys"
        auth.write_text(pubkey(authorized or keys.client) + "\n")
        port = free_port(address)
        config = d / "sshd_config"
        config.write_text(
            f"Port {port}\n"
            f"ListenAddress {address}\n"
            f"HostKey {host_key}\n"
            "PidFile none\n"
            f"AuthorizedKeysFile {auth}\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "LogLevel ERROR\n" + extra
        )
        proc = subprocess.Popen(
            sshd_command(config),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        wait_for_banner(address, port, proc, time.monotonic() + 15)
        return Sshd(address, port, host_key, proc)

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sshd(start_sshd: StartSshd) -> Sshd:
    return start_sshd()


@pytest.fixture
def known_hosts(tmp_path: Path) -> Path:
    """An (absent) user known_hosts file in the test's temp dir."""
    return tmp_path / "home_ssh" / "known_hosts"


@pytest.fixture
def options(keys: Keys, known_hosts: Path) -> SshOptions:
    """Options that touch nothing of the real user: temp known_hosts, test key, no agent."""
    return SshOptions(
        known_hosts=str(known_hosts),
        global_known_hosts=None,
        identity_files=(str(keys.client),),
        allow_agent=False,
        connect_timeout=5,
    )


def make_host(server: Sshd, name: str = "web1", **kw: object) -> Host:
    fields: dict[str, object] = {
        "name": name,
        "env": "test",
        "roles": ("app",),
        "address": server.address,
        "port": server.port,
        "user": getpass.getuser(),
    }
    fields.update(kw)
    return Host(**fields)  # type: ignore[arg-type]
