"""Which hosts form each environment, and their roles: one ``model.Inventory`` from all sources.

The native TOML file is the root; its ``[[sources]]`` (Ansible, Vagrant, OpenSSH config) are run
and merged in, and SSH aliases are resolved through the OpenSSH config (``inventory.openssh``,
``ssh -G``'s rules) into ``Host.route``, which every transport reads. Problems from every source
are collected, not the first.

Three kinds of problem: one that stops a source or the file (a missing binary, a parse error, a
host twice in one environment) raises ``InventoryError``; a host a source names but cannot place
(no role group, a bad ``ansible_port``, an ssh_config alias the resolver cannot place) is a
``SourceProblem``: that host is left out and the others load (``load_with_problems``);
``load_inventory`` is the strict form, where any of those raises. A host loaded with a caveat
(ssh_config says ``StrictHostKeyChecking no``) is a ``HostWarning``: it stays a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pinmgr.errors import InventoryError, PinmgrError, UsageError
from pinmgr.inventory import ansible, detect, openssh, vagrant
from pinmgr.inventory import ssh_config as ssh_cfg
from pinmgr.inventory.native import SourceSpec, SourceType
from pinmgr.inventory.result import LoadedInventory, SourceResult, problems_error
from pinmgr.model import (
    Environment,
    Host,
    HostWarning,
    Inventory,
    Location,
    SourceProblem,
    TransportKind,
    assert_never,
)

__all__ = [
    "LoadedInventory",
    "SourceProblem",
    "SourceResult",
    "default_inventory",
    "load_inventory",
    "load_with_problems",
    "select",
]

DEFAULT_ENV = "local"
DEFAULT_HOST = "localhost"


def default_inventory(roles: Sequence[str] = ("app",)) -> Inventory:
    """What to check when there is no inventory file: this machine, as env ``local``."""
    host = Host(DEFAULT_HOST, DEFAULT_ENV, tuple(roles), transport=TransportKind.LOCAL)
    return Inventory((Environment(DEFAULT_ENV, (host,)),))


def _source_hosts(spec: SourceSpec, default_roles: Sequence[str]) -> SourceResult:
    """Run one ``[[sources]]`` entry: its hosts and the hosts it left out (each with why)."""
    match spec.type:
        case SourceType.ANSIBLE:
            return ansible.load(
                spec.target,
                source=spec.location,
                env_names=spec.envs,
                default_env=spec.env,
                role_groups=spec.role_groups,
            )
        case SourceType.VAGRANT:
            return vagrant.load(
                spec.target,
                source=spec.location,
                env=spec.env or vagrant.DEFAULT_ENV,
                roles=spec.roles,
                default_roles=default_roles,
            )
        case SourceType.SSH_CONFIG:
            if not Path(spec.target).is_file():
                raise InventoryError(
                    f"OpenSSH config {spec.target!r} does not exist", spec.location
                )
            # A pattern without roles (an OpenSSH config given as -i) gives the default ones.
            roles = {pattern: given or tuple(default_roles) for pattern, given in spec.roles}
            return ssh_cfg.load(spec.target, spec.env or "", roles, source=spec.location)
        case _:  # pragma: no cover - exhaustive over SourceType
            assert_never(spec.type)


def _as_kind(kind: detect.InventoryKind, error: InventoryError) -> InventoryError:
    """A source's error for an inventory given as ``-i``, saying what it was read as."""
    if kind is detect.InventoryKind.NATIVE:
        return error
    said = f"read as {kind.label} (detected from its content)"
    problems = tuple(
        InventoryError(f"{said}: {p.message}", p.location) for p in error.problems or (error,)
    )
    return InventoryError(problems[0].message, problems[0].location, problems)


