"""SSH transport that drives the system ``ssh`` binary instead of paramiko.

Why: users whose ``~/.ssh/config`` relies on what paramiko lacks (certificates, ``Match``,
``ControlMaster`` reuse, PKCS#11, GSSAPI) still get collected, with OpenSSH doing all of the
connecting. The contract is the same as ``collectors.ssh.SshTransport``: the remote side runs
``sh -s`` and the probe is written to its stdin wrapped in ``{ ... }`` (see ssh.py for why).

Safety: the client argv is built here, never through a shell; host keys are always checked
(``StrictHostKeyChecking=yes``, or ``accept-new`` which still refuses a changed key), and the
project known_hosts comes first in ``UserKnownHostsFile`` so OpenSSH records accepted keys
there. ssh's own failures (exit 255) are mapped to the same ``FailureKind`` values the
paramiko transport raises, by ``classify`` (pure, unit-tested on real ssh stderr).

Jump hosts: the inventory's ``proxy_jump`` becomes a chain of ``ssh -W`` ProxyCommands with
the same strict options (``-J`` would not pass them to the hop); a ProxyJump in ssh_config is
left to OpenSSH.
"""

from __future__ import annotations

import contextlib
import math
import os
import pwd
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections import deque
from pathlib import Path

from pinmgr.collectors import keyfiles
from pinmgr.collectors.base import CommandResult
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.probe import MARKER
from pinmgr.collectors.ssh import DEFAULT_IDENTITIES, REMOTE_COMMAND, SshOptions, parse_jump
from pinmgr.model import FailureKind, Host

STDERR_MAX_BYTES = 64 * 1024
"""stderr keeps its start (remote diagnostics) plus a tail where ssh's own error lands."""
_STDERR_TAIL = 8 * 1024
_CHUNK = 65536
SSH_FAILED = 255
"""ssh's exit status for its own errors (the remote command's status otherwise)."""

# Real ssh wording (OpenSSH 7-9), matched case-insensitively.
_CHANGED = re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed", re.I)
_UNKNOWN = re.compile(
    r"No \S+ host key is known for|Host key verification failed|"
    r"host key for .* (?:is )?not known",
    re.I,
)
_UNKNOWN_AT = re.compile(r"host key is known for (\S+?) and", re.I)
_FINGERPRINT = re.compile(r"\b(SHA256:[A-Za-z0-9+/]{43}|MD5(?::[0-9a-f]{2}){16})")
_KEYTYPE = re.compile(r"No (\S+) host key is known|the (\S+) key sent by the remote host", re.I)
_AUTH = re.compile(r"Permission denied|Too many authentication failures", re.I)
_TIMEOUT = re.compile(r"Connection timed out|timed out during banner|Operation timed out", re.I)
_REFUSED = re.compile(r"Connection refused|Connection reset|Connection closed by", re.I)
_UNREACHABLE = re.compile(r"No route to host|Network is unreachable|Host is unreachable", re.I)
_RESOLVE = re.compile(r"Could not resolve hostname", re.I)
_RESOLVE_TRANSIENT = re.compile(r"Temporary failure in name resolution", re.I)
_NOISE = re.compile(r"^(?:@+|Warning: Permanently added|debug\d:)", re.I)


def _last_line(lines: list[str]) -> str:
    for line in reversed(lines):
        if line and not _NOISE.match(line):
            return line
    return ""


def _matching(lines: list[str], pattern: re.Pattern[str]) -> str:
    for line in reversed(lines):
        if pattern.search(line):
            return line
    return ""


