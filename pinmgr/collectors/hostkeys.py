"""Strict host-key checking against OpenSSH known_hosts files, parsed once and shared.

A fleet check opens hundreds of connections at once; re-reading a large known_hosts file per
host would dominate. A ``KnownHosts`` store parses its files once, answers lookups from an
index under a lock, and is shared by every connection thread (``shared_store``).

Policy (same as ``StrictHostKeyChecking yes`` / ``accept-new``):

* unknown host: refused with the key's fingerprint and the command to trust it, unless
  ``accept_new`` (trust on first use), which appends one line to the writable file under
  ``flock``;
* changed (or revoked) key: always refused and no file is ever modified.

Reading uses paramiko's parser (``HostKeyEntry``, ``HostKeys.hash_host``), so hashed names
(``|1|salt|hash``), ``[host]:port`` names, wildcards and ``!negations`` are understood; lines
are written by hand because ``HostKeys.save`` rewrites the whole file.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import fnmatch
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from pinmgr.collectors.errors import CollectFailed
from pinmgr.model import FailureKind
from pinmgr.sshlib import HostKeyEntry, HostKeys, InvalidHostKey, PKey, SSHException

DEFAULT_USER_KNOWN_HOSTS = "~/.ssh/known_hosts"

# Host-key algorithm names to ask the server for, per key type found in known_hosts.
_ALGORITHMS_FOR_TYPE: dict[str, tuple[str, ...]] = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}

# ``ssh-keyscan -t`` names per key type.
_KEYSCAN_TYPE: dict[str, str] = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ecdsa-sha2-nistp256": "ecdsa",
    "ecdsa-sha2-nistp384": "ecdsa",
    "ecdsa-sha2-nistp521": "ecdsa",
}


def fingerprint(key: PKey) -> str:
    """OpenSSH's fingerprint format: ``SHA256:`` + unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """The name OpenSSH files a host under: ``addr`` for port 22, ``[addr]:port`` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class _Line:
    """One known_hosts entry whose host patterns need more than a dict lookup."""

    patterns: tuple[str, ...]
    key: PKey


def _pattern_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            return bool(HostKeys.hash_host(name, pattern) == pattern)
        except (binascii.Error, IndexError, ValueError):
            return False
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def _line_matches(patterns: tuple[str, ...], name: str) -> bool:
    """OpenSSH semantics: some positive pattern matches and no ``!negated`` one does."""
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _pattern_matches(pattern[1:], name):
                return False
        elif _pattern_matches(pattern, name):
            matched = True
    return matched


class _Index:
    """Keys by host name: a dict for plain names, a short scan for hashed/wildcard lines."""

    def __init__(self) -> None:
        self.exact: dict[str, list[PKey]] = {}
        self.scanned: list[_Line] = []
        self.revoked: set[bytes] = set()

    def add_text(self, text: str) -> None:
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            marker = ""
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                line = line.strip()
            try:
                entry = HostKeyEntry.from_line(line)
            except (InvalidHostKey, SSHException, ValueError, binascii.Error):
                continue  # OpenSSH skips lines it cannot parse, so do we
            if entry is None or entry.key is None or not entry.hostnames:
                continue
            if marker == "@revoked":
                self.revoked.add(entry.key.asbytes())
                continue
            if marker:
                continue  # @cert-authority: certificates are not supported
            self.add_entry(tuple(entry.hostnames), entry.key)

    def add_entry(self, patterns: tuple[str, ...], key: PKey) -> None:
        if all(not any(c in p for c in "*?!|") for p in patterns):
            for name in patterns:
                self.exact.setdefault(name.lower(), []).append(key)
        else:
            self.scanned.append(_Line(patterns, key))

    def lookup(self, name: str) -> list[PKey]:
        found = list(self.exact.get(name.lower(), ()))
        found.extend(line.key for line in self.scanned if _line_matches(line.patterns, name))
        return found


def _signature(paths: tuple[Path, ...]) -> tuple[tuple[int, int, int] | None, ...]:
    sig: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            sig.append(None)
        else:
            sig.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(sig)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