def _user_ssh_config(explicit: str | None, where: Location) -> Path | None:
    """The OpenSSH config to resolve aliases with: the one given, else None (OpenSSH's own
    choice: ~/.ssh/config if any, then the system-wide one)."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise InventoryError(f"OpenSSH config {explicit!r} does not exist", where)
        return path
    return None


def _warning(host: Host, message: str) -> HostWarning:
    where = f"{host.source}: " if host.source else ""
    return HostWarning(host.name, host.env, f"{where}host {host.name!r}: {message}")


def _unsafe_settings(host: Host) -> list[HostWarning]:
    """ssh_config settings pinmgr reads but never obeys: said once per host."""
    if host.route is None:
        return []
    out = []
    for hop in (*host.route.jumps, host.route.target):
        if hop.strict_host_key_checking == "no":
            via = "" if hop is host.route.target else f" (jump host {hop.alias!r})"
            out.append(
                _warning(
                    host,
                    f"ssh_config sets StrictHostKeyChecking no{via}; "
                    "pinmgr checks host keys anyway",
                )
            )
    return out


def load_inventory(
    path: str | Path | None,
    *,
    default_roles: Sequence[str] = ("app",),
    ssh_config: str | None = None,
) -> Inventory:
    """The inventory at ``path``, strictly: a host a source cannot place is an error too.

    See ``load_with_problems`` for the form that leaves such hosts out and says why.
    """
    return load_with_problems(path, default_roles=default_roles, ssh_config=ssh_config).strict()


def load_with_problems(
    path: str | Path | None,
    *,
    default_roles: Sequence[str] = ("app",),
    ssh_config: str | None = None,
    connect: bool = True,
) -> LoadedInventory:
    """Read the inventory at ``path`` (None: ``default_inventory``) with all its sources merged.

    Hosts written in the TOML file or found by Ansible are resolved through the OpenSSH config
    (``ssh_config``, else ``~/.ssh/config`` if it exists); Vagrant and ssh_config sources are
    already resolved from their own config. A host a source cannot place, or whose alias does
    not resolve, is left out with a ``SourceProblem``. A source that fails, or a host name used
    twice in one environment, raises ``InventoryError`` listing those and the left-out hosts.

    ``connect=False``: no host will be contacted (saved data is checked): hosts are only
    named, so the OpenSSH config is neither read nor obeyed, and its caveats are not said.
    """
    if path is None:
        return LoadedInventory(default_inventory(default_roles))
    kind, parsed = detect.load(path)
    where = Location(parsed.path, 1)
    errors: list[PinmgrError] = []
    left_out: list[SourceProblem] = []
    # (host, resolve through the user's OpenSSH config?)
    found: list[tuple[Host, bool]] = [(h, True) for e in parsed.environments for h in e.hosts]
    quiet: set[int] = set()  # hosts whose ignored ssh_config settings need no warning
    for spec in parsed.sources:
        try:
            result = _source_hosts(spec, default_roles)
        except InventoryError as exc:
            errors.extend(_as_kind(kind, exc).problems)
            continue
        left_out.extend(result.problems)
        resolvable = spec.type is SourceType.ANSIBLE
        found.extend((h, resolvable) for h in result.hosts)
        if spec.type is SourceType.VAGRANT:
            # Vagrant always prints StrictHostKeyChecking no; ignoring it is documented there.
            quiet.update(id(h) for h in result.hosts)

    config = None
    if connect and any(resolvable and _connects(h) for h, resolvable in found):
        try:
            config = openssh.read_config(_user_ssh_config(ssh_config, where))
        except InventoryError as exc:
            errors.extend(exc.problems)

    env_order = [e.name for e in parsed.environments]
    by_env: dict[str, dict[str, Host]] = {name: {} for name in env_order}
    warnings: list[HostWarning] = []
    for written, resolvable in found:
        host = written
        if config is not None and resolvable:
            try:
                host = ssh_cfg.resolve(written, config)
            except InventoryError as exc:  # the config parsed: what fails is this host's
                left_out.append(ssh_cfg.left_out(written.name, exc, written.source, "host"))
                continue
        if connect and id(written) not in quiet:
            warnings.extend(_unsafe_settings(host))
        in_env = by_env.setdefault(host.env, {})
        first = in_env.get(host.name)
        if first is not None:
            errors.append(
                InventoryError(
                    f"host {host.name!r} appears twice in environment {host.env!r} "
                    f"(first at {first.source or 'an inventory source'})",
                    host.source or where,
                )
            )
            continue
        in_env[host.name] = host
    if errors:
        if left_out:
            errors.extend(problems_error(left_out).problems)
        raise InventoryError(errors[0].message, errors[0].location, tuple(errors))
    inventory = Inventory(
        tuple(Environment(name, tuple(named.values())) for name, named in by_env.items())
    )
    return LoadedInventory(inventory, tuple(left_out), tuple(warnings))


def _connects(host: Host) -> bool:
    """Reached over SSH (so OpenSSH's config says how), not this machine or a file tree."""
    return host.transport in (TransportKind.SSH, TransportKind.OPENSSH)


def _known(what: str, unknown: str, known: Sequence[str]) -> UsageError:
    listed = ", ".join(sorted(known)) or "none"
    return UsageError(f"unknown {what} {unknown!r}; known: {listed}")


def _no_host_with_role(
    role: str, known: Sequence[str], lockfile_roles: Sequence[str] | None
) -> UsageError:
    """``--role R`` matching no host: say whether the lockfile has R (a host is missing) or
    not (a typo, or a role nobody defined)."""
    have = f"its hosts have: {', '.join(known) or 'none'}"
    if lockfile_roles is not None and role in lockfile_roles:
        return UsageError(
            f"no host in the inventory has role {role!r}, which the lockfile defines ({have}); "
            f'give a host roles = ["{role}"] in the inventory'
        )
    defined = (
        f"; the lockfile defines: {', '.join(sorted(lockfile_roles)) or 'none'}"
        if lockfile_roles is not None
        else ""
    )
    return UsageError(f"unknown role {role!r}: no host in the inventory has it ({have}){defined}")


def select(
    inventory: Inventory,
    envs: Sequence[str] = (),
    roles: Sequence[str] = (),
    hosts: Sequence[str] = (),
    *,
    lockfile_roles: Sequence[str] | None = None,
) -> Inventory:
    """The part of ``inventory`` in ``envs`` with ``roles`` (and named ``hosts``); empty = all.

    A host keeps only the selected roles, so ``--role db`` on an app+db host checks db pins.
    Environments left with no host by a role or host filter are dropped.
    """
    env_names = [e.name for e in inventory.environments]
    for name in envs:
        if name not in env_names:
            raise _known("environment", name, env_names)
    known_roles = sorted({r for h in inventory.hosts for r in h.roles})
    for role in roles:
        if role not in known_roles:
            raise _no_host_with_role(role, known_roles, lockfile_roles)
    chosen_envs = [e for e in inventory.environments if not envs or e.name in envs]
    known_hosts = sorted({h.name for e in chosen_envs for h in e.hosts})
    for wanted in hosts:
        if wanted not in known_hosts:
            raise _known("host", wanted, known_hosts)
    out = []
    for env in chosen_envs:
        kept = []
        for host in env.hosts:
            if hosts and host.name not in hosts:
                continue
            narrowed = tuple(r for r in host.roles if not roles or r in roles)
            if narrowed:
                kept.append(replace(host, roles=narrowed) if roles else host)
        if kept or not (roles or hosts):
            out.append(Environment(env.name, tuple(kept)))
    return Inventory(tuple(out))
