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
from typing import TYPE_CHECKING

from pinmgr.collectors.base import Transport
from pinmgr.collectors.pool import DEFAULT_JOBS
from pinmgr.diff import consistency, installable, security, waivers
from pinmgr.diff import report as report_mod
from pinmgr.diff.apps import app_findings
from pinmgr.diff.check import CollectResult, OkCount
from pinmgr.diff.check import check as check_findings
from pinmgr.diff.envdiff import DiffRow, envdiff, family_notes
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
from pinmgr.inventory import LoadedInventory, load_with_problems, select
from pinmgr.inventory.result import problems_error
from pinmgr.lockfile.load import load as load_lockfile
from pinmgr.model import (
    CheckReport,
    Ecosystem,
    Environment,
    FailureKind,
    Finding,
    FindingKind,
    Host,
    HostFailure,
    HostSnapshot,
    HostWarning,
    InstalledPackage,
    Inventory,
    Lockfile,
    SavedResult,
    SourceProblem,
    TransportKind,
    TrendPoint,
)

if TYPE_CHECKING:
    from pinmgr.snapshot import Snapshot

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
    # Also ask whether a security source offers a fix newer than a pin: security-update.
    security: bool = False
    # Reach every SSH host with this transport (ssh: paramiko, openssh: the ssh binary),
    # whatever the inventory says; None keeps each host's own. Local hosts stay local.
    transport: TransportKind | None = None
    # A host an inventory source cannot place is passed here; with ``strict`` it is then an
    # error, else it is left out and the others are checked (the CLI warns, and passes
    # strict=False unless --strict). Strict by default so a library caller never loses a
    # host without being told.
    on_inventory_problem: Callable[[SourceProblem], None] | None = None
    strict: bool = True
    # A host loaded with a caveat (ssh_config's StrictHostKeyChecking no, never obeyed) is
    # passed here; it stays a warning with ``strict`` (nothing was left out).
    on_inventory_warning: Callable[[HostWarning], None] | None = None
    # Container images to check instead of the inventory (``check --image``): one host each,
    # in environment "image", with ``roles`` as their roles.
    images: tuple[str, ...] = ()
    # False: ``ok`` findings are counted in the summary but not built or listed (--no-ok).
    list_ok: bool = True

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


def read_inventory_with_problems(
    path: str | Path | None, options: CheckOptions = CheckOptions(), *, connect: bool = True
) -> LoadedInventory:
    """The inventory and the hosts its sources left out (each with why); never strict.

    ``connect=False``: for saved data, hosts only named (see ``load_with_problems``)."""
    if options.images:
        return LoadedInventory(images_inventory(options.images, options.roles), (), ())
    p = Path(path) if path is not None else None
    if p is not None and not p.exists() and p != DEFAULT_INVENTORY:
        raise UsageError(f"{p}: no such inventory file")
    return load_with_problems(
        p if p is not None and p.exists() else None,
        default_roles=options.default_roles,
        ssh_config=options.ssh_config,
        connect=connect,
    )


def _left_out_error(problems: Sequence[SourceProblem]) -> InventoryError:
    """``--strict``: every host left out as one error (each in ``.problems``)."""
    n = len(problems)
    return InventoryError(
        f"{n} inventory host{'s' if n != 1 else ''} left out (an error with --strict)",
        None,
        problems_error(problems).problems,
    )


def _tell(loaded: LoadedInventory, options: CheckOptions) -> None:
    """Pass each host left out, and each caveat, to the option callbacks (the CLI's stderr)."""
    if options.on_inventory_problem is not None:
        for problem in loaded.problems:
            options.on_inventory_problem(problem)
    if options.on_inventory_warning is not None:
        for warning in loaded.warnings:
            options.on_inventory_warning(warning)


def images_inventory(paths: Sequence[str], roles: Sequence[str]) -> Inventory:
    """``check --image``: each image a host of environment "image" named after its file."""
    hosts: list[Host] = []
    taken: set[str] = set()
    for path in paths:
        name = Path(path).name.split(".", 1)[0] or "image"
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}-{n}", n + 1
        taken.add(unique)
        hosts.append(
            Host(unique, "image", tuple(roles), transport=TransportKind.IMAGE, path=str(path))
        )
    return Inventory((Environment("image", tuple(hosts)),))


