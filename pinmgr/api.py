"""Use cases as library calls: they return values, never print or exit.

Transports, the clock and progress callbacks are injected so the CLI, tests and other tools
drive the same code.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pinmgr.collectors.base import Transport
from pinmgr.collectors.pool import DEFAULT_JOBS
from pinmgr.diff import consistency, installable, waivers
from pinmgr.diff import report as report_mod
from pinmgr.diff.check import CollectResult
from pinmgr.diff.check import check as check_findings
from pinmgr.diff.envdiff import DiffRow, envdiff
from pinmgr.errors import (
    EXIT_DRIFT,
    EXIT_HOSTS,
    EXIT_OK,
    HostCollectError,
    InventoryError,
    LockfileError,
    PinmgrError,
    ProblemsError,
    UsageError,
)
from pinmgr.inventory import load_inventory, select
from pinmgr.lockfile.load import load as load_lockfile
from pinmgr.model import (
    CheckReport,
    Ecosystem,
    Host,
    HostFailure,
    HostSnapshot,
    HostWarning,
    Inventory,
    Lockfile,
    TransportKind,
)

DEFAULT_LOCKFILE = Path("pins") / "pinmgr.toml"
DEFAULT_INVENTORY = Path("pins") / "inventory.toml"


@dataclass(frozen=True)
class CheckOptions:
    envs: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    unpinned: bool = False
    # Call out hosts of one role that disagree with each other (inconsistent, mixed-os).
    consistency: bool = True
    jobs: int = DEFAULT_JOBS
    timeout: float = 60.0
    connect_timeout: float = 10.0
    accept_new: bool = False
    # Project known_hosts: read with ~/.ssh/known_hosts; --accept-new records keys here.
    known_hosts: str | None = None
    ssh_config: str | None = None
    today: dt.date | None = None
    # Asked for the passphrase of an encrypted key file not held by ssh-agent (None: skip it).
    passphrase: Callable[[str], str | None] | None = None
    default_roles: tuple[str, ...] = ("app",)
    # Also ask each host's package sources what they offer (read-only): not-installable.
    installable: bool = False
    # Reach every SSH host with this transport (ssh: paramiko, openssh: the ssh binary),
    # whatever the inventory says; None keeps each host's own. Local hosts stay local.
    transport: TransportKind | None = None

    def today_or_now(self) -> dt.date:
        """The injected date (tests use a fixed clock), else today."""
        return self.today or dt.date.today()


TransportFactory = Callable[[Host], Transport]
AvailableFor = Callable[[Host], Mapping[Ecosystem, Sequence[str]]]
ProgressCallback = Callable[[Host, CollectResult], None]


def read_lockfile(path: str | Path) -> Lockfile:
    p = Path(path)
    if not p.exists():
        raise LockfileError(
            f"{p}: no such lockfile (pass --lockfile FILE, or run where pins/pinmgr.toml exists)"
        )
    return load_lockfile(p)


def read_inventory(path: str | Path | None, options: CheckOptions = CheckOptions()) -> Inventory:
    p = Path(path) if path is not None else None
    if p is not None and not p.exists() and p != DEFAULT_INVENTORY:
        raise UsageError(f"{p}: no such inventory file")
    return load_inventory(
        p if p is not None and p.exists() else None,
        default_roles=options.default_roles,
        ssh_config=options.ssh_config,
    )


def inventory(
    inventory_path: str | Path | None, options: CheckOptions = CheckOptions()
) -> Inventory:
    """The inventory as ``check`` will use it (sources merged, ssh_config resolved, ``envs``
    and ``roles`` selected), without connecting to anything: ``pinmgr inventory``."""
    return select(read_inventory(inventory_path, options), options.envs, options.roles)


def validate(lockfile_path: str | Path, inventory_path: str | Path | None) -> list[PinmgrError]:
    """Every problem in the lockfile and inventory, not just the first."""
    problems: list[PinmgrError] = []
    lock: Lockfile | None = None
    try:
        lock = read_lockfile(lockfile_path)
    except LockfileError as exc:
        problems.extend(exc.problems)
    try:
        inventory = read_inventory(inventory_path)
    except ProblemsError as exc:
        problems.extend(exc.problems)
    except PinmgrError as exc:
        problems.append(exc)
    else:
        # Hosts a source could not place: each reported once (the others loaded).
        problems.extend(InventoryError(w.message) for w in inventory.skipped)
        if lock is not None:
            problems.extend(_unknown_roles(lock, inventory))
    return problems


def _unknown_roles(lock: Lockfile, inventory: Inventory) -> list[PinmgrError]:
    known = set(lock.roles)
    out: list[PinmgrError] = []
    for host in inventory.hosts:
        for role in host.roles:
            if role not in known:
                out.append(
                    UsageError(
                        f"host {host.name} ({host.env}) has role {role!r}, which the lockfile "
                        f"does not define (roles: {', '.join(sorted(known)) or 'none'})",
                        host.source,
                    )
                )
    return out


def check(
    lockfile_path: str | Path,
    inventory_path: str | Path | None,
    options: CheckOptions = CheckOptions(),
    *,
    transport_factory: TransportFactory | None = None,
    on_done: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
    on_warning: Callable[[HostWarning], None] | None = None,
) -> CheckReport:
    """Collect every selected host and compare it with the lockfile.

    ``on_warning`` hears of each host the inventory left out or loaded with a caveat.
    """
    lock = read_lockfile(lockfile_path)
    inventory = select(read_inventory(inventory_path, options), options.envs, options.roles)
    if on_warning is not None:
        for warning in (*inventory.skipped, *inventory.warnings):
            on_warning(warning)
    unknown = _unknown_roles(lock, inventory)
    if unknown:
        raise unknown[0]
    hosts = inventory.hosts
    if on_start is not None:
        on_start(len(hosts))
    results = collect(
        hosts,
        options,
        transport_factory=transport_factory,
        on_done=on_done,
        cancel=cancel,
        available=available_query(lock) if options.installable else None,
    )
    return report_for(lock, results, options, environments=[e.name for e in inventory.environments])


def available_query(lock: Lockfile) -> AvailableFor:
    """Per host, the pinned packages to ask its sources about (``--installable``)."""
    from pinmgr.collectors.available import query_for

    return query_for(lock)


def collect(
    hosts: Sequence[Host],
    options: CheckOptions = CheckOptions(),
    *,
    transport_factory: TransportFactory | None = None,
    on_done: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    available: AvailableFor | None = None,
) -> list[CollectResult]:
    """Collect ``hosts``; ``available`` also asks their sources about those packages."""
    from pinmgr.collectors.pool import collect_all, make_transport_factory

    # paramiko (~0.1 s to import) is loaded only when some host is reached over SSH.
    remote = any(h.transport is not TransportKind.LOCAL for h in hosts)
    factory = transport_factory or _with_transport(
        make_transport_factory(ssh_options=ssh_options(options) if remote else None),
        options.transport,
    )
    return collect_all(
        hosts,
        factory,
        jobs=options.jobs,
        timeout=options.timeout,
        on_done=on_done,
        cancel=cancel,
        available=available,
    )


def _with_transport(factory: TransportFactory, kind: TransportKind | None) -> TransportFactory:
    """``factory`` with SSH hosts' transport overridden; results still name the original host."""
    if kind is None or kind is TransportKind.LOCAL:
        return factory

    def override(host: Host) -> Transport:
        if host.transport is TransportKind.LOCAL:
            return factory(host)
        return factory(replace(host, transport=kind))

    return override


