"""A key that cannot be used is named, with its cause, in the host's auth-failed reason.

Real sshd on loopback, keys generated at test time, both transports (paramiko and the system
ssh). Permission denied cannot be produced for root by file modes alone (root reads any
file), so those tests run the transport in a child process in a new user namespace with no
uid mapping: there root has no CAP_DAC_OVERRIDE over the host's files, and a mode-000 file
owned by root fails to open with EACCES, exactly as for an ordinary user.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr.collectors import keyfiles
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.openssh import OpensshTransport
from pinmgr.collectors.ssh import SshOptions, SshTransport
from pinmgr.model import FailureKind

from .conftest import Keys, Sshd, StartSshd, keygen, make_host
from .test_ssh_transport import trust

Transport = type[SshTransport] | type[OpensshTransport]
TRANSPORTS = [SshTransport, OpensshTransport]


@pytest.fixture
def server(start_sshd: StartSshd, options: SshOptions, known_hosts: Path) -> Sshd:
    sshd = start_sshd()
    trust(known_hosts, sshd)
    return sshd


@pytest.fixture
def no_keys(options: SshOptions) -> SshOptions:
    """No default identities: only the inventory's key could get in."""
    return dataclasses.replace(options, identity_files=())


def reason(transport: Transport, server: Sshd, options: SshOptions, key: Path) -> str:
    t = transport(make_host(server, key_file=str(key)), options)
    try:
        with pytest.raises(CollectFailed) as info:
            t.run("true", 20)
    finally:
        t.close()
    assert info.value.kind is FailureKind.AUTH_FAILED, info.value.reason
    assert "\n" not in info.value.reason
    return info.value.reason


@pytest.mark.parametrize("transport", TRANSPORTS, ids=["paramiko", "openssh"])
@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda d: d / "absent", keyfiles.NO_SUCH_FILE),
        (lambda d: d, keyfiles.IS_A_DIRECTORY),
        (lambda d: Path(f"{keygen(d / 'pair')}.pub"), keyfiles.NOT_A_KEY),
        (lambda d: (d / "notes").write_text("hello\n") and d / "notes", keyfiles.NOT_A_KEY),
        (lambda d: keygen(d / "locked", passphrase="pw"), keyfiles.ENCRYPTED),
        (lambda d: keygen(d / "locked_rsa", "rsa", "pw"), keyfiles.ENCRYPTED),
    ],
    ids=["missing", "directory", "public-key", "text", "encrypted", "encrypted-rsa"],
)
def test_unusable_key_is_named_with_its_cause(
    transport: Transport,
    make: object,
    cause: str,
    server: Sshd,
    no_keys: SshOptions,
    tmp_path: Path,
) -> None:
    d = tmp_path / "keys"
    d.mkdir()
    key = make(d)  # type: ignore[operator]
    text = reason(transport, server, no_keys, key)
    assert f"key {key}: {cause}" in text
    assert text.startswith(f"web1 ({server.address}:{server.port}): authentication ")


def test_encrypted_key_words_say_what_was_missing(
    server: Sshd, no_keys: SshOptions, tmp_path: Path
) -> None:
    key = keygen(tmp_path / "locked", passphrase="right")
    # no terminal to ask (the CLI passes no callback without one)
    assert "(no terminal to ask for one)" in reason(SshTransport, server, no_keys, key)
    skipped = dataclasses.replace(no_keys, passphrase=lambda path: None)
    key2 = keygen(tmp_path / "locked2", passphrase="right")
    assert "(none given)" in reason(SshTransport, server, skipped, key2)
    wrong = dataclasses.replace(no_keys, passphrase=lambda path: "wrong")
    key3 = keygen(tmp_path / "locked3", passphrase="right")
    assert "the passphrase given does not decrypt it" in reason(SshTransport, server, wrong, key3)
    assert "add it to ssh-agent" in reason(OpensshTransport, server, no_keys, key)


@pytest.mark.parametrize("transport", TRANSPORTS, ids=["paramiko", "openssh"])
def test_a_bad_key_does_not_matter_when_another_gets_in(
    transport: Transport, server: Sshd, options: SshOptions, keys: Keys, tmp_path: Path
) -> None:
    """As with OpenSSH, an unusable inventory key is skipped when another identity works."""
    opts = dataclasses.replace(options, identity_files=(str(keys.client),))
    if transport is OpensshTransport:
        opts = dataclasses.replace(opts, identity_files=(str(keys.client), str(tmp_path)))
    t = transport(make_host(server, key_file=str(tmp_path / "absent")), opts)
    try:
        assert t.run("echo in", 20).stdout == b"in\n"
    finally:
        t.close()


# --- permission denied, in a user namespace ----------------------------------------------

CHILD = """
import json, sys
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.openssh import OpensshTransport
from pinmgr.collectors.ssh import SshOptions, SshTransport
from pinmgr.model import Host

args = json.loads(sys.argv[1])
cls = {"paramiko": SshTransport, "openssh": OpensshTransport}[args["transport"]]
host = Host(name="web1", env="test", roles=("app",), address=args["address"],
            port=args["port"], user=args["user"], key_file=args["key"])
options = SshOptions(known_hosts=args["known_hosts"], global_known_hosts=None,
                     identity_files=(), allow_agent=False, connect_timeout=5)
try:
    cls(host, options).run("true", 20)
    print(json.dumps({"kind": "ok", "reason": ""}))
except CollectFailed as exc:
    print(json.dumps({"kind": exc.kind.value, "reason": exc.reason}))
"""


def in_user_namespace(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--user", *argv], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def userns() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    probe = in_user_namespace("true")
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.strip()}")


@pytest.mark.parametrize("transport", ["paramiko", "openssh"])
def test_unreadable_key_is_permission_denied(
    userns: None, transport: str, server: Sshd, known_hosts: Path, tmp_path: Path
) -> None:
    key = keygen(tmp_path / "unreadable")
    key.chmod(0o000)
    readable = in_user_namespace(sys.executable, "-c", f"open({str(key)!r}).read()")
    assert "PermissionError" in readable.stderr  # the namespace really denies it
    args = {
        "transport": transport,
        "address": server.address,
        "port": server.port,
        "user": make_host(server).user,
        "key": str(key),
        "known_hosts": str(known_hosts),
    }
    child = in_user_namespace(sys.executable, "-c", CHILD, json.dumps(args))
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["kind"] == "auth-failed", result
    assert f"key {key}: {keyfiles.PERMISSION_DENIED}" in result["reason"]