def read_inventory(
    path: str | Path | None, options: CheckOptions = CheckOptions(), *, connect: bool = True
) -> Inventory:
    """The inventory; each host left out goes to ``options.on_inventory_problem``, each
    caveat (``StrictHostKeyChecking no`` ignored) to ``options.on_inventory_warning``.

    With ``options.strict`` any host left out raises ``InventoryError`` (every one in
    ``.problems``) after all were passed on, so the caller has shown each of them. Caveats
    never raise: the host is there and is checked safely.
    """
    loaded = read_inventory_with_problems(path, options, connect=connect)
    _tell(loaded, options)
    if options.strict and loaded.problems:
        raise _left_out_error(loaded.problems)
    return loaded.inventory


def inventory(
    inventory_path: str | Path | None, options: CheckOptions = CheckOptions()
) -> LoadedInventory:
    """The inventory as ``check`` will use it (sources merged, ssh_config resolved, ``envs``
    and ``roles`` selected), with the hosts left out and the caveats, without connecting to
    anything: ``pinmgr inventory``. Both lists are also passed to the option callbacks, as
    ``read_inventory`` does; with ``options.strict`` a host left out raises."""
    loaded = read_inventory_with_problems(inventory_path, options)
    _tell(loaded, options)
    if options.strict and loaded.problems:
        raise _left_out_error(loaded.problems)
    return replace(loaded, inventory=select(loaded.inventory, options.envs, options.roles))


def validate(
    lockfile_path: str | Path,
    inventory_path: str | Path | None,
    options: CheckOptions = CheckOptions(),
) -> list[PinmgrError]:
    """Every problem in the lockfile and inventory, not just the first.

    Hosts an inventory source left out go to ``options.on_inventory_problem`` (warnings),
    or, with ``options.strict``, are problems too; caveats go to ``on_inventory_warning``.
    """
    problems: list[PinmgrError] = []
    lock: Lockfile | None = None
    try:
        lock = read_lockfile(lockfile_path)
    except LockfileError as exc:
        problems.extend(exc.problems)
    try:
        loaded = read_inventory_with_problems(inventory_path, options)
    except ProblemsError as exc:
        problems.extend(exc.problems)
    except PinmgrError as exc:
        problems.append(exc)
    else:
        if options.strict and loaded.problems:
            problems.extend(problems_error(loaded.problems).problems)
            loaded = replace(loaded, problems=())
        _tell(loaded, options)
        if lock is not None:
            problems.extend(_unknown_roles(lock, loaded.inventory))
    if inventory_path is not None:
        from pinmgr import settings

        problems.extend(settings.problems(inventory_path))
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
    collected: list[CollectResult] | None = None,
) -> CheckReport:
    """Collect every selected host and compare it with the lockfile.

    ``collected``, when given, receives every host's result (for the history store)."""
    lock = read_lockfile(lockfile_path)
    inventory = select(
        read_inventory(inventory_path, options),
        options.envs,
        options.roles,
        lockfile_roles=lock.roles,
    )
    unknown = _unknown_roles(lock, inventory)
    if unknown:
        raise unknown[0]
    hosts = with_apps(inventory.hosts, lock)
    if on_start is not None:
        on_start(len(hosts))
    results = collect(
        hosts,
        options,
        transport_factory=transport_factory,
        on_done=on_done,
        cancel=cancel,
        available=available_query(lock) if options.installable or options.security else None,
    )
    if collected is not None:
        collected.extend(results)
    return report_for(lock, results, options, environments=[e.name for e in inventory.environments])


def with_apps(hosts: Sequence[Host], lock: Lockfile) -> tuple[Host, ...]:
    """Each host with the applications its roles deploy, for the probe to read."""
    if not lock.apps:
        return tuple(hosts)
    return tuple(replace(h, apps=lock.apps_for(h.roles)) for h in hosts)


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
    remote = any(h.transport in (TransportKind.SSH, TransportKind.OPENSSH) for h in hosts)
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
        if host.transport is TransportKind.LOCAL or host.transport.is_offline:
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
    ok_count = None if options.list_ok else OkCount()
    findings = check_findings(lock, results, unpinned=options.unpinned, ok_count=ok_count)
    snaps = [r for r in results if isinstance(r, HostSnapshot)]
    if options.installable:
        findings += installable.not_installable(lock, snaps)
    if lock.apps:  # revisions are judged by diff.apps alone, never as unpinned packages
        findings = [f for f in findings if f.ecosystem is not Ecosystem.APP]
    findings += app_findings(lock, snaps)
    if options.security:
        findings += security.security_updates(lock, snaps)
    if options.consistency:
        findings += [
            f for f in consistency.inconsistencies(snaps, lock) if f.ecosystem is not Ecosystem.APP
        ]
        findings += consistency.mixed_os(snaps)
    today = options.today_or_now()
    findings = waivers.apply(findings, lock.waivers, today)
    return report_mod.build(
        findings,
        hosts_total=len(results),
        hosts_collected=len(snaps),
        lockfile=lock.path,
        environments=environments,
        warnings=report_mod.host_warnings(results),
        ok_unlisted=ok_count.n if ok_count else 0,
    )


