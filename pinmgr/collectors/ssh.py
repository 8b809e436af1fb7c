"""SSH transport (paramiko): one connection per host, one fixed command, strict host keys.

How the command runs: the remote side executes ``sh -s`` and the command text is written to
its stdin, wrapped in ``{ ... }``, then stdin is closed. That way the probe script is read by a
POSIX ``sh`` whatever the user's login shell is (csh and fish break on quoted multi-line
``sh -c '...'``), it never hits argument-length limits, and no quoting is needed. The braces make
``sh`` read the whole script before running any of it, so a command inside that reads stdin
sees EOF instead of swallowing the rest of the script.

Speed: the transport is paramiko's ``Transport`` used directly (no ``SSHClient``), with
curve25519-sha256 first among key exchanges and the host-key algorithms already in known_hosts
first (so the server presents a key we can verify), TCP_NODELAY, known_hosts parsed once per
run (``hostkeys.shared_store``) and private keys loaded (and decrypted) once per run.

Every failure is raised as ``CollectFailed`` with a kind and a one-line reason naming the host.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import getpass
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pinmgr.collectors import hostkeys, keyfiles
from pinmgr.collectors.base import CommandResult
from pinmgr.collectors.errors import CollectFailed
from pinmgr.model import FailureKind, Host, SshEndpoint
from pinmgr.sshlib import (
    AuthenticationException,
    BadAuthenticationType,
    Channel,
    ChannelException,
    IncompatiblePeer,
    PasswordRequiredException,
    SSHException,
    paramiko,
)

# paramiko logs transport-thread errors at ERROR; without a handler Python's last-resort
# handler would print them to stderr. Our own CollectFailed reasons carry the information.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
REMOTE_COMMAND = "sh -s"

_WINDOW_SIZE = 8 * 1024 * 1024  # one probe's output fits without window round trips
_MAX_PACKET = 32768  # OpenSSH's session-channel packet size
_KEX_FIRST = ("curve25519-sha256@libssh.org", "curve25519-sha256")
_HOSTKEY_ORDER = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
)
_CIPHERS_FIRST = ("aes128-gcm@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com")
_MACS_FIRST = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-256")
# paramiko's own timers are set a little past our deadline so ours always fires first
# and a timeout is reported as TIMEOUT, not as paramiko's generic "Error reading banner".
_PARAMIKO_SLACK = 1.0
_OPEN_CONNECT_FAILED = 2  # RFC 4254 SSH_OPEN_CONNECT_FAILED (vs 1: administratively prohibited)


@dataclass(frozen=True)
class SshOptions:
    """How to reach hosts over SSH; one instance per run, shared by every host.

    ``known_hosts`` is the user file (read; written by ``accept_new`` when there is no
    ``project_known_hosts``); ``project_known_hosts`` is read too and receives accepted keys;
    ``global_known_hosts`` is only read.
    ``timeout`` passed to ``run`` is the command deadline; ``command_timeout`` is what callers
    should pass by default (and is used when ``run`` gets a timeout <= 0).
    ``passphrase(path)`` is asked at most once per encrypted key file per run (None: skip it).
    """

    known_hosts: str | None = hostkeys.DEFAULT_USER_KNOWN_HOSTS
    project_known_hosts: str | None = None
    accept_new: bool = False
    connect_timeout: float = 10.0
    command_timeout: float = 300.0
    max_bytes: int = DEFAULT_MAX_BYTES
    identity_files: tuple[str, ...] = DEFAULT_IDENTITIES
    allow_agent: bool = True
    passphrase: Callable[[str], str | None] | None = field(default=None, compare=False)
    ssh_config: str | None = None
    hash_known_hosts: bool = False
    global_known_hosts: str | None = "/etc/ssh/ssh_known_hosts"  # read only, like OpenSSH

    def known_hosts_store(self, also: tuple[str, ...] = ()) -> hostkeys.KnownHosts:
        """The shared, parsed-once store for these files (raises OSError if unreadable).

        ``also``: the host's ssh_config ``UserKnownHostsFile`` entries, read after ours (as the
        openssh transport does), so a key that ``ssh`` trusts is trusted here too.
        """
        files = (self.project_known_hosts, self.known_hosts, *also, self.global_known_hosts)
        reads = tuple(dict.fromkeys(p for p in files if p))
        write = self.project_known_hosts or self.known_hosts or hostkeys.DEFAULT_USER_KNOWN_HOSTS
        return hostkeys.shared_store(reads, write, hash_new_entries=self.hash_known_hosts)


@dataclass(frozen=True)
class Endpoint:
    """One hop of a connection: the target or a jump host, fully resolved."""

    name: str
    address: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    # ssh_config IdentitiesOnly: offer only key_files (or the default files), no other agent key
    identities_only: bool = False
    # ssh_config UserKnownHostsFile (expanded), read after pinmgr's own files
    known_hosts_files: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address}:{self.port})"


# --- where to connect: the inventory's resolved route -----------------------------------------
# What ssh_config makes of a host is resolved once, by inventory.openssh, into ``Host.route``
# (plain model values); this transport only reads it. A host built without a route (tests, a
# library caller) is taken as written, with OpenSSH's defaults for what it leaves empty.


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """Split one ProxyJump hop ``[user@]host[:port]`` (also ``[v6]:port``, ``ssh://``)."""
    hop = spec.strip()
    hop = hop.removeprefix("ssh://")
    user: str | None = None
    if "@" in hop:
        user, _, hop = hop.rpartition("@")
    port: int | None = None
    if hop.startswith("["):
        host, _, rest = hop[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif hop.count(":") == 1:
        host, _, port_text = hop.partition(":")
        port = int(port_text)
    else:
        host = hop
    if not host or (port is not None and not 0 < port < 65536):
        raise ValueError(f"bad ProxyJump hop {spec!r}")
    return user, host, port


def _from_route(hop: SshEndpoint, name: str) -> Endpoint:
    return Endpoint(
        name=name,
        address=hop.address,
        port=hop.port,
        user=hop.user,
        key_files=hop.identity_files,
        identities_only=hop.identities_only,
        known_hosts_files=hop.known_hosts_files,
    )


def _as_written(
    name: str,
    *,
    address: str | None = None,
    user: str | None = None,
    port: int | None = None,
    key_file: str | None = None,
) -> Endpoint:
    """A hop with no route: what the inventory wrote, then OpenSSH's defaults."""
    return Endpoint(
        name=name,
        address=address or name,
        port=port or 22,
        user=user or getpass.getuser(),
        key_files=(key_file,) if key_file else (),
    )


def resolve(host: Host, options: SshOptions) -> tuple[Endpoint, ...]:
    """The hops to connect through, jump hosts first and the target last."""
    del options  # the route holds everything ssh_config said
    if host.route is not None:
        target = _from_route(host.route.target, host.name)
        hops = [_from_route(h, h.alias) for h in host.route.jumps]
    else:
        target = _as_written(
            host.name,
            address=host.address,
            user=host.user,
            port=host.port,
            key_file=host.key_file,
        )
        hops = []
        jump = host.proxy_jump
        if jump and jump.strip().lower() != "none":
            for spec in jump.split(","):
                try:
                    user, name, port = parse_jump(spec)
                except ValueError as exc:
                    raise CollectFailed(
                        FailureKind.COLLECT_ERROR, f"{target.label}: {exc}"
                    ) from exc
                hops.append(_as_written(name, user=user, port=port))
    # A hop written as "user@addr:port" has nowhere to name a key; the usual bastion setup
    # is one key for the fleet, so offer the target's (before the agent and default
    # identities, which _candidate_keys still tries).
    hops = [h if h.key_files else replace(h, key_files=target.key_files) for h in hops]
    return (*hops, target)


# --- keys ---------------------------------------------------------------------------------

_keys: dict[str, tuple[tuple[int, int], paramiko.PKey | None, str]] = {}
_keys_lock = threading.Lock()


def _load_key(path: str, options: SshOptions) -> tuple[paramiko.PKey | None, str]:
    """A private key, parsed and decrypted once per run; else None and why (a few words)."""
    full = Path(path).expanduser()
    try:
        st = full.stat()
    except OSError as exc:
        return None, keyfiles.os_problem(exc)
    sig = (st.st_size, st.st_mtime_ns)
    with _keys_lock:  # also serialises passphrase prompts
        cached = _keys.get(str(full))
        if cached is not None and cached[0] == sig:
            return cached[1], cached[2]
        key, problem = _read_key(full, options)
        _keys[str(full)] = (sig, key, problem)
        return key, problem


def _read_key(full: Path, options: SshOptions) -> tuple[paramiko.PKey | None, str]:
    try:
        return paramiko.PKey.from_path(full), ""
    except (PasswordRequiredException, TypeError):
        # paramiko 5 lets cryptography's TypeError through for OpenSSH-format keys.
        if options.passphrase is None:
            return None, f"{keyfiles.ENCRYPTED} (no terminal to ask for one)"
        secret = options.passphrase(str(full))
        if secret is None:
            return None, f"{keyfiles.ENCRYPTED} (none given)"
        try:
            # The loader hands it to cryptography, which wants bytes.
            return paramiko.PKey.from_path(full, secret.encode()), ""  # type: ignore[arg-type]
        except (SSHException, ValueError, TypeError):
            return None, "encrypted, and the passphrase given does not decrypt it"
        except OSError as exc:
            return None, keyfiles.os_problem(exc)
    except OSError as exc:
        return None, keyfiles.os_problem(exc)
    except (SSHException, ValueError):
        return None, keyfiles.NOT_A_KEY


def _public_blob(path: str) -> bytes | None:
    """The ``.pub`` beside a key file, to match an encrypted key with an agent key."""
    try:
        fields = Path(path + ".pub").expanduser().read_text(encoding="ascii").split()
        return paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1])).asbytes()
    except (OSError, IndexError, ValueError, SSHException, UnicodeDecodeError):
        return None


