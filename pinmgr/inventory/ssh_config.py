"""OpenSSH client config as an inventory source, and SSH aliases resolved through it.

A host written as ``web1`` must reach the same machine, user, port, keys and jump hosts as
``ssh web1`` would: the resolving is ``inventory.openssh`` (held to ``ssh -G`` by a
differential test); this module turns its result into ``model.Host`` values.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from pinmgr.errors import InventoryError
from pinmgr.inventory import openssh
from pinmgr.inventory.openssh import HostProblem, SshConfig
from pinmgr.inventory.result import SourceResult
from pinmgr.model import Host, Location, SourceProblem, TransportKind

__all__ = [
    "DEFAULT_CONFIG",
    "HostProblem",
    "concrete_hosts",
    "from_text",
    "is_concrete",
    "left_out",
    "load",
    "read",
    "resolve",
]

DEFAULT_CONFIG = openssh.USER_CONFIG
_WILDCARD_CHARS = frozenset("*?!")


def read(config_path: str | Path) -> SshConfig:
    """Parse an OpenSSH client config file (with its Includes), as ``ssh -F`` would."""
    return openssh.read_config(config_path)


def from_text(text: str, path: Path | Location, what: str = "OpenSSH config") -> SshConfig:
    """Parse config text; errors point into ``path`` (a file, or where the text came from)."""
    label = path.file if isinstance(path, Location) else str(path)
    try:
        return openssh.config_from_text(text, label)
    except InventoryError as exc:
        where = path if isinstance(path, Location) else exc.location
        raise InventoryError(f"cannot parse {what}: {exc.message}", where) from exc


def _config(config: str | Path | SshConfig | None) -> SshConfig:
    if isinstance(config, SshConfig):
        return config
    return openssh.read_config(config)


_contexts: dict[tuple[str, str], openssh.Context] = {}


def _context() -> openssh.Context:
    """The resolving context, built once per $HOME and Match-exec setting (pwd, hostname)."""
    key = (os.environ.get("HOME", ""), os.environ.get(openssh.MATCH_EXEC_ENV, ""))
    ctx = _contexts.get(key)
    if ctx is None:
        ctx = _contexts[key] = openssh.default_context()
    return ctx


def resolve(host: Host, config: str | Path | SshConfig | None) -> Host:
    """``host`` with address, user, port, first key, proxy jump and ``route`` from the config.

    The alias looked up is ``host.address`` (or the name), just as ``ssh ALIAS`` would. Values
    the inventory wrote (user, port, key, proxy_jump) count as ``ssh -l/-p/-i/-J``: they win,
    and ``Match user`` and ``%r`` see them. Local hosts pass unchanged. A host the config
    cannot place raises ``InventoryError`` (``HostProblem`` when the config is fine but ssh
    would do what pinmgr cannot, e.g. Match exec or DNS canonicalisation).
    """
    if host.transport is TransportKind.LOCAL or host.transport.is_offline:
        return host
    cfg = _config(config)
    alias = host.address or host.name
    where = host.source or Location(cfg.path or alias, 1)
    route, found = openssh.route_and_lookup(
        cfg,
        alias,
        user=host.user,
        port=host.port,
        identity=(host.key_file,) if host.key_file else (),
        jump=host.proxy_jump,
        ctx=_context(),
        where=where,
    )
    target = route.target
    return replace(
        host,
        address=target.address,
        user=target.user if found.user_configured else None,
        port=target.port if found.port_configured else None,
        key_file=host.key_file or (target.identity_files[0] if target.identity_files else None),
        proxy_jump=found.proxy_jump,
        route=route,
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


def concrete_hosts(config: SshConfig) -> tuple[str, ...]:
    """Every concrete name on a ``Host`` line (Includes too), sorted; ``Match`` names none."""
    names = {
        arg
        for d in config.directives()
        if d.keyword == "host"
        for arg in d.args
        if is_concrete(arg)
    }
    return tuple(sorted(names))


def left_out(
    name: str, problem: InventoryError, where: Location | None, what: str
) -> SourceProblem:
    """The ``SourceProblem`` for a host the config cannot place: at the config line that says
    why when the resolver knows it, else at ``where`` (the host or its ``[[sources]]`` entry)."""
    return SourceProblem(name, f"{what} {name!r}: {problem.message}", problem.location or where)


def load(
    config_path: str | Path,
    env: str,
    patterns_to_roles: Mapping[str, str | Sequence[str]],
    *,
    source: Location | None = None,
) -> SourceResult:
    """Hosts for each concrete ``Host`` name matching a pattern, and one ``SourceProblem`` per
    host the config cannot place (left out; the others load). A config that does not parse
    raises ``InventoryError``.

    ``patterns_to_roles`` maps a glob (``web-*``) to a role or roles; the first pattern that
    matches wins, names matching none are left out (a config lists more than one fleet).
    """
    cfg = read(config_path)
    where = source or Location(str(config_path), 1)
    hosts: list[Host] = []
    problems: list[SourceProblem] = []
    for name in concrete_hosts(cfg):
        roles = _role_for(name, patterns_to_roles)
        if not roles:
            continue
        try:
            hosts.append(resolve(Host(name=name, env=env, roles=roles, source=where), cfg))
        except InventoryError as exc:  # the config parsed: what fails is this host's
            problems.append(left_out(name, exc, where, "ssh_config host"))
    return SourceResult(tuple(hosts), tuple(problems))
