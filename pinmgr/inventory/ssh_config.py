"""OpenSSH client config as an inventory source and as a resolver for SSH aliases.

pinmgr connects with paramiko, which does not read ``~/.ssh/config`` by itself; resolving here
means a host written as ``web1`` reaches the same machine, user, port, key and jump host as
``ssh web1`` would. Parsing is paramiko's (``SSHConfig``), never ours; the only thing added is
``Include``, which paramiko ignores and which we expand by inlining files before parsing.
"""

from __future__ import annotations

import fnmatch
import glob
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pinmgr.errors import InventoryError
from pinmgr.model import Host, Location, TransportKind

if TYPE_CHECKING:
    # paramiko is imported when a config is parsed, not with pinmgr.inventory (start-up time).
    import paramiko

DEFAULT_CONFIG = "~/.ssh/config"
# OpenSSH's own limit on nested Include (READCONF_MAX_DEPTH).
_MAX_INCLUDE_DEPTH = 16
_INCLUDE_RE = re.compile(r"^\s*include(?:\s*=\s*|\s+)(?P<args>.+?)\s*$", re.IGNORECASE)
_WILDCARD_CHARS = frozenset("*?![")


def _expand_includes(path: Path, depth: int = 0) -> str:
    """Text of ``path`` with every ``Include`` line replaced by the files it names (globbed).

    Relative names resolve against ``~/.ssh``, as OpenSSH does for any user config (also one
    given with ``ssh -F``); files that do not exist are skipped, as OpenSSH skips them.
    """
    if depth > _MAX_INCLUDE_DEPTH:
        raise InventoryError(
            f"Include nested deeper than {_MAX_INCLUDE_DEPTH} levels", Location(str(path), 1)
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(
            f"cannot read OpenSSH config: {exc.strerror or exc}", Location(str(path), 1)
        ) from exc
    out: list[str] = []
    for line in text.splitlines():
        match = _INCLUDE_RE.match(line)
        if not match:
            out.append(line)
            continue
        for arg in match.group("args").split():
            pattern = Path(arg.strip("\"'")).expanduser()
            if not pattern.is_absolute():
                pattern = Path("~/.ssh").expanduser() / pattern
            # Path.glob takes no absolute patterns; glob.glob does.
            for name in sorted(glob.glob(str(pattern))):  # noqa: PTH207
                if Path(name).is_file():
                    out.append(_expand_includes(Path(name), depth + 1))
    return "\n".join(out) + "\n"


def read(config_path: str | Path) -> paramiko.SSHConfig:
    """Parse an OpenSSH client config (with its Includes) into a ``paramiko.SSHConfig``."""
    path = Path(config_path).expanduser()
    return from_text(_expand_includes(path), path)


def from_text(text: str, path: Path | Location, what: str = "OpenSSH config") -> paramiko.SSHConfig:
    """Parse config text; errors point into ``path`` (a file, or where the text came from)."""
    from pinmgr.sshlib import paramiko  # deferred: see TYPE_CHECKING above

    try:
        return paramiko.SSHConfig.from_text(text)
    except paramiko.ConfigParseError as exc:
        where = _locate_problem(path, str(exc)) if isinstance(path, Path) else path
        raise InventoryError(f"cannot parse {what}: {exc}", where) from exc


def _locate_problem(path: Path, message: str) -> Location:
    """Best-effort line of a paramiko parse error (its message quotes the bad line)."""
    bad = message.split("line", 1)[-1].strip()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return Location(str(path), 1)
    for number, line in enumerate(lines, start=1):
        if bad and line.strip() == bad:
            return Location(str(path), number, len(line) - len(line.lstrip()) + 1)
    return Location(str(path), 1)


def _config(config: str | Path | paramiko.SSHConfig) -> paramiko.SSHConfig:
    return read(config) if isinstance(config, (str, Path)) else config


def _lookup(config: paramiko.SSHConfig, alias: str, where: Location) -> paramiko.SSHConfigDict:
    try:
        return config.lookup(alias)
    except Exception as exc:  # Match exec, canonicalisation...: any failure is the config's.
        raise InventoryError(f"OpenSSH config lookup of {alias!r} failed: {exc}", where) from exc


def _none_if_none(value: str | None) -> str | None:
    """``ProxyJump none`` / ``IdentityFile none`` mean "unset" in OpenSSH."""
    if value is None or value.strip().lower() == "none" or not value.strip():
        return None
    return value.strip()


def _port(value: str | None, alias: str, where: Location) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise InventoryError(f"OpenSSH config gives {alias!r} an invalid Port {value!r}", where)
    return port


def resolve(host: Host, config: str | Path | paramiko.SSHConfig) -> Host:
    """Fill address, user, port, key and proxy jump of an SSH host from the OpenSSH config.

    The alias looked up is ``host.address`` (or the name when there is none), just as
    ``ssh ALIAS`` would; the address becomes the config's HostName. Values the inventory wrote
    explicitly (user, port, key, proxy_jump) win over the config. Local hosts pass unchanged.
    """
    if host.transport is TransportKind.LOCAL:
        return host
    cfg = _config(config)
    alias = host.address or host.name
    where = host.source or Location(str(config), 1)
    found = _lookup(cfg, alias, where)
    identity = found.get("identityfile")
    key = _none_if_none(identity[0]) if isinstance(identity, list) and identity else None
    return replace(
        host,
        address=found.get("hostname") or alias,
        user=host.user or _none_if_none(found.get("user")),
        port=host.port or _port(found.get("port"), alias, where),
        key_file=host.key_file or (str(Path(key).expanduser()) if key else None),
        proxy_jump=host.proxy_jump or _none_if_none(found.get("proxyjump")),
    )


def is_concrete(pattern: str) -> bool:
    """A Host pattern naming one machine (no wildcard, no negation)."""
    return not (set(pattern) & _WILDCARD_CHARS)


def _role_for(name: str, patterns_to_roles: Mapping[str, str | Sequence[str]]) -> tuple[str, ...]:
    """Roles of the first pattern (in written order) that matches ``name``; () if none does."""
    for pattern, roles in patterns_to_roles.items():
        if fnmatch.fnmatchcase(name, pattern):
            return (roles,) if isinstance(roles, str) else tuple(roles)
    return ()


def concrete_hosts(config: paramiko.SSHConfig) -> tuple[str, ...]:
    """Every concrete Host name in the config, sorted (paramiko keeps them in a set)."""
    return tuple(sorted(n for n in config.get_hostnames() if is_concrete(n)))


def load(
    config_path: str | Path,
    env: str,
    patterns_to_roles: Mapping[str, str | Sequence[str]],
    *,
    source: Location | None = None,
) -> tuple[Host, ...]:
    """Hosts for each concrete ``Host`` entry matching one of the patterns, resolved.

    ``patterns_to_roles`` maps a glob (``web-*``) to a role or roles; the first pattern that
    matches wins, entries matching none are left out (a config lists more than one fleet).
    """
    cfg = read(config_path)
    where = source or Location(str(config_path), 1)
    hosts = []
    for name in concrete_hosts(cfg):
        roles = _role_for(name, patterns_to_roles)
        if roles:
            hosts.append(resolve(Host(name=name, env=env, roles=roles, source=where), cfg))
    return tuple(hosts)


def jump_hosts(spec: str, config: str | Path | paramiko.SSHConfig | None) -> tuple[Host, ...]:
    """The hops of a ProxyJump spec (``[user@]host[:port],...``), each resolved like ``ssh -J``.

    A hop's own user and port win over the config, as with ``ssh -J``. The jump hosts' own
    ProxyJump is not followed (OpenSSH would; pinmgr keeps chains explicit). Hosts returned are
    named after the hop as written and carry no roles: they are only connected through.
    """
    cfg = _config(config) if config is not None else None
    hops: list[Host] = []
    for raw in spec.split(","):
        hop = raw.strip()
        if not hop:
            continue
        user, _, rest = hop.rpartition("@")
        name, port = rest, None
        if rest.startswith("[") and "]" in rest:  # [2001:db8::1]:22
            name, _, tail = rest[1:].partition("]")
            port = tail[1:] if tail.startswith(":") else None
        elif rest.count(":") == 1:
            name, port = rest.split(":")
        where = Location(str(config), 1) if config is not None else Location(spec, 1)
        host = Host(
            hop,
            "",
            (),
            address=name,
            user=user or None,
            port=_port(port, hop, where) if port else None,
        )
        resolved = resolve(host, cfg) if cfg is not None else host
        hops.append(replace(resolved, proxy_jump=None))
    return tuple(hops)
