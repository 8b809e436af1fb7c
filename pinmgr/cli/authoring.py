"""Commands that edit the lockfile: pin, unpin, lock, accept, fmt.

Every edit shows its diff first and asks (``--yes`` skips the question, ``--dry-run`` only
shows it); writes are atomic and refused when the file changed since it was read.
"""

from __future__ import annotations

import gc
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from pinmgr.cli.app import (
    DEFAULT_INVENTORY,
    DEFAULT_JOBS,
    DEFAULT_LOCKFILE,
    AcceptNewOpt,
    ConnectTimeoutOpt,
    EnvOpt,
    InventoryOpt,
    JobsOpt,
    KnownHostsOpt,
    LockfileOpt,
    MaxAgeOpt,
    QuietOpt,
    RoleOpt,
    SnapshotOpt,
    SshConfigOpt,
    StrictOpt,
    TimeoutOpt,
    _collect_options,
    app,
    check_report,
)
from pinmgr.errors import EXIT_DRIFT, HostCollectError, UsageError
from pinmgr.model import SHARED_ROLE, Ecosystem

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Write without asking.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the change; write nothing.")]


class PackageEcosystem(str, Enum):
    """The ecosystems ``pin``/``unpin`` write (applications have their own ``apps`` tables)."""

    DEB = "deb"
    RPM = "rpm"
    PIP = "pip"


EcosystemOpt = Annotated[
    PackageEcosystem, typer.Option("--ecosystem", "-E", help="Ecosystem of the packages.")
]
OsOpt = Annotated[
    str,
    typer.Option(
        "--os",
        metavar="RELEASE",
        help="OS release key, ID-VERSION_ID from /etc/os-release (debian-12, ubuntu-24.04).",
    ),
]
SharedOpt = Annotated[
    bool, typer.Option("--shared", help="Edit the pins shared by every role instead.")
]


def _role(role: str | None, shared: bool) -> str:
    if shared and role:
        raise UsageError("give either --role or --shared, not both")
    if shared:
        return SHARED_ROLE
    if not role:
        raise UsageError("which role? give --role ROLE (or --shared)")
    return role


def _finish(change: object, *, yes: bool, dry_run: bool) -> None:
    """Show the diff, ask, write. The one place edits reach the disk."""
    from pinmgr.authoring import Edit, apply

    assert isinstance(change, Edit)
    for note in change.notes:
        sys.stderr.write(f"pinmgr: note: {note}\n")
    if not change.changed:
        sys.stdout.write(f"{change.path}: already up to date\n")
        return
    sys.stdout.write(change.diff())
    if dry_run:
        sys.stdout.write("(dry run: nothing written)\n")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "not writing without confirmation: stdin is not a terminal (use --yes)"
            )
        if not typer.confirm(f"Write {change.path}?", default=False):
            sys.stdout.write("nothing written\n")
            return
    apply(change)
    sys.stdout.write(f"{change.path}: written\n")


def _split_pin(spec: str) -> tuple[str, str]:
    name, sep, version = spec.partition("=")
    if not sep or not name or not version:
        raise UsageError(f"{spec!r}: expected PACKAGE=VERSION (e.g. nginx=1.22.1-9)")
    return name.strip(), version.strip()