def _candidate_keys(
    endpoint: Endpoint, options: SshOptions, agent_keys: tuple[paramiko.PKey, ...]
) -> Iterator[tuple[str, paramiko.PKey]]:
    """Keys in OpenSSH's order: explicit files (via agent if it holds them), agent, defaults.

    An explicit key file (inventory ``key``, ``IdentityFile``) that cannot be used is skipped,
    as OpenSSH does; if no other key gets in, the failure names that file and why, rather
    than a bare "authentication failed" (raised once every candidate was offered).
    """
    tried: set[bytes] = set()
    offered: list[str] = []
    problems: list[str] = []
    by_blob = {k.asbytes(): k for k in agent_keys}
    for path in endpoint.key_files:
        blob = _public_blob(path)
        key: paramiko.PKey | None = by_blob.get(blob) if blob else None
        if key is None:
            key, problem = _load_key(path, options)
            if key is None:
                problems.append(f"key {path}: {problem}")
        if key is not None and key.asbytes() not in tried:
            tried.add(key.asbytes())
            offered.append(path)
            yield path, key
    for agent_key in () if endpoint.identities_only else agent_keys:
        if agent_key.asbytes() not in tried:
            tried.add(agent_key.asbytes())
            source = f"agent {hostkeys.fingerprint(agent_key)}"
            offered.append(source)
            yield source, agent_key
    # OpenSSH adds its default files only when no IdentityFile is given; with IdentitiesOnly
    # pinmgr follows it (without, defaults are still tried last, as before).
    defaults = () if endpoint.identities_only and endpoint.key_files else options.identity_files
    for path in defaults:
        if path in endpoint.key_files:
            continue
        blob = _public_blob(path)
        if blob is not None and blob in tried:
            continue
        key = by_blob.get(blob) if blob and endpoint.identities_only else None
        if key is None:
            key, _ = _load_key(path, options)  # default files: missing or unusable is normal
        if key is not None and key.asbytes() not in tried:
            tried.add(key.asbytes())
            offered.append(path)
            yield path, key
    if problems:
        also = f" (also tried {', '.join(offered)})" if offered else ""
        raise CollectFailed(
            FailureKind.AUTH_FAILED,
            f"{endpoint.label}: authentication as {endpoint.user} failed: "
            f"{'; '.join(problems)}{also}",
        )