def classify(label: str, stderr: str, *, known_hosts: str | None = None) -> CollectFailed:
    """The failure an ``ssh`` exit 255 with this stderr means (never raises itself).

    Order matters: a changed key also prints "Host key verification failed", so it is
    tested before the unknown-key case. ``known_hosts`` is where ssh records keys (the first
    ``UserKnownHostsFile``): an unknown key's reason then gives the whole ``ssh-keyscan``
    command, as the paramiko transport's does.
    """
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    if _CHANGED.search(stderr):
        fp = _FINGERPRINT.search(stderr)
        seen = f"; host presented {fp.group(1)}" if fp else ""
        return CollectFailed(
            FailureKind.HOSTKEY_CHANGED,
            f"{label}: HOST KEY CHANGED{seen}; possible man-in-the-middle, refusing "
            "(ssh: Host key verification failed)",
        )
    if _UNKNOWN.search(stderr):
        fp = _FINGERPRINT.search(stderr)
        kt = _KEYTYPE.search(stderr)
        key_type = (kt.group(1) or kt.group(2)) if kt else None
        what = " ".join(p for p in (key_type, fp.group(1) if fp else None) if p)
        # Names the hop when it is a jump host's key that is unknown.
        at = _UNKNOWN_AT.search(stderr)
        where = f" for {at.group(1)}" if at else ""
        add = "add it with `ssh-keyscan` to your known_hosts"
        if at and key_type and known_hosts:
            add = f"run `{_keyscan(at.group(1), key_type, known_hosts)}`"
        return CollectFailed(
            FailureKind.HOSTKEY_UNKNOWN,
            f"{label}: host key{where} unknown{': ' + what if what else ''}; "
            f"verify it out of band, then {add} or use `pinmgr check --accept-new`",
        )
    if _AUTH.search(stderr):
        return CollectFailed(
            FailureKind.AUTH_FAILED, f"{label}: authentication failed: {_matching(lines, _AUTH)}"
        )
    if _TIMEOUT.search(stderr):
        return CollectFailed(FailureKind.TIMEOUT, f"{label}: {_matching(lines, _TIMEOUT)}")
    if _RESOLVE.search(stderr):
        return CollectFailed(
            FailureKind.UNREACHABLE,
            f"{label}: {_matching(lines, _RESOLVE)}",
            transient=bool(_RESOLVE_TRANSIENT.search(stderr)),
        )
    if _UNREACHABLE.search(stderr):
        return CollectFailed(FailureKind.UNREACHABLE, f"{label}: {_matching(lines, _UNREACHABLE)}")
    if _REFUSED.search(stderr):
        # A host booting or restarting sshd: worth the pool's one retry.
        return CollectFailed(
            FailureKind.UNREACHABLE, f"{label}: {_matching(lines, _REFUSED)}", transient=True
        )
    last = _last_line(lines)
    return CollectFailed(
        FailureKind.COLLECT_ERROR, f"{label}: ssh failed: {last or 'exit status 255, no message'}"
    )


def _keyscan(known_as: str, key_type: str, known_hosts: str) -> str:
    """``ssh-keyscan`` for a host as ssh names it in known_hosts (``addr`` or ``[addr]:port``)."""
    address, port = known_as, ""
    if known_as.startswith("[") and "]:" in known_as:
        address, _, port = known_as[1:].partition("]:")
    port_opt = f"-p {port} " if port.isdigit() else ""
    return f"ssh-keyscan {port_opt}-t {key_type.lower()} {address} >> {known_hosts}"


def _expand(path: str) -> str:
    """``~`` as pinmgr means it: ``$HOME`` (OpenSSH itself uses the passwd entry)."""
    return str(Path(path).expanduser())


def _config_file(ssh_config: str | None) -> str | None:
    """The ``-F`` to pass: the given file; else ``$HOME/.ssh/config`` when ``$HOME`` is not
    the passwd home (OpenSSH would read the other one); else none (ssh's own defaults,
    system-wide config included)."""
    if ssh_config:
        return _expand(ssh_config)
    home = os.environ.get("HOME")
    try:
        real = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        real = None
    if not home or real is None or Path(home).resolve() == Path(real).resolve():
        return None
    user_config = Path(home) / ".ssh" / "config"
    return str(user_config) if user_config.exists() else os.devnull


_TOKEN = "%h:%p"  # noqa: S105 -W target: the next hop (or the host), expanded by the ssh running it


def _escape_percent(arg: str) -> str:
    return arg.replace("%", "%%")


def _quote_path(path: str) -> str:
    """One ``UserKnownHostsFile`` entry; OpenSSH splits the value on spaces unless quoted."""
    if '"' in path:
        raise CollectFailed(FailureKind.COLLECT_ERROR, f'known_hosts path contains ": {path!r}')
    return f'"{path}"'