def _known_role_or_confirmed(lockfile: Path, role: str, *, new_role: bool) -> bool:
    """Whether to go on pinning for ``role``: known, ``--new-role``, or confirmed on a terminal.

    A typo in ``--role`` would otherwise create a role no host has, silently. Without a
    terminal to ask, an unknown role needs ``--new-role`` (a usage error, exit 2).
    """
    import difflib

    from pinmgr import api

    if role == SHARED_ROLE or new_role or not lockfile.exists():
        return True  # a missing lockfile is worded by plan_pin
    roles = list(api.read_lockfile(lockfile).roles)
    if role in roles:
        return True
    close = difflib.get_close_matches(role, roles, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    problem = f"role {role!r} is not in {lockfile} ({hint}roles: {', '.join(roles) or 'none'})"
    if not sys.stdin.isatty():
        raise UsageError(f"{problem}; to create it, add --new-role")
    if typer.confirm(f"{problem}. Create role {role!r}?", default=False):
        return True
    sys.stdout.write("nothing written\n")
    return False


@app.command()
def pin(
    specs: Annotated[list[str], typer.Argument(metavar="PACKAGE=VERSION...", help="Pins to set.")],
    os_release: OsOpt,
    role: Annotated[str | None, typer.Option("--role", "-r", metavar="ROLE")] = None,
    shared: SharedOpt = False,
    new_role: Annotated[
        bool,
        typer.Option(
            "--new-role",
            help="The role is new: create it without asking (otherwise a role the lockfile "
            "does not have is asked about, or refused without a terminal).",
        ),
    ] = False,
    ecosystem: EcosystemOpt = PackageEcosystem.DEB,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Pin packages to versions for a role and OS release (validated by the ecosystem's rules).

    The version may be exact, a glob ("1.18.0-6ubuntu14.*") or a range (">=1.24, <1.26").
    New pins go in sorted position; comments and layout of the file are kept.

    \b
      pinmgr pin nginx=1.22.1-9 --role app --os debian-12
      pinmgr pin 'requests=>=2.31, <3' --role app --os debian-12 -E pip --yes
      pinmgr pin nginx=1.22.1-9 --role edge --new-role --os debian-12
    """
    from pinmgr import authoring

    target = _role(role, shared)
    pins = [_split_pin(s) for s in specs]
    if not _known_role_or_confirmed(Path(lockfile), target, new_role=new_role):
        return
    change = authoring.plan_pin(lockfile, target, os_release, Ecosystem(ecosystem.value), pins)
    _finish(change, yes=yes, dry_run=dry_run)


@app.command()
def unpin(
    packages: Annotated[list[str], typer.Argument(metavar="PACKAGE...", help="Pins to remove.")],
    os_release: OsOpt,
    role: Annotated[str | None, typer.Option("--role", "-r", metavar="ROLE")] = None,
    shared: SharedOpt = False,
    ecosystem: EcosystemOpt = PackageEcosystem.DEB,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Remove pins. The release table stays, so the release is still declared for the role."""
    from pinmgr import authoring

    change = authoring.plan_unpin(
        lockfile, _role(role, shared), os_release, Ecosystem(ecosystem.value), packages
    )
    _finish(change, yes=yes, dry_run=dry_run)


@app.command()
def lock(
    from_host: Annotated[
        str,
        typer.Option("--from", metavar="HOST", help="Inventory host to read versions from."),
    ],
    role: Annotated[
        str | None,
        typer.Option("--role", "-r", metavar="ROLE", help="Role to pin for (default: the host's)."),
    ] = None,
    packages: Annotated[
        str | None,
        typer.Option("--packages", metavar="LIST", help="Comma-separated packages to pin."),
    ] = None,
    all_packages: Annotated[
        bool, typer.Option("--all", help="Pin every installed package.")
    ] = False,
    key_packages: Annotated[
        bool,
        typer.Option(
            "--key-packages",
            help="Pin the packages the lockfile already pins for the role (the default).",
        ),
    ] = False,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Capture a host's installed versions into the lockfile, for its OS release.

    Creates the role and release tables if needed.

    \b
      pinmgr lock --from web1 --role app --packages nginx,openssl
      pinmgr lock --from localhost --key-packages --dry-run
    """
    from pinmgr import api, authoring

    chosen = [flag for flag in (packages is not None, all_packages, key_packages) if flag]
    if len(chosen) > 1:
        raise UsageError("give only one of --packages, --all, --key-packages")
    if packages is not None:
        selection = authoring.Selection.LISTED
        names = [p.strip() for p in packages.split(",") if p.strip()]
        if not names:
            raise UsageError("--packages needs at least one package name")
    else:
        selection = authoring.Selection.ALL if all_packages else authoring.Selection.KEY
        names = []
    options = _collect_options(
        env=None,
        role=None,
        jobs=1,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        strict=strict,
    )
    try:
        snapshot = api.snapshot_of(inventory, from_host, options)
    except HostCollectError as exc:
        raise HostCollectError(f"not locking: {exc.message}; the lockfile is unchanged") from exc
    host_role = role or snapshot.host.role
    if not role and len(snapshot.host.roles) > 1:
        raise UsageError(
            f"{from_host} has roles {', '.join(snapshot.host.roles)}: choose one with --role"
        )
    change = authoring.plan_lock(lockfile, snapshot, host_role, selection, names)
    _finish(change, yes=yes, dry_run=dry_run)


@app.command()
def accept(
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    package: Annotated[
        list[str] | None,
        typer.Option("--package", "-p", metavar="PACKAGE", help="Only this package (repeatable)."),
    ] = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    snapshot: SnapshotOpt = None,
    max_age: MaxAgeOpt = None,
    security_fixes: Annotated[
        bool,
        typer.Option(
            "--security-fixes",
            help="Instead of drift: move exactly the pins a security source offers a fix "
            "for (check --security's security-update) to the fixing version. Asks the "
            "hosts' sources (read-only); not with --snapshot.",
        ),
    ] = False,
) -> None:
    """Accept drift: write the versions hosts have now into the lockfile (drifting pins only).

    The "yes, this upgrade was intended" flow. Packages on which hosts disagree are left alone
    and named. Refuses (exit 3) when some hosts could not be collected (with --snapshot:
    failed, incomplete, stale or without data).

    With --security-fixes, the pins behind a security fix move to the fixing version the
    hosts' security sources offer (then pinmgr emit brings the Ansible tasks along).

    \b
      pinmgr accept --env production --role app --dry-run
      pinmgr accept --env staging -p nginx --yes
      pinmgr accept --snapshot fleet.json.gz --max-age 24h --dry-run   # saved data, no SSH
      pinmgr accept --security-fixes --env production --dry-run
    """
    from pinmgr import authoring

    options = _collect_options(
        env=env,
        role=role,
        jobs=jobs,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        strict=strict,
        security=security_fixes,
    )
    report = check_report(
        lockfile, inventory, options, snapshot=snapshot, max_age=max_age, quiet=quiet
    )
    if security_fixes:
        change = authoring.plan_security_fixes(lockfile, report, package or ())
    else:
        change = authoring.plan_accept(lockfile, report, package or ())
    _finish(change, yes=yes, dry_run=dry_run)


@app.command()
def fmt(
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and show the diff if the file is not formatted (for CI).",
        ),
    ] = False,
    diff_only: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Write nothing; show the diff fmt would apply (exit 1 if there is one).",
        ),
    ] = False,
) -> None:
    """Normalise the lockfile's layout (sorted pins, spacing), keeping every comment.

    Like ruff format or black, fmt writes without asking: it only moves pins and spaces,
    and refuses any change of meaning (both versions are parsed and compared). Use --diff
    to see the change first, --check in CI to fail on an unformatted lockfile. Every other
    command that edits the lockfile leaves a formatted file formatted.
    """
    from pinmgr.atomic import write_atomic
    from pinmgr.authoring import Edit
    from pinmgr.lockfile.fmt import format_text
    from pinmgr.lockfile.load import decode

    path = Path(lockfile)
    if not path.exists():
        raise UsageError(f"{path}: no such lockfile")
    raw = path.read_bytes()
    # A tomlkit document is several objects per pin, all alive until the end: every full
    # collection rescans them (~10% of the CPU time of a 100,000-pin file, measured).
    gc.disable()
    try:
        change = Edit(path, raw, format_text(decode(raw, str(path)), str(path)))
    finally:
        gc.enable()
    if not change.changed:
        sys.stdout.write(f"{path}: already formatted\n")
        return
    if check_only or diff_only:
        sys.stdout.write(change.diff())
        sys.stderr.write(f"pinmgr: {path} is not formatted (run: pinmgr fmt)\n")
        raise typer.Exit(EXIT_DRIFT)
    write_atomic(path, change.after, raw)
    sys.stdout.write(f"{path}: formatted\n")