class KnownHosts:
    """known_hosts files parsed once; thread-safe lookups, checks and trust-on-first-use.

    ``read_paths`` are consulted in order (a key in any of them counts); ``write_path``
    receives accepted keys and is read too. Paths may start with ``~``; ``display`` keeps
    the spelling the user gave, for messages.
    """

    def __init__(
        self,
        read_paths: tuple[str, ...],
        write_path: str,
        *,
        hash_new_entries: bool = False,
    ) -> None:
        names = list(read_paths)
        if write_path not in names:
            names.append(write_path)
        self.read_paths = tuple(names)
        self.write_path = write_path
        self.hash_new_entries = hash_new_entries
        self._files = tuple(Path(p).expanduser() for p in self.read_paths)
        self._write_file = Path(write_path).expanduser()
        self._lock = threading.Lock()
        self._index = _Index()
        self._sig: tuple[tuple[int, int, int] | None, ...] = ()
        self.reload()

    def reload(self) -> None:
        """(Re)parse every file; raises OSError if one exists but cannot be read."""
        index = _Index()
        sig = _signature(self._files)
        for path in self._files:
            index.add_text(_read(path))
        with self._lock:
            self._index = index
            self._sig = sig

    def is_stale(self) -> bool:
        """True when a file changed on disk since it was parsed (by someone else)."""
        return _signature(self._files) != self._sig

    def lookup(self, address: str, port: int) -> list[PKey]:
        """Every known key for the host, any type."""
        name = known_hosts_name(address, port)
        with self._lock:
            return self._index.lookup(name)

    def preferred_algorithms(self, address: str, port: int) -> tuple[str, ...]:
        """Host-key algorithms to offer first, so the server shows a key we can verify."""
        algorithms: list[str] = []
        for key in self.lookup(address, port):
            for algorithm in _ALGORITHMS_FOR_TYPE.get(key.get_name(), (key.get_name(),)):
                if algorithm not in algorithms:
                    algorithms.append(algorithm)
        return tuple(algorithms)

    def check(self, label: str, address: str, port: int, key: PKey, *, accept_new: bool) -> None:
        """Return if ``key`` is trusted for the host; raise CollectFailed otherwise.

        ``label`` names the host in messages (one line each). With ``accept_new`` an unknown
        host's key is appended to ``write_path``; a changed key is refused either way.
        """
        with self._lock:
            revoked = key.asbytes() in self._index.revoked
            known = self._index.lookup(known_hosts_name(address, port))
        if revoked:
            raise CollectFailed(
                FailureKind.HOSTKEY_CHANGED,
                f"{label}: host key {key.get_name()} {fingerprint(key)} is marked @revoked "
                "in known_hosts; refusing to connect",
            )
        if known:
            self._verify_known(label, key, known)
            return
        if not accept_new:
            raise CollectFailed(
                FailureKind.HOSTKEY_UNKNOWN, self._unknown_reason(label, address, port, key)
            )
        self._append(label, address, port, key)

    @staticmethod
    def _verify_known(label: str, key: PKey, known: list[PKey]) -> None:
        blob = key.asbytes()
        if any(k.asbytes() == blob for k in known):
            return
        same_type = [k for k in known if k.get_name() == key.get_name()]
        if same_type:
            old = ", ".join(fingerprint(k) for k in same_type)
            raise CollectFailed(
                FailureKind.HOSTKEY_CHANGED,
                f"{label}: HOST KEY CHANGED: known_hosts has {key.get_name()} {old}, "
                f"host presented {fingerprint(key)}; possible man-in-the-middle, refusing "
                "(if the change is expected, remove the old entry with ssh-keygen -R)",
            )
        others = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in known)
        raise CollectFailed(
            FailureKind.HOSTKEY_CHANGED,
            f"{label}: host presented {key.get_name()} {fingerprint(key)} but known_hosts "
            f"only has {others}; refusing (a host that lost its known key type is suspect)",
        )

    def _unknown_reason(self, label: str, address: str, port: int, key: PKey) -> str:
        scan_type = _KEYSCAN_TYPE.get(key.get_name(), key.get_name())
        return (
            f"{label}: host key unknown: {key.get_name()} {fingerprint(key)}; verify this "
            f"fingerprint out of band, then run `ssh-keyscan -p {port} -t {scan_type} "
            f"{address} >> {self.write_path}` or use `pinmgr check --accept-new`"
        )

    def _append(self, label: str, address: str, port: int, key: PKey) -> None:
        """Trust on first use: append one line under flock, re-checking what is on disk."""
        name = known_hosts_name(address, port)
        path = self._write_file
        current: list[PKey] = []
        try:
            if not path.parent.exists():
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR,
                f"{label}: cannot record host key in {self.write_path}: "
                f"{exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))}",
            ) from exc
        try:
            with self._lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    # Another process may have recorded this host since we parsed the file.
                    on_disk = _Index()
                    content = _read(path)
                    on_disk.add_text(content)
                    current = on_disk.lookup(name)
                    if current:
                        for k in current:
                            self._index.add_entry((name,), k)
                    else:
                        host_field = HostKeys.hash_host(name) if self.hash_new_entries else name
                        line = f"{host_field} {key.get_name()} {key.get_base64()}\n"
                        prefix = "\n" if content and not content.endswith("\n") else ""
                        os.write(fd, (prefix + line).encode("ascii"))
                        os.fsync(fd)
                        self._index.add_entry((name,), key)
                    self._sig = _signature(self._files)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if current:
            self._verify_known(label, key, current)


_shared: dict[tuple[tuple[str, ...], str, bool], KnownHosts] = {}
_shared_lock = threading.Lock()


def shared_store(
    read_paths: tuple[str, ...], write_path: str, *, hash_new_entries: bool = False
) -> KnownHosts:
    """The process-wide store for these files, parsed once (again only if changed on disk)."""
    cache_key = (read_paths, write_path, hash_new_entries)
    with _shared_lock:
        store = _shared.get(cache_key)
        if store is None:
            store = KnownHosts(read_paths, write_path, hash_new_entries=hash_new_entries)
            _shared[cache_key] = store
        elif store.is_stale():
            store.reload()
        return store