def ssh_options(options: CheckOptions) -> object:
    """SSH settings for the paramiko transport (imported lazily: --help never loads paramiko)."""
    from pinmgr.collectors.ssh import SshOptions

    return SshOptions(
        project_known_hosts=options.known_hosts,
        accept_new=options.accept_new,
        connect_timeout=options.connect_timeout,
        ssh_config=options.ssh_config,
        passphrase=options.passphrase,
    )


def report_for(
    lock: Lockfile,
    results: Sequence[CollectResult],
    options: CheckOptions = CheckOptions(),
    *,
    environments: Sequence[str] = (),
) -> CheckReport:
    findings = check_findings(lock, results, unpinned=options.unpinned)
    snaps = [r for r in results if isinstance(r, HostSnapshot)]
    if options.installable:
        findings += installable.not_installable(lock, snaps)
    if options.consistency:
        findings += consistency.inconsistencies(snaps, lock)
        findings += consistency.mixed_os(snaps)
    today = options.today_or_now()
    findings = waivers.apply(findings, lock.waivers, today)
    return report_mod.build(
        findings,
        hosts_total=len(results),
        hosts_collected=len(snaps),
        lockfile=lock.path,
        environments=environments,
    )


@dataclass(frozen=True)
class DiffResult:
    """``pinmgr diff``: rows that differ, and hosts that could not be collected."""

    left: str
    right: str
    rows: tuple[DiffRow, ...]
    failures: tuple[HostFailure, ...]