@dataclass(frozen=True)
class DiffResult:
    """``pinmgr diff``: rows that differ, and hosts that could not be collected."""

    left: str
    right: str
    rows: tuple[DiffRow, ...]
    failures: tuple[HostFailure, ...]
    notes: tuple[str, ...] = ()
    """What was not compared and why (deb hosts on one side, rpm hosts on the other)."""


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
    return _diff_result(left, right, left_hosts, right_hosts, results, only, ecosystems)


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
        raise HostCollectError(
            f"{result.host.name} ({result.host.env}) could not be collected: "
            f"{result.kind.value}: {result.reason}"
        )
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
    rows = security.annotate(installable.outdated(lock, snaps), lock, snaps)
    return OutdatedResult(tuple(rows), failures, len(snaps))


# ---------------------------------------------------------------------------------------------
# Fleet scale: snapshots (``pinmgr collect``) and checking saved data (``check --snapshot``).

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def collect_snapshot(
    inventory_path: str | Path | None,
    options: CheckOptions = CheckOptions(),
    *,
    shard: tuple[int, int] | None = None,
    clock: Clock = utc_now,
    transport_factory: TransportFactory | None = None,
    on_done: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Snapshot:
    """Collect the selected hosts (one shard of them) into a snapshot value, failures included."""
    from pinmgr import __version__
    from pinmgr.inventory.shard import select_shard
    from pinmgr.snapshot import Snapshot

    hosts = select(read_inventory(inventory_path, options), options.envs, options.roles).hosts
    if shard is not None:
        hosts = select_shard(hosts, *shard)
    if on_start is not None:
        on_start(len(hosts))
    started = clock()
    when: dict[tuple[str, str], dt.datetime] = {}

    def done(host: Host, result: CollectResult) -> None:
        when[(host.env, host.name)] = clock()
        if on_done is not None:
            on_done(host, result)

    results = collect(
        hosts, options, transport_factory=transport_factory, on_done=done, cancel=cancel
    )
    finished = clock()
    saved = tuple(
        SavedResult(r, when.get((r.host.env, r.host.name), finished), "") for r in results
    )
    return Snapshot(
        results=saved,
        started_at=started,
        finished_at=finished,
        pinmgr_version=__version__,
        envs=options.envs,
        roles=options.roles,
        shard=f"{shard[0]}/{shard[1]}" if shard else "",
    )


def snapshot_exit_code(snapshot: Snapshot) -> int:
    """``collect`` exits as ``check`` would for collection alone: 3 when a host failed."""
    failed = any(isinstance(s.result, HostFailure) for s in snapshot.results)
    return EXIT_HOSTS if failed else EXIT_OK


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    """Each PATH, or the sorted matches of a quoted glob (``'shard-*.json.gz'``) in CI."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.exists():
            out.append(path)
            continue
        matches: list[Path] = []
        if any(c in str(raw) for c in "*?["):
            base = Path(path.anchor) if path.is_absolute() else Path()
            matches = sorted(base.glob(str(path.relative_to(base))))
        if not matches:
            raise UsageError(f"{path}: no such snapshot file or fact cache directory")
        out.extend(matches)
    return out


def load_saved(
    paths: Sequence[str | Path], pip_paths: Mapping[str, Sequence[str]] | None = None
) -> tuple[list[SavedResult], list[HostWarning]]:
    """Read every ``--snapshot`` PATH (kind sniffed from content) and merge them per host.

    ``pip_paths``: the inventory's pip paths per host name, which osquery's
    ``python_packages`` rows are matched to (the other kinds name them themselves).
    """
    from pinmgr import snapshot as snapshot_mod
    from pinmgr.collectors.ingest import ansible_facts, osquery

    results: list[SavedResult] = []
    fact_paths: list[Path] = []
    osquery_paths: list[Path] = []
    parsed: dict[Path, object] = {}
    interned: dict[tuple[object, ...], InstalledPackage] = {}  # one value per package, all files
    for path in _expand(paths):
        if path.is_dir():
            # A directory of snapshot shards, Ansible fact files or osquery results: its first
            # file says.
            files = ansible_facts.files_of(path)
            if osquery.is_results_log(files[0]):
                osquery_paths.append(path)
                continue
            first = snapshot_mod.load_document(files[0])
            if osquery.looks_like_rows(first):
                osquery_paths.append(path)
                continue
            if not snapshot_mod.is_snapshot(first):
                fact_paths.append(path)
                continue
            for file in files:
                document = first if file == files[0] else snapshot_mod.load_document(file)
                if not snapshot_mod.is_snapshot(document):
                    raise UsageError(f"{file}: not a pinmgr snapshot, in a directory of them")
                results.extend(snapshot_mod.from_document(document, str(file), interned).results)
            continue
        if osquery.is_results_log(path):
            osquery_paths.append(path)
            continue
        document = snapshot_mod.load_document(path)
        if snapshot_mod.is_snapshot(document):
            results.extend(snapshot_mod.from_document(document, str(path), interned).results)
        elif osquery.looks_like_rows(document):
            osquery_paths.append(path)
            parsed[path] = document
        elif ansible_facts.looks_like_facts(document):
            fact_paths.append(path)
            parsed[path] = document
        else:
            raise UsageError(
                f"{path}: neither a pinmgr snapshot nor Ansible facts nor osquery results "
                "(see docs/snapshot.md)"
            )
    if fact_paths:
        results.extend(ansible_facts.read(fact_paths, parsed))
    if osquery_paths:
        results.extend(osquery.read(osquery_paths, parsed, pip_paths))
    return snapshot_mod.merge(results)


def _pip_paths(inventory: Inventory) -> dict[str, tuple[str, ...]]:
    return {h.name: h.pip for h in inventory.hosts if h.pip}


def _read_inventory_for_saved(
    inventory_path: str | Path | None, options: CheckOptions
) -> Inventory:
    """The inventory, or none at all: with saved data the default 'local' host means nothing.
    Hosts are matched to the data by name, and none is contacted: the OpenSSH config is not
    read (a host its config cannot resolve is still that host; ~1 s at 10,000 hosts)."""
    p = Path(inventory_path) if inventory_path is not None else None
    if p is None or (p == DEFAULT_INVENTORY and not p.exists()):
        return Inventory(())
    return read_inventory(p, options, connect=False)


@dataclass(frozen=True)
class SavedCheck:
    """Saved data matched with the inventory: what to check and what to report besides."""

    results: tuple[CollectResult, ...]
    environments: tuple[str, ...]
    findings: tuple[Finding, ...]
    warnings: tuple[HostWarning, ...]


def bind_saved(
    inventory: Inventory,
    saved: Sequence[SavedResult],
    options: CheckOptions,
    *,
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> SavedCheck:
    """Give saved hosts their inventory env and roles; flag hosts on one side only, and age."""
    from pinmgr.snapshot import utc_text

    by_name: dict[str, list[SavedResult]] = {}
    for s in saved:
        by_name.setdefault(s.result.host.name, []).append(s)
    known = {h.name for h in inventory.hosts}
    warnings: list[HostWarning] = []
    findings: list[Finding] = []
    extra: dict[str, list[Host]] = {}
    for s in saved:
        host = s.result.host
        if host.name in known:
            continue
        if host.env and host.roles:
            extra.setdefault(host.env, []).append(host)
        else:
            findings.append(
                Finding(
                    kind=FindingKind.NOT_IN_INVENTORY,
                    host=host.name,
                    env=host.env,
                    role=",".join(host.roles),
                    reason=f"in {s.source} but not in the inventory: no environment or role "
                    "to check it against",
                )
            )
    envs = {e.name: list(e.hosts) for e in inventory.environments}
    for env_name, hosts in extra.items():
        envs.setdefault(env_name, []).extend(hosts)
    extended = Inventory(tuple(Environment(n, tuple(h)) for n, h in envs.items()))
    selected = select(extended, options.envs, options.roles)
    # With no inventory at all the snapshots are the inventory: nothing to warn about.
    from_data = {(h.env, h.name): s for s in saved if (h := s.result.host).name not in known}
    now = now or utc_now()
    results: list[CollectResult] = []
    for host in selected.hosts:
        if known and (host.env, host.name) in from_data:
            source = from_data[(host.env, host.name)].source
            message = f"not in the inventory: environment and roles from {source}"
            warnings.append(HostWarning(host.name, host.env, message))
        candidates = by_name.get(host.name, [])
        same_env = [c for c in candidates if c.result.host.env == host.env]
        pool = same_env or candidates
        if not pool:
            reason = "no data for this host in the saved snapshots or facts"
            results.append(HostFailure(host, FailureKind.NO_DATA, reason))
            continue
        found = pool[0]
        if max_age is not None and now - found.collected_at > max_age:
            age = now - found.collected_at
            results.append(
                HostFailure(
                    host,
                    FailureKind.STALE,
                    f"data in {found.source} was collected {utc_text(found.collected_at)}, "
                    f"{_hours(age)} ago (over --max-age {_hours(max_age)})",
                )
            )
            continue
        data_host = found.result.host
        bound = replace(host, pip=data_host.pip)
        if host.pip and set(host.pip) - set(data_host.pip):
            warnings.append(
                HostWarning(
                    host.name,
                    host.env,
                    f"{found.source} has no pip packages of {', '.join(host.pip)}: pip pins "
                    "of this host not checked",
                )
            )
        results.append(replace(found.result, host=bound))
    return SavedCheck(
        tuple(results),
        tuple(e.name for e in selected.environments),
        tuple(findings),
        tuple(warnings),
    )


def _hours(delta: dt.timedelta) -> str:
    """A readable age: minutes under an hour, hours under three days, then days."""
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    value, unit = (seconds / 3600, "h") if seconds < 72 * 3600 else (seconds / 86400, "d")
    return f"{value:.1f}".removesuffix(".0") + unit


def check_saved(
    lockfile_path: str | Path,
    inventory_path: str | Path | None,
    paths: Sequence[str | Path],
    options: CheckOptions = CheckOptions(),
    *,
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    collected: list[CollectResult] | None = None,
) -> CheckReport:
    """``check`` on saved data (snapshots, Ansible facts): no host is contacted."""
    if options.installable:
        raise UsageError("--installable needs the hosts themselves: not with --snapshot")
    if options.security:
        raise UsageError("--security needs the hosts themselves: not with --snapshot")
    lock = read_lockfile(lockfile_path)
    inventory = _read_inventory_for_saved(inventory_path, options)
    saved, merge_warnings = load_saved(paths, _pip_paths(inventory))
    bound = bind_saved(inventory, saved, options, max_age=max_age, now=now)
    checked = Inventory((Environment("", tuple(r.host for r in bound.results)),))
    unknown = _unknown_roles(lock, checked)
    if unknown:
        raise unknown[0]
    report = report_for(lock, bound.results, options, environments=bound.environments)
    if collected is not None:
        collected.extend(bound.results)
    if bound.findings:
        listed_ok = sum(1 for f in report.findings if f.kind is FindingKind.OK)
        report = replace(
            report_mod.build(
                (*report.findings, *bound.findings),
                hosts_total=report.summary.hosts_total + len(bound.findings),
                hosts_collected=report.summary.hosts_collected,
                lockfile=report.lockfile,
                environments=report.environments,
                ok_unlisted=report.summary.count(FindingKind.OK) - listed_ok,
            ),
            warnings=report.warnings,
        )
    return replace(report, warnings=(*report.warnings, *merge_warnings, *bound.warnings))


def diff_saved(
    inventory_path: str | Path | None,
    left: str,
    right: str,
    paths: Sequence[str | Path],
    options: CheckOptions = CheckOptions(),
    *,
    only: Sequence[str] = (),
    ecosystems: Sequence[Ecosystem] = (),
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> DiffResult:
    """``diff`` on saved data: both sides from snapshots or facts, no host contacted.

    Sides are environments or host names as for a live diff, with hosts bound to the
    inventory as ``check --snapshot`` binds them; a side host without data is a failure.
    """
    inventory = _read_inventory_for_saved(inventory_path, options)
    saved, _ = load_saved(paths, _pip_paths(inventory))
    bound = bind_saved(
        inventory, saved, replace(options, envs=(), roles=()), max_age=max_age, now=now
    )
    envs: dict[str, list[Host]] = {}
    for r in bound.results:
        envs.setdefault(r.host.env, []).append(r.host)
    known = Inventory(tuple(Environment(n, tuple(h)) for n, h in envs.items()))
    left_hosts = _side(known, left, options.roles)
    right_hosts = _side(known, right, options.roles)
    wanted = {(h.env, h.name) for h in (*left_hosts, *right_hosts)}
    results = [r for r in bound.results if (r.host.env, r.host.name) in wanted]
    return _diff_result(left, right, left_hosts, right_hosts, results, only, ecosystems)


def _diff_result(
    left: str,
    right: str,
    left_hosts: Sequence[Host],
    right_hosts: Sequence[Host],
    results: Sequence[CollectResult],
    only: Sequence[str],
    ecosystems: Sequence[Ecosystem],
) -> DiffResult:
    """The rows of a diff from what was collected (live) or read back (saved data) alike."""
    snaps = {(r.host.env, r.host.name): r for r in results if isinstance(r, HostSnapshot)}
    failures = tuple(r for r in results if isinstance(r, HostFailure))
    by_host = left_hosts == right_hosts or (len(left_hosts) == 1 and len(right_hosts) == 1)
    left_snaps = [snaps[(h.env, h.name)] for h in left_hosts if (h.env, h.name) in snaps]
    right_snaps = [snaps[(h.env, h.name)] for h in right_hosts if (h.env, h.name) in snaps]
    rows = envdiff(left_snaps, right_snaps, by_role=not by_host, only=only, ecosystems=ecosystems)
    notes = family_notes(
        left_snaps, right_snaps, left_name=left, right_name=right, by_role=not by_host
    )
    return DiffResult(left, right, tuple(rows), failures, tuple(notes))


# ---------------------------------------------------------------------------------------------
# History: every check and collect recorded (``pinmgr history``, ``check --fail-on new``).


@dataclass(frozen=True)
class HistoryOptions:
    """Where runs are recorded: ``url`` None is ``.pinmgr/history.sqlite`` beside the lockfile."""

    url: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Recording:
    """What recording a run gave: the report with its new/known marks, or why it was not."""

    report: CheckReport | None
    run_id: int | None = None
    # The store could not be opened or written (read-only directory, server down): one line.
    warning: str | None = None


def record_run(
    command: str,
    lockfile_path: str | Path,
    options: CheckOptions,
    results: Sequence[CollectResult],
    report: CheckReport | None,
    history: HistoryOptions,
    *,
    clock: Clock = utc_now,
) -> Recording:
    """Record one run; a check's report comes back marked (``known_since``) against the
    previous run of the same scope. A store that cannot be written is a warning, never a
    failed check; a store from a newer pinmgr is an error (``HistoryError``, exit 2)."""
    from pinmgr.history import open_store
    from pinmgr.history.interface import RunRecord, Scope, StoreUnavailable

    if not history.enabled:
        return Recording(report)
    scope = Scope.of(Path(lockfile_path).as_posix(), options.envs, options.roles)
    record = RunRecord(command, scope, clock(), results, report)
    try:
        store = open_store(history.url, lockfile_path)
        try:
            done = store.record(record)
        finally:
            store.close()
    except StoreUnavailable as exc:
        return Recording(report, warning=f"history not recorded: {exc}")
    marked = replace(report, known_since=done.known_since) if report is not None else None
    return Recording(marked, done.run_id)


def history_view(
    lockfile_path: str | Path,
    options: CheckOptions,
    history: HistoryOptions,
    *,
    trend_runs: int = 30,
) -> tuple[CheckReport | None, list[TrendPoint]]:
    """What the store holds for ``pinmgr report``: the last recorded check of this scope (as a
    report: its non-ok findings and the run's counts) and the trend of the last ``trend_runs``
    checks. Reads only: a store that does not exist yet is never created (None, [])."""
    from pinmgr.history import default_path, open_store
    from pinmgr.history.interface import Scope

    if not history.enabled or (history.url is None and not default_path(lockfile_path).exists()):
        return None, []
    scope = Scope.of(Path(lockfile_path).as_posix(), options.envs, options.roles)
    store = open_store(history.url, lockfile_path, read_only=True)
    try:
        trend = store.trend(options.envs, trend_runs)
        findings = store.last_findings(scope)
        run = next(
            (r for r in store.runs(limit=1000) if r.command == "check" and r.scope == scope), None
        )
    finally:
        store.close()
    if findings is None or run is None:
        return None, trend
    report = report_mod.build(
        findings,
        hosts_total=run.hosts_total,
        hosts_collected=run.hosts_collected,
        lockfile=str(lockfile_path),
        environments=options.envs,
    )
    # The counts of the run itself: ok findings are counted there, not stored one by one.
    return replace(report, summary=replace(report.summary, counts=run.counts)), trend
