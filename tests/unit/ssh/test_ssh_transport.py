"""SshTransport against real sshd processes on loopback."""

from __future__ import annotations

import dataclasses
import errno
import getpass
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.ssh import SshOptions, SshTransport, _socket_failure, parse_jump
from pinmgr.inventory import ssh_config
from pinmgr.model import FailureKind, Host

from .conftest import Keys, Sshd, StartSshd, keygen, make_host, openssh_fingerprint


def trust(known_hosts: Path, *servers: Sshd) -> None:
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with known_hosts.open("a") as f:
        for server in servers:
            f.write(server.known_hosts_line())


def run(server: Sshd, options: SshOptions, command: str, timeout: float = 20, **kw: object):  # type: ignore[no-untyped-def]
    transport = SshTransport(make_host(server, **kw), options)
    try:
        return transport.run(command, timeout)
    finally:
        transport.close()


def failure(
    server: Sshd, options: SshOptions, command: str = "true", **kw: object
) -> CollectFailed:
    with pytest.raises(CollectFailed) as info:
        run(server, options, command, **kw)
    assert "\n" not in info.value.reason
    return info.value


# --- running -------------------------------------------------------------------------------


def test_runs_command_and_returns_rc_stdout_stderr(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    result = run(sshd, options, "printf 'out\\n'; printf err >&2; exit 3")
    assert result.rc == 3
    assert result.stdout == b"out\n"
    assert result.stderr == b"err"


def test_multiline_script_runs_under_sh_and_stdin_is_empty(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    script = "x='it''s'\ncat\nif [ -n \"$x\" ]; then\n  echo \"done $x\"\nfi\n# trailing comment"
    result = run(sshd, options, script)
    # `cat` read stdin: it must see EOF, not the rest of the script.
    assert result.stdout == b"done its\n"
    assert result.rc == 0


def test_one_connection_serves_several_runs(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    transport = SshTransport(make_host(sshd), options)
    try:
        first = transport.run("echo $SSH_CONNECTION", 10).stdout.split()[1]
        second = transport.run("echo $SSH_CONNECTION", 10).stdout.split()[1]
    finally:
        transport.close()
    transport.close()  # idempotent
    assert first == second  # same client port: the same TCP connection


def test_large_output_is_complete(sshd: Sshd, options: SshOptions, known_hosts: Path) -> None:
    trust(known_hosts, sshd)
    result = run(sshd, options, "head -c 20000000 /dev/zero; head -c 300000 /dev/zero >&2")
    assert len(result.stdout) == 20_000_000
    assert len(result.stderr) == 300_000


# --- host keys -----------------------------------------------------------------------------


def test_unknown_host_key_is_refused_with_fingerprint_and_file_untouched(
    sshd: Sshd, options: SshOptions, known_hosts: Path, keys: Keys
) -> None:
    known_hosts.parent.mkdir(parents=True)
    other = f"otherhost {Path(f'{keys.other_host}.pub').read_text().split()[0]} "
    other += Path(f"{keys.other_host}.pub").read_text().split()[1] + "\n"
    known_hosts.write_text(other)
    before = known_hosts.read_bytes()
    err = failure(sshd, options)
    assert err.kind is FailureKind.HOSTKEY_UNKNOWN
    assert openssh_fingerprint(sshd.host_key) in err.reason
    assert f"ssh-keyscan -p {sshd.port} -t ed25519 {sshd.address} >> {known_hosts}" in err.reason
    assert "--accept-new" in err.reason
    assert err.reason.startswith("web1 ")
    assert known_hosts.read_bytes() == before


def test_unknown_host_key_does_not_create_the_file(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    assert failure(sshd, options).kind is FailureKind.HOSTKEY_UNKNOWN
    assert not known_hosts.exists()


def test_accept_new_records_key_then_strict_mode_works(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    result = run(sshd, dataclasses.replace(options, accept_new=True), "echo hi")
    assert result.stdout == b"hi\n"
    text = known_hosts.read_text()
    assert text == sshd.known_hosts_line()
    # OpenSSH itself finds the entry under the [host]:port name.
    found = subprocess.run(
        ["ssh-keygen", "-F", f"[{sshd.address}]:{sshd.port}", "-f", str(known_hosts)],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0
    assert run(sshd, options, "echo again").stdout == b"again\n"


def test_accept_new_writes_project_file_and_leaves_user_file(
    sshd: Sshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project" / "known_hosts"
    project.parent.mkdir()
    project.write_text("# project hosts")  # no trailing newline: must not glue lines
    opts = dataclasses.replace(options, project_known_hosts=str(project), accept_new=True)
    assert run(sshd, opts, "echo ok").rc == 0
    assert project.read_text() == "# project hosts\n" + sshd.known_hosts_line()
    assert not known_hosts.exists()


def test_accept_new_from_many_threads_appends_once(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    opts = dataclasses.replace(options, accept_new=True)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            run(sshd, opts, "true")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert known_hosts.read_text() == sshd.known_hosts_line()


def test_hashed_known_hosts_entry_is_understood(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)], check=True)
    assert known_hosts.read_text().startswith("|1|")
    assert run(sshd, options, "echo hashed").stdout == b"hashed\n"


@pytest.mark.parametrize("accept_new", [False, True])
def test_changed_host_key_is_refused_and_file_byte_identical(
    sshd: Sshd, options: SshOptions, known_hosts: Path, keys: Keys, accept_new: bool
) -> None:
    known_hosts.parent.mkdir(parents=True)
    known_hosts.write_text("# mine\n" + sshd.known_hosts_line(keys.other_host))
    before = known_hosts.read_bytes()
    err = failure(sshd, dataclasses.replace(options, accept_new=accept_new))
    assert err.kind is FailureKind.HOSTKEY_CHANGED
    assert openssh_fingerprint(keys.other_host) in err.reason
    assert openssh_fingerprint(sshd.host_key) in err.reason
    assert known_hosts.read_bytes() == before


def test_revoked_host_key_is_refused(sshd: Sshd, options: SshOptions, known_hosts: Path) -> None:
    trust(known_hosts, sshd)
    with known_hosts.open("a") as f:
        f.write("@revoked * " + sshd.known_hosts_line().split(" ", 1)[1])
    err = failure(sshd, options)
    assert err.kind is FailureKind.HOSTKEY_CHANGED
    assert "revoked" in err.reason


# --- auth ----------------------------------------------------------------------------------


def test_wrong_key_is_auth_failed(
    sshd: Sshd, options: SshOptions, known_hosts: Path, keys: Keys
) -> None:
    trust(known_hosts, sshd)
    err = failure(sshd, dataclasses.replace(options, identity_files=(str(keys.other_client),)))
    assert err.kind is FailureKind.AUTH_FAILED
    assert err.reason.startswith(f"web1 ({sshd.address}:{sshd.port}): authentication as ")
    assert str(keys.other_client) in err.reason


def test_no_key_at_all_is_auth_failed(
    sshd: Sshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    trust(known_hosts, sshd)
    opts = dataclasses.replace(options, identity_files=(str(tmp_path / "missing"),))
    err = failure(sshd, opts)
    assert err.kind is FailureKind.AUTH_FAILED
    assert "no usable key" in err.reason


def test_host_key_file_is_tried_first(
    sshd: Sshd, options: SshOptions, known_hosts: Path, keys: Keys
) -> None:
    trust(known_hosts, sshd)
    opts = dataclasses.replace(options, identity_files=(str(keys.other_client),))
    assert run(sshd, opts, "echo k", key_file=str(keys.client)).stdout == b"k\n"


def test_encrypted_key_uses_passphrase_callback_once(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    locked = keygen(tmp_path / "locked", passphrase="s3cret pass")
    server = start_sshd(authorized=locked)
    trust(known_hosts, server)
    asked: list[str] = []

    def passphrase(path: str) -> str:
        asked.append(path)
        return "s3cret pass"

    opts = dataclasses.replace(options, identity_files=(str(locked),), passphrase=passphrase)
    assert run(server, opts, "echo a").stdout == b"a\n"
    assert run(server, opts, "echo b").stdout == b"b\n"
    assert asked == [str(locked)]


def test_encrypted_key_without_passphrase_is_skipped(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    locked = keygen(tmp_path / "locked2", passphrase="other")
    server = start_sshd(authorized=locked)
    trust(known_hosts, server)
    err = failure(server, dataclasses.replace(options, identity_files=(str(locked),)))
    assert err.kind is FailureKind.AUTH_FAILED


# --- network failures, caps and deadlines -------------------------------------------------


def test_closed_port_is_unreachable(options: SshOptions) -> None:
    port = 1
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = make_host(Sshd("127.0.0.1", port, Path("-"), None), name="db9")  # type: ignore[arg-type]
    with pytest.raises(CollectFailed) as info:
        SshTransport(host, options).run("true", 5)
    assert info.value.kind is FailureKind.UNREACHABLE
    assert info.value.reason == f"db9 (127.0.0.1:{port}): Connection refused"
    assert info.value.transient  # the pool retries it once (host may be booting)


def test_output_over_cap_is_collect_error(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    opts = dataclasses.replace(options, max_bytes=100_000)
    err = failure(sshd, opts, "head -c 5000000 /dev/zero")
    assert err.kind is FailureKind.COLLECT_ERROR
    assert err.reason.endswith("output over 100000 bytes")
    # stdout and stderr count together
    err = failure(sshd, opts, "head -c 60000 /dev/zero; head -c 60000 /dev/zero >&2")
    assert err.kind is FailureKind.COLLECT_ERROR


def test_command_that_never_ends_times_out_and_connection_survives(
    sshd: Sshd, options: SshOptions, known_hosts: Path
) -> None:
    trust(known_hosts, sshd)
    transport = SshTransport(make_host(sshd), options)
    try:
        started = time.monotonic()
        with pytest.raises(CollectFailed) as info:
            transport.run("echo partial; sleep 600", 1.0)
        elapsed = time.monotonic() - started
        assert info.value.kind is FailureKind.TIMEOUT
        assert "within 1s" in info.value.reason
        assert 0.9 <= elapsed < 4
        assert transport.run("echo still", 10).stdout == b"still\n"
    finally:
        transport.close()


def test_listener_without_banner_times_out_within_connect_timeout(
    options: SshOptions,
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        host = make_host(Sshd("127.0.0.1", port, Path("-"), None), name="mute")  # type: ignore[arg-type]
        transport = SshTransport(host, dataclasses.replace(options, connect_timeout=1.0))
        started = time.monotonic()
        with pytest.raises(CollectFailed) as info:
            transport.run("true", 30)
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert info.value.kind is FailureKind.TIMEOUT
    assert info.value.reason.startswith(f"mute (127.0.0.1:{port}): ")
    assert 0.9 <= elapsed < 3


# --- ProxyJump -----------------------------------------------------------------------------


def test_proxy_jump_reaches_target_only_through_the_jump_host(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path
) -> None:
    target = start_sshd()
    decoy = start_sshd()
    # The jump host may only forward to the target: proves traffic really goes through it.
    jump = start_sshd(extra=f"PermitOpen 127.0.0.1:{target.port}\n")
    trust(known_hosts, target, decoy, jump)
    spec = f"root@127.0.0.1:{jump.port}"
    result = run(target, options, "echo via-jump", proxy_jump=spec)
    assert result.stdout == b"via-jump\n"

    err = failure(decoy, options, proxy_jump=spec)
    assert err.kind is FailureKind.UNREACHABLE
    assert f"via jump host 127.0.0.1 (127.0.0.1:{jump.port})" in err.reason
    assert f"could not reach 127.0.0.1:{decoy.port}" in err.reason
    assert not err.transient  # administratively prohibited: retrying will not help


def test_proxy_jump_host_key_is_checked(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path
) -> None:
    target = start_sshd()
    jump = start_sshd()
    trust(known_hosts, target)  # the jump host is not trusted
    err = failure(target, options, proxy_jump=f"127.0.0.1:{jump.port}")
    assert err.kind is FailureKind.HOSTKEY_UNKNOWN
    assert err.reason.startswith(f"web1 (127.0.0.1:{target.port}): via jump host")
    assert openssh_fingerprint(jump.host_key) in err.reason


def test_parse_jump() -> None:
    assert parse_jump("alice@bastion:2222") == ("alice", "bastion", 2222)
    assert parse_jump("bastion") == (None, "bastion", None)
    assert parse_jump("ssh://bob@[::1]:22") == ("bob", "::1", 22)
    assert parse_jump("[fe80::1]") == (None, "fe80::1", None)
    with pytest.raises(ValueError, match="bad ProxyJump"):
        parse_jump("a@b:0")


# --- algorithms, agent, ssh_config --------------------------------------------------------


def test_negotiates_curve25519_and_ed25519(
    sshd: Sshd, options: SshOptions, known_hosts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trust(known_hosts, sshd)
    transport = SshTransport(make_host(sshd), options)
    try:
        with caplog.at_level(logging.DEBUG, logger="paramiko.transport"):
            connection = transport.connect()
        assert connection.host_key_type == "ssh-ed25519"
        assert "Kex: curve25519-sha256@libssh.org" in caplog.messages
    finally:
        transport.close()


def test_asks_for_the_host_key_type_known_hosts_has(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    rsa = keygen(tmp_path / "host_rsa", kind="rsa")
    server = start_sshd(extra=f"HostKey {rsa}\n")  # offers ed25519 and rsa
    known_hosts.parent.mkdir(parents=True)
    known_hosts.write_text(server.known_hosts_line(rsa))  # only the RSA key is known
    transport = SshTransport(make_host(server), options)
    try:
        assert transport.run("echo rsa", 10).stdout == b"rsa\n"
        assert transport.connect().host_key_type in ("rsa-sha2-512", "rsa-sha2-256")
    finally:
        transport.close()


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real ssh-agent on a temp socket, exported as SSH_AUTH_SOCK."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, "ssh-agent exited"
            assert time.monotonic() < deadline, "ssh-agent socket never appeared"
            time.sleep(0.01)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(5)


def ssh_add(agent_sock: str, key: Path) -> None:
    subprocess.run(
        ["ssh-add", "-q", str(key)],
        env={**os.environ, "SSH_AUTH_SOCK": agent_sock},
        check=True,
        capture_output=True,
    )


def test_agent_key_is_used(
    sshd: Sshd, options: SshOptions, known_hosts: Path, keys: Keys, agent: str
) -> None:
    trust(known_hosts, sshd)
    ssh_add(agent, keys.client)
    opts = dataclasses.replace(options, allow_agent=True, identity_files=())
    assert run(sshd, opts, "echo agent").stdout == b"agent\n"
    # and not without it
    err = failure(sshd, dataclasses.replace(opts, allow_agent=False))
    assert err.kind is FailureKind.AUTH_FAILED


def test_encrypted_key_file_held_by_agent_needs_no_passphrase(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path, tmp_path: Path, agent: str
) -> None:
    locked = keygen(tmp_path / "locked3", passphrase="pw")
    unlocked = tmp_path / "unlocked3"
    unlocked.write_bytes(locked.read_bytes())
    unlocked.chmod(0o600)
    subprocess.run(
        ["ssh-keygen", "-q", "-p", "-P", "pw", "-N", "", "-f", str(unlocked)], check=True
    )
    ssh_add(agent, unlocked)
    server = start_sshd(authorized=locked)
    trust(known_hosts, server)

    def passphrase(path: str) -> str:
        raise AssertionError(f"asked for {path}")

    opts = dataclasses.replace(options, allow_agent=True, identity_files=(), passphrase=passphrase)
    assert run(server, opts, "echo ok", key_file=str(locked)).stdout == b"ok\n"


def test_resolved_route_gives_address_port_user_key_and_jump(
    start_sshd: StartSshd, options: SshOptions, known_hosts: Path, keys: Keys, tmp_path: Path
) -> None:
    target = start_sshd()
    jump = start_sshd()
    trust(known_hosts, target, jump)
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host bastion\n  HostName 127.0.0.1\n  Port {jump.port}\n  IdentityFile {keys.client}\n"
        f"Host app1\n  HostName 127.0.0.1\n  Port {target.port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {keys.client}\n  ProxyJump bastion\n"
    )
    opts = dataclasses.replace(options, identity_files=())
    # The inventory resolves ssh_config (inventory.openssh); the transport reads Host.route.
    host = ssh_config.resolve(Host(name="app1", env="test", roles=("app",)), config)
    assert host.route is not None and len(host.route.jumps) == 1
    transport = SshTransport(host, opts)
    try:
        assert transport.run("echo configured", 10).stdout == b"configured\n"
        assert len(transport._transports) == 2  # went through the jump host
    finally:
        transport.close()


def _routed(config: Path, alias: str) -> Host:
    host = ssh_config.resolve(Host(name=alias, env="test", roles=("app",)), config)
    assert host.route is not None
    return host


def test_user_known_hosts_file_from_ssh_config_is_trusted(
    sshd: Sshd, options: SshOptions, known_hosts: Path, tmp_path: Path
) -> None:
    """A key only in the config's UserKnownHostsFile: ssh trusts it, so pinmgr does too; the
    file is read, never written, and pinmgr's own (absent) file is not created."""
    team = tmp_path / "team_known_hosts"
    trust(team, sshd)
    before = team.read_bytes()
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host app1\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {getpass.getuser()}\n"
        f"  UserKnownHostsFile {team}\n"
    )
    host = _routed(config, "app1")
    assert host.route is not None and str(team) in host.route.target.known_hosts_files
    transport = SshTransport(host, options)
    try:
        assert transport.run("echo trusted", 10).stdout == b"trusted\n"
    finally:
        transport.close()
    assert team.read_bytes() == before
    assert not known_hosts.exists()
    # and without the config's file the key is unknown, as for ssh
    err = failure(sshd, options)
    assert err.kind is FailureKind.HOSTKEY_UNKNOWN


def test_identities_only_offers_no_other_agent_key(
    sshd: Sshd,
    options: SshOptions,
    known_hosts: Path,
    keys: Keys,
    agent: str,
    tmp_path: Path,
) -> None:
    """The agent holds the only key the server accepts; IdentitiesOnly names another file, so
    (as with ssh) the agent's key is not offered and authentication fails naming the file."""
    trust(known_hosts, sshd)
    ssh_add(agent, keys.client)
    other = keygen(tmp_path / "other")
    config = tmp_path / "ssh_config"
    body = (
        f"Host app1\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {other}\n"
    )
    opts = dataclasses.replace(options, allow_agent=True, identity_files=())
    config.write_text(body)
    transport = SshTransport(_routed(config, "app1"), opts)
    try:  # without IdentitiesOnly the agent's key gets in after the file's
        assert transport.run("echo agent", 10).stdout == b"agent\n"
    finally:
        transport.close()
    config.write_text(body + "  IdentitiesOnly yes\n")
    host = _routed(config, "app1")
    assert host.route is not None and host.route.target.identities_only
    transport = SshTransport(host, opts)
    try:
        with pytest.raises(CollectFailed) as info:
            transport.run("true", 10)
    finally:
        transport.close()
    assert info.value.kind is FailureKind.AUTH_FAILED
    assert "agent" not in info.value.reason


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (
            OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH)),
            "UNREACHABLE",
            "No route to host",
        ),
        (
            OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH)),
            "UNREACHABLE",
            "Network is unreachable",
        ),
        (TimeoutError("timed out"), "TIMEOUT", "connect timed out"),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "UNREACHABLE",
            "cannot resolve host",
        ),
    ],
)
def test_socket_errors_map_to_kinds_and_keep_text(exc: OSError, kind: str, text: str) -> None:
    failed = _socket_failure("h1 (10.0.0.1:22)", exc)
    assert failed.kind is FailureKind[kind]
    assert failed.reason.startswith("h1 (10.0.0.1:22): ")
    assert text in failed.reason


def test_unresolvable_name_is_unreachable(options: SshOptions) -> None:
    host = Host(name="nowhere", env="t", roles=(), address="no-such-host.invalid", port=22)
    with pytest.raises(CollectFailed) as info:
        SshTransport(host, options).run("true", 5)
    assert info.value.kind is FailureKind.UNREACHABLE
    assert info.value.reason.startswith("nowhere (no-such-host.invalid:22): cannot resolve host")
    assert not info.value.transient


def test_server_closing_during_handshake_is_transient_unreachable(options: SshOptions) -> None:
    """What sshd's MaxStartups throttling looks like from the client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def close_after_banner() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    server = threading.Thread(target=close_after_banner)
    server.start()
    try:
        host = make_host(Sshd("127.0.0.1", port, Path("-"), None), name="busy")  # type: ignore[arg-type]
        with pytest.raises(CollectFailed) as info:
            SshTransport(host, options).run("true", 5)
    finally:
        server.join(10)
        listener.close()
    assert info.value.kind is FailureKind.UNREACHABLE
    assert info.value.transient
    # Which one the client sees depends on timing: the close arrives before its own banner
    # is sent (an EOF), or after (the kernel answers that banner with a reset).
    reason = info.value.reason
    assert "closed by server during SSH handshake" in reason or "Connection reset" in reason