def _side(inventory: Inventory, name: str, roles: Sequence[str]) -> tuple[Host, ...]:
    """An environment name, else a host name (unique across the inventory)."""
    env = inventory.env(name)
    if env is not None:
        hosts = env.hosts
    else:
        hosts = tuple(h for h in inventory.hosts if h.name == name)
        if not hosts:
            envs = ", ".join(e.name for e in inventory.environments)
            raise UsageError(f"{name!r} is neither an environment ({envs}) nor a host")
        if len(hosts) > 1:
            where = ", ".join(h.env for h in hosts)
            raise UsageError(f"host name {name!r} is ambiguous (in environments {where})")
    if roles:
        hosts = tuple(h for h in hosts if set(h.roles) & set(roles))
    return hosts


def diff(
    inventory_path: str | Path | None,
    left: str,
    right: str,
    options: CheckOptions = CheckOptions(),
    *,
    only: Sequence[str] = (),
    ecosystems: Sequence[Ecosystem] = (),
    transport_factory: TransportFactory | None = None,
    on_done: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
) -> DiffResult:
    """Collect both sides and list the packages whose versions differ."""
    inventory = read_inventory(inventory_path, options)
    left_hosts = _side(inventory, left, options.roles)
    right_hosts = _side(inventory, right, options.roles)
    # A host compared with itself is pointless; a host on both sides is collected once.
    unique = {(h.env, h.name): h for h in (*left_hosts, *right_hosts)}
    if on_start is not None:
        on_start(len(unique))
    results = collect(
        list(unique.values()), options, transport_factory=transport_factory, on_done=on_done
    )
    snaps = {(r.host.env, r.host.name): r for r in results if isinstance(r, HostSnapshot)}
    failures = tuple(r for r in results if isinstance(r, HostFailure))
    by_host = left_hosts == right_hosts or (len(left_hosts) == 1 and len(right_hosts) == 1)
    rows = envdiff(
        [snaps[(h.env, h.name)] for h in left_hosts if (h.env, h.name) in snaps],
        [snaps[(h.env, h.name)] for h in right_hosts if (h.env, h.name) in snaps],
        by_role=not by_host,
        only=only,
        ecosystems=ecosystems,
    )
    return DiffResult(left, right, tuple(rows), failures)


def snapshot_of(
    inventory_path: str | Path | None,
    host_name: str,
    options: CheckOptions = CheckOptions(),
    *,
    transport_factory: TransportFactory | None = None,
) -> HostSnapshot:
    """Collect one inventory host by name (``env/name`` when the name is in several envs)."""
    inventory = read_inventory(inventory_path, options)
    env_name, _, name = host_name.rpartition("/")
    hosts = [h for h in inventory.hosts if h.name == name and (not env_name or h.env == env_name)]
    if not hosts:
        known = ", ".join(sorted({h.name for h in inventory.hosts})) or "none"
        raise UsageError(f"no host {host_name!r} in the inventory (hosts: {known})")
    if len(hosts) > 1:
        where = ", ".join(f"{h.env}/{h.name}" for h in hosts)
        raise UsageError(f"host {host_name!r} is in several environments: use one of {where}")
    (result,) = collect(hosts, options, transport_factory=transport_factory)
    if isinstance(result, HostFailure):
        raise HostCollectError(f"{result.host.name}: {result.kind.value}: {result.reason}")
    return result


def diff_exit_code(result: DiffResult) -> int:
    if result.failures:
        return EXIT_HOSTS
    return EXIT_DRIFT if result.rows else EXIT_OK


@dataclass(frozen=True)
class OutdatedResult:
    """``pinmgr outdated``: pins the hosts' sources offer newer versions of."""

    rows: tuple[installable.OutdatedRow, ...]
    failures: tuple[HostFailure, ...]
    hosts_checked: int


def outdated(
    lockfile_path: str | Path,
    inventory_path: str | Path | None,
    options: CheckOptions = CheckOptions(),
    *,
    transport_factory: TransportFactory | None = None,
    on_done: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
) -> OutdatedResult:
    """Ask every selected host's sources (read-only) and list pins with newer versions."""
    lock = read_lockfile(lockfile_path)
    hosts = select(read_inventory(inventory_path, options), options.envs, options.roles).hosts
    if on_start is not None:
        on_start(len(hosts))
    results = collect(
        hosts,
        options,
        transport_factory=transport_factory,
        on_done=on_done,
        available=available_query(lock),
    )
    snaps = [r for r in results if isinstance(r, HostSnapshot)]
    failures = tuple(r for r in results if isinstance(r, HostFailure))
    return OutdatedResult(tuple(installable.outdated(lock, snaps)), failures, len(snaps))