# --- errors -------------------------------------------------------------------------------


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# Worth the pool's one retry: a host booting or restarting sshd, a DNS hiccup.
_TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED}


def _socket_failure(label: str, exc: OSError) -> CollectFailed:
    if isinstance(exc, TimeoutError):
        return CollectFailed(FailureKind.TIMEOUT, f"{label}: connect timed out")
    if isinstance(exc, socket.gaierror):
        return CollectFailed(
            FailureKind.UNREACHABLE,
            f"{label}: cannot resolve host: {_one_line(exc.strerror)}",
            transient=exc.errno == socket.EAI_AGAIN,
        )
    text = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or _one_line(exc)
    return CollectFailed(
        FailureKind.UNREACHABLE, f"{label}: {text}", transient=exc.errno in _TRANSIENT_ERRNOS
    )


# --- the transport ------------------------------------------------------------------------


class SshTransport:
    """Runs one fixed command on one host over one SSH connection (collectors.base.Transport).

    The connection is opened on first ``run`` (or ``connect``) and reused until ``close``.
    Not meant to be driven by two threads at once; different hosts run in parallel.
    """

    def __init__(self, host: Host, options: SshOptions) -> None:
        self.host = host
        self.options = options
        self._lock = threading.Lock()
        self._transports: list[paramiko.Transport] = []
        self._label = host.name

    # Transport protocol ---------------------------------------------------------------------

    def run(self, command: str, timeout: float) -> CommandResult:
        """Run ``command`` with POSIX sh on the host; raise CollectFailed on any failure."""
        transport = self.connect()
        limit = timeout if timeout > 0 else self.options.command_timeout
        deadline = time.monotonic() + limit
        try:
            channel = transport.open_session(
                window_size=_WINDOW_SIZE,
                max_packet_size=_MAX_PACKET,
                timeout=limit,
            )
        except (SSHException, OSError, EOFError) as exc:
            raise self._lost(exc, deadline, "opening a session") from exc
        try:
            return self._exec(channel, command, deadline, limit)
        finally:
            channel.close()

    def close(self) -> None:
        with self._lock:
            transports, self._transports = self._transports, []
        for transport in reversed(transports):
            with contextlib.suppress(Exception):
                transport.close()

    # connecting ---------------------------------------------------------------------------

    def connect(self) -> paramiko.Transport:
        """Open (once) the authenticated connection, through any jump hosts."""
        with self._lock:
            if self._transports and self._transports[-1].is_active():
                return self._transports[-1]
            self._close_locked()
            hops = resolve(self.host, self.options)
            self._label = hops[-1].label
            also = tuple(dict.fromkeys(f for hop in hops for f in hop.known_hosts_files))
            try:
                store = self.options.known_hosts_store(also)
            except OSError as exc:
                raise CollectFailed(
                    FailureKind.COLLECT_ERROR,
                    f"{self._label}: cannot read known_hosts: {_one_line(exc)}",
                ) from exc
            try:
                sock: socket.socket | Channel | None = None
                for index, hop in enumerate(hops):
                    last = index == len(hops) - 1
                    label = hop.label if last else f"{self._label}: via jump host {hop.label}"
                    deadline = time.monotonic() + self.options.connect_timeout
                    if sock is None:
                        sock = self._tcp(hop, label, deadline)
                    transport = self._handshake(hop, sock, store, label, deadline)
                    self._transports.append(transport)
                    if not last:
                        sock = self._forward(transport, hops[index + 1], label, deadline)
            except BaseException:
                self._close_locked()
                raise
            return self._transports[-1]

    def _close_locked(self) -> None:
        for transport in reversed(self._transports):
            with contextlib.suppress(Exception):
                transport.close()
        self._transports = []

    def _tcp(self, hop: Endpoint, label: str, deadline: float) -> socket.socket:
        try:
            sock = socket.create_connection(
                (hop.address, hop.port), timeout=max(deadline - time.monotonic(), 0.001)
            )
        except OSError as exc:
            raise _socket_failure(label, exc) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _forward(
        self, jump: paramiko.Transport, nxt: Endpoint, label: str, deadline: float
    ) -> Channel:
        """A direct-tcpip channel from the jump host to the next hop, used as its socket."""
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            return jump.open_channel(
                "direct-tcpip",
                (nxt.address, nxt.port),
                ("127.0.0.1", 0),
                window_size=_WINDOW_SIZE,
                max_packet_size=_MAX_PACKET,
                timeout=remaining,
            )
        except ChannelException as exc:
            reason = _one_line(exc.text) or f"code {exc.code}"
            raise CollectFailed(
                FailureKind.UNREACHABLE,
                f"{label} could not reach {nxt.address}:{nxt.port}: {reason}",
                transient=exc.code == _OPEN_CONNECT_FAILED,
            ) from exc
        except (SSHException, OSError, EOFError) as exc:
            kind = (
                FailureKind.TIMEOUT
                if time.monotonic() >= deadline or "Timeout" in str(exc)
                else FailureKind.UNREACHABLE
            )
            raise CollectFailed(
                kind,
                f"{label} could not reach {nxt.address}:{nxt.port}: {_one_line(exc)}",
            ) from exc

    def _handshake(
        self,
        hop: Endpoint,
        sock: socket.socket | Channel,
        store: hostkeys.KnownHosts,
        label: str,
        deadline: float,
    ) -> paramiko.Transport:
        transport = paramiko.Transport(
            sock, default_window_size=_WINDOW_SIZE, default_max_packet_size=_MAX_PACKET
        )
        try:
            remaining = max(deadline - time.monotonic(), 0.001)
            transport.banner_timeout = remaining + _PARAMIKO_SLACK
            transport.handshake_timeout = remaining + _PARAMIKO_SLACK
            transport.auth_timeout = remaining + _PARAMIKO_SLACK
            _prefer_fast(transport, store.preferred_algorithms(hop.address, hop.port))
            done = threading.Event()
            transport.start_client(event=done)
            if not done.wait(remaining) and transport.is_active():
                raise CollectFailed(
                    FailureKind.TIMEOUT,
                    f"{label}: SSH handshake timed out after {self.options.connect_timeout:g}s",
                )
            if not transport.is_active():
                raise _handshake_failure(label, transport.get_exception())
            server_key = transport.get_remote_server_key()
            store.check(
                label, hop.address, hop.port, server_key, accept_new=self.options.accept_new
            )
            self._authenticate(transport, hop, label, deadline)
        except BaseException:
            transport.close()
            raise
        return transport

    def _authenticate(
        self, transport: paramiko.Transport, hop: Endpoint, label: str, deadline: float
    ) -> None:
        agent: paramiko.Agent | None = None
        agent_keys: tuple[paramiko.PKey, ...] = ()
        if self.options.allow_agent and os.environ.get("SSH_AUTH_SOCK"):
            try:
                agent = paramiko.Agent()
                agent_keys = tuple(agent.get_keys())
            except (SSHException, OSError):
                agent_keys = ()
        tried: list[str] = []
        try:
            for source, key in _candidate_keys(hop, self.options, agent_keys):
                if time.monotonic() >= deadline:
                    raise CollectFailed(FailureKind.TIMEOUT, f"{label}: authentication timed out")
                tried.append(source)
                try:
                    remaining_methods = transport.auth_publickey(hop.user, key)
                except BadAuthenticationType as exc:
                    allowed = ", ".join(exc.allowed_types) or "none"
                    raise CollectFailed(
                        FailureKind.AUTH_FAILED,
                        f"{label}: server does not accept public keys for {hop.user} "
                        f"(allows: {allowed})",
                    ) from exc
                except AuthenticationException as exc:
                    if "timeout" in str(exc).lower():
                        raise CollectFailed(
                            FailureKind.TIMEOUT, f"{label}: authentication timed out"
                        ) from exc
                    if not transport.is_active():
                        break  # server gave up (MaxAuthTries)
                    continue
                except (SSHException, OSError, EOFError) as exc:
                    raise CollectFailed(
                        FailureKind.AUTH_FAILED,
                        f"{label}: authentication as {hop.user} failed: {_one_line(exc)}",
                    ) from exc
                if transport.is_authenticated():
                    return
                if remaining_methods:
                    raise CollectFailed(
                        FailureKind.AUTH_FAILED,
                        f"{label}: server requires more than a key for {hop.user} "
                        f"({', '.join(remaining_methods)})",
                    )
        finally:
            if agent is not None:
                agent.close()
        what = f"tried {', '.join(tried)}" if tried else "no usable key (agent, key files)"
        raise CollectFailed(
            FailureKind.AUTH_FAILED, f"{label}: authentication as {hop.user} failed: {what}"
        )

    # running ------------------------------------------------------------------------------

    def _exec(self, channel: Channel, command: str, deadline: float, limit: float) -> CommandResult:
        # exec_command waits for the server's reply without a timeout: a watchdog closes
        # the channel at the deadline, which wakes it.
        watchdog = threading.Timer(limit, channel.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                channel.exec_command(REMOTE_COMMAND)
            finally:
                watchdog.cancel()
            channel.settimeout(max(deadline - time.monotonic(), 0.001))
            channel.sendall(("{\n" + command + "\n}\n").encode())
            channel.shutdown_write()
            stdout, stderr = self._collect(channel, deadline, limit)
            if not channel.status_event.wait(max(deadline - time.monotonic(), 0)):
                raise self._timeout(limit)
            return CommandResult(channel.exit_status, stdout, stderr)
        except CollectFailed:
            raise
        except (SSHException, OSError, EOFError) as exc:
            raise self._lost(exc, deadline, "running the command") from exc

    def _collect(self, channel: Channel, deadline: float, limit: float) -> tuple[bytes, bytes]:
        """Drain stdout and stderr together until EOF, under the byte cap and deadline."""
        cap = self.options.max_bytes
        out = bytearray()
        err = bytearray()
        poller = select.poll()
        poller.register(channel.fileno(), select.POLLIN)
        while True:
            progressed = False
            # Never read more than one byte past the cap: a host streaming output faster
            # than we drain it must not keep the inner loops (and memory) growing.
            while channel.recv_ready() and len(out) + len(err) <= cap:
                out += channel.recv(min(1 << 20, cap + 1 - len(out) - len(err)))
                progressed = True
            while channel.recv_stderr_ready() and len(out) + len(err) <= cap:
                err += channel.recv_stderr(min(1 << 20, cap + 1 - len(out) - len(err)))
                progressed = True
            if len(out) + len(err) > cap:
                raise CollectFailed(
                    FailureKind.COLLECT_ERROR, f"{self._label}: output over {cap} bytes"
                )
            if channel.eof_received or channel.closed:
                if not channel.recv_ready() and not channel.recv_stderr_ready():
                    return bytes(out), bytes(err)
                continue
            if progressed:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout(limit)
            poller.poll(min(remaining, 1.0) * 1000)

    def _timeout(self, limit: float) -> CollectFailed:
        return CollectFailed(
            FailureKind.TIMEOUT, f"{self._label}: command did not finish within {limit:g}s"
        )

    def _lost(self, exc: BaseException, deadline: float, doing: str) -> CollectFailed:
        """Why a session failed: our deadline, a dead connection, or the server saying no."""
        if time.monotonic() >= deadline - 0.01:
            return CollectFailed(FailureKind.TIMEOUT, f"{self._label}: timed out {doing}")
        text = _one_line(exc) or type(exc).__name__
        alive = bool(self._transports) and self._transports[-1].is_active()
        if alive:
            return CollectFailed(
                FailureKind.COLLECT_ERROR, f"{self._label}: server refused {doing}: {text}"
            )
        return CollectFailed(
            FailureKind.UNREACHABLE,
            f"{self._label}: connection lost while {doing}: {text}",
            transient=True,
        )


def _prefer_fast(transport: paramiko.Transport, known_algorithms: tuple[str, ...]) -> None:
    """curve25519 first, host-key types we can verify first, AEAD cipher first."""
    opts = transport.get_security_options()
    opts.kex = _reorder(opts.kex, _KEX_FIRST)
    available = tuple(a for a in _HOSTKEY_ORDER if a in opts.key_types) or tuple(opts.key_types)
    opts.key_types = _reorder(available, known_algorithms)
    opts.ciphers = _reorder(opts.ciphers, _CIPHERS_FIRST)
    opts.digests = _reorder(opts.digests, _MACS_FIRST)


def _reorder(current: Sequence[str], first: Sequence[str]) -> tuple[str, ...]:
    head = tuple(a for a in first if a in current)
    return head + tuple(a for a in current if a not in head)


def _handshake_failure(label: str, exc: BaseException | None) -> CollectFailed:
    text = _one_line(exc) if exc is not None else ""
    if isinstance(exc, IncompatiblePeer):
        return CollectFailed(FailureKind.COLLECT_ERROR, f"{label}: SSH negotiation failed: {text}")
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return _socket_failure(label, exc)
    if isinstance(exc, TimeoutError):
        return CollectFailed(FailureKind.TIMEOUT, f"{label}: SSH handshake timed out")
    if exc is None or isinstance(exc, EOFError) or "banner" in text.lower():
        # Also what sshd's MaxStartups throttling looks like: worth a retry.
        return CollectFailed(
            FailureKind.UNREACHABLE,
            f"{label}: connection closed by server during SSH handshake",
            transient=True,
        )
    return CollectFailed(FailureKind.COLLECT_ERROR, f"{label}: SSH handshake failed: {text}")