class OpensshTransport:
    """``collectors.base.Transport`` running the probe through the system ``ssh``.

    Each ``run`` starts one ``ssh`` process (a ``ControlMaster`` in the user's config makes
    repeated runs cheap); ``close`` has nothing to release.
    """

    def __init__(
        self, host: Host, options: SshOptions | None = None, *, ssh_binary: str = "ssh"
    ) -> None:
        self.host = host
        self.options = options if options is not None else SshOptions()
        if self.options.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.ssh_binary = ssh_binary
        address = host.address or host.name
        self.label = f"{host.name} ({address}{f':{host.port}' if host.port else ''})"

    def argv(self) -> list[str]:
        """The full client command line (no shell sees it; a jump chain's ProxyCommand is
        quoted with ``shlex``)."""
        argv = [self.ssh_binary, "-T", *self._common()]
        proxy = self._proxy_command()
        if proxy:
            argv += ["-o", f"ProxyCommand={proxy}"]
        route = self.host.route
        if route is not None:
            # The alias, so ssh applies the config's Host blocks for it (certificates,
            # IdentitiesOnly...); HostName as resolved, so a config given as text (vagrant)
            # still reaches its machine. Both agree with ssh's own reading of the file.
            argv += ["-o", f"HostName={_escape_percent(route.target.address)}"]
        if self.host.port:
            argv += ["-p", str(self.host.port)]
        if self.host.user:
            argv += ["-l", self.host.user]
        for key in self._keys():
            argv += ["-i", key]
        destination = route.target.alias if route else self.host.address or self.host.name
        argv += ["--", destination, REMOTE_COMMAND]
        return argv

    def _common(self) -> list[str]:
        """Options every ssh of the chain gets: strict keys, batch mode, our known_hosts."""
        opts = self.options
        # The project file first (accepted keys go there), then ours, then the files the
        # host's ssh_config names (UserKnownHostsFile): the command line would hide those.
        route = self.host.route
        config_files = route.target.known_hosts_files if route else ()
        known = list(
            dict.fromkeys(
                _expand(p) for p in (opts.project_known_hosts, opts.known_hosts, *config_files) if p
            )
        )
        argv = [
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={max(1, math.ceil(opts.connect_timeout))}",
            "-o", f"StrictHostKeyChecking={'accept-new' if opts.accept_new else 'yes'}",
            "-o", "UpdateHostKeys=no",
            "-o", f"HashKnownHosts={'yes' if opts.hash_known_hosts else 'no'}",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        if known:
            files = " ".join(_quote_path(_escape_percent(p)) for p in known)
            argv += ["-o", f"UserKnownHostsFile={files}"]
        argv += [
            "-o",
            "GlobalKnownHostsFile="
            + _quote_path(_escape_percent(opts.global_known_hosts or "/dev/null")),
        ]
        if not opts.allow_agent:
            argv += ["-o", "IdentityAgent=none"]
        config = route.config if route and route.config else _config_file(opts.ssh_config)
        if config:
            argv += ["-F", config]
        return argv

    def _keys(self) -> list[str]:
        keys = [self.host.key_file] if self.host.key_file else []
        if self.options.identity_files != DEFAULT_IDENTITIES:  # OpenSSH tries those anyway
            keys += [p for p in self.options.identity_files if Path(_expand(p)).exists()]
        # IdentityFile expands %-tokens (also with -i): a literal % is written %%.
        return [_escape_percent(_expand(k)) for k in keys]

    def _key_problem(self) -> str:
        """Why the inventory's key cannot be used, as the failure reason if ssh's auth fails.

        Read before ssh starts (ssh only warns, at a log level we silence, and goes on with
        other keys); used only when authentication then fails, so a key the agent holds, or
        another identity that gets in, still works as it does with plain ssh.
        """
        if not self.host.key_file:
            return ""
        path = _expand(self.host.key_file)
        problem = keyfiles.key_problem(path)
        if problem == keyfiles.ENCRYPTED:
            problem += " (ssh runs in batch mode: add it to ssh-agent)"
        return f"{self.label}: authentication failed: key {path}: {problem}" if problem else ""

    def _proxy_command(self) -> str | None:
        """The inventory's ``proxy_jump`` as a chain of ``ssh -W`` ProxyCommands.

        Not ``-J``: OpenSSH gives a ``-J`` hop none of our command-line options, so it would
        check its host key against other files, non-strictly, without the key. Each hop here
        gets the same options and, like the paramiko transport, the target's key. ssh expands
        ``%`` tokens once per level, so a nested command's ``%`` are doubled.
        """
        jump = self.host.proxy_jump
        if not jump or jump.strip().lower() == "none":
            return None  # ssh_config's ProxyJump (if any) applies
        command: str | None = None
        for spec in jump.split(","):
            try:
                user, hop, port = parse_jump(spec)
            except ValueError as exc:
                raise CollectFailed(FailureKind.COLLECT_ERROR, f"{self.label}: {exc}") from exc
            argv = [self.ssh_binary, "-T", *self._common()]
            if command is not None:
                argv += ["-o", f"ProxyCommand={command}"]
            if port:
                argv += ["-p", str(port)]
            if user:
                argv += ["-l", user]
            for key in self._keys():
                argv += ["-i", key]
            argv += ["-W", _TOKEN, "--", hop]
            quoted = shlex.join(_escape_percent(a) if a != _TOKEN else a for a in argv)
            command = quoted.replace(shlex.quote(_TOKEN), _TOKEN)
        return command

    def run(self, command: str, timeout: float) -> CommandResult:
        """Run ``command`` under ``sh -s``; the deadline is ``timeout`` plus the connect time."""
        limit = timeout if timeout > 0 else self.options.command_timeout
        deadline = time.monotonic() + limit + self.options.connect_timeout
        key_problem = self._key_problem()
        try:
            proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR, f"{self.label}: cannot run {self.ssh_binary}: {exc}"
            ) from exc
        try:
            script = ("{\n" + command + "\n}\n").encode()
            stdout, stderr = self._pump(proc, script, deadline, limit)
            try:
                rc = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise self._timeout(limit) from exc
        finally:
            _kill_group(proc)
        if rc == SSH_FAILED and MARKER.encode() not in stdout:
            opts = self.options
            records = opts.project_known_hosts or opts.known_hosts or "~/.ssh/known_hosts"
            failed = classify(self.label, stderr.decode("utf-8", "replace"), known_hosts=records)
            if failed.kind is FailureKind.AUTH_FAILED and key_problem:
                raise CollectFailed(FailureKind.AUTH_FAILED, key_problem) from failed
            raise failed
        # 255 after output: the connection dropped mid-stream (or the script itself exited
        # 255). Either way the parser judges what arrived: incomplete, like paramiko's cut.
        return CommandResult(rc, stdout, stderr)

    def _timeout(self, limit: float) -> CollectFailed:
        return CollectFailed(
            FailureKind.TIMEOUT, f"{self.label}: command did not finish within {limit:g}s"
        )

    def _pump(
        self, proc: subprocess.Popen[bytes], script: bytes, deadline: float, limit: float
    ) -> tuple[bytes, bytes]:
        """Feed stdin and drain stdout/stderr together, under the byte cap and deadline."""
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        cap = self.options.max_bytes
        out: list[bytes] = []
        out_size = 0
        err_head = bytearray()
        err_tail: deque[bytes] = deque()
        tail_size = 0
        dropped = False
        pending = memoryview(script)
        os.set_blocking(proc.stdin.fileno(), False)
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            sel.register(proc.stdin, selectors.EVENT_WRITE, "in")
            writing = True
            while len(sel.get_map()) > (1 if writing else 0):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timeout(limit)
                for key, _ in sel.select(left):
                    if key.data == "in":
                        try:
                            pending = pending[os.write(key.fd, pending) :]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            pending = pending[:0]
                        if not pending:
                            writing = False
                            sel.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, _CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.data == "out":
                        out_size += len(chunk)
                        if out_size > cap:
                            raise CollectFailed(
                                FailureKind.COLLECT_ERROR, f"{self.label}: output over {cap} bytes"
                            )
                        out.append(chunk)
                    elif len(err_head) < STDERR_MAX_BYTES:
                        room = STDERR_MAX_BYTES - len(err_head)
                        err_head += chunk[:room]
                        rest = chunk[room:]
                        if rest:
                            err_tail.append(rest)
                            tail_size += len(rest)
                    else:
                        err_tail.append(chunk)
                        tail_size += len(chunk)
                    while tail_size > _STDERR_TAIL and len(err_tail) > 1:
                        tail_size -= len(err_tail.popleft())
                        dropped = True
        tail = b"".join(err_tail)[-_STDERR_TAIL:]
        if tail_size > _STDERR_TAIL:
            dropped = True
        stderr = bytes(err_head) + (b"\n[...]\n" if dropped else b"") + tail
        return b"".join(out), stderr

    def close(self) -> None:
        """Nothing to release: each ``run`` reaps its own ssh process."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill ssh (and a ProxyJump child) if still running, reap it, close the pipes."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
