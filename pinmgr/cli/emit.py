"""``pinmgr emit``: files for the configuration-management tool, generated from the lockfile."""

from __future__ import annotations

import hashlib
import sys
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
    not_collected,
    report_failures,
    write_file,
)
from pinmgr.errors import EXIT_DRIFT, EXIT_HOSTS, UsageError
from pinmgr.model import CheckReport

emit_app = typer.Typer(
    help=(
        "Generate, from the lockfile, what a configuration-management tool needs to enforce "
        "it: Ansible vars and a reconcile playbook, Salt states, a Puppet module, a Chef "
        "cookbook, apt preferences or a dnf versionlock list (docs/cm-tools.md)."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(emit_app, name="emit")


def _write_all(files: dict[str, str], out: Path) -> None:
    for rel, text in sorted(files.items()):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(str(target), text)
        sys.stdout.write(f"wrote {target}\n")


@emit_app.command("ansible-vars")
def ansible_vars(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory receiving group_vars/.")
    ],
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the files in DIR are stale or missing."
        ),
    ] = False,
) -> None:
    """Write group_vars/<role>.yml with every role's pinned versions (see docs/ansible.md).

    Each file names the lockfile and its sha256, so CI can catch stale vars with --check.
    Re-emitting an unchanged lockfile changes no byte.
    """
    from pinmgr import api
    from pinmgr.emitters import ansible_vars as emitter

    lock = api.read_lockfile(lockfile)
    digest = hashlib.sha256(Path(lockfile).read_bytes()).hexdigest()
    files = emitter.emit_vars(lock, digest)
    if check_only:
        _report_stale(emitter.check(files, out), files, out, "ansible-vars")
        return
    _write_all(files, out)


@emit_app.command("ansible-playbook")
def ansible_playbook(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FILE", help="Playbook file to write.")
    ],
    drift_only: Annotated[
        bool,
        typer.Option(
            "--drift-only",
            help="Only drifted and missing packages, on the hosts that have them (default: "
            "every exact pin on every collected host, a full converge).",
        ),
    ] = False,
    hold: Annotated[
        bool, typer.Option("--hold", help="Also hold fixed deb packages (dpkg selections).")
    ] = False,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
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
) -> None:
    """Check hosts, then write a playbook installing exactly the pinned versions where they drifted.

    One play per group of hosts needing the same fixes, so a host only gets its own: apt with
    pkg=version and allow_downgrade, dnf with name-version-release, pip with pkg==version in the
    host's virtualenv. Run it with ansible-playbook -i YOUR_INVENTORY FILE (--check --diff first).

    \b
      pinmgr emit ansible-playbook --env staging --drift-only --out fix.yml
      pinmgr emit ansible-playbook --snapshot fleet.json.gz --drift-only --out fix.yml
    """
    from pinmgr import api
    from pinmgr.emitters.ansible_playbook import emit_playbook

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
    )
    report = check_report(
        lockfile, inventory, options, snapshot=snapshot, max_age=max_age, quiet=quiet
    )
    lock = api.read_lockfile(lockfile)
    files = emit_playbook(report, lock, drift_only=drift_only, hold=hold)
    if len(files) != 1:  # pragma: no cover - the emitter's contract
        raise UsageError("the playbook emitter returned several files")
    (text,) = files.values()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_file(str(out), text)
    sys.stdout.write(f"wrote {out}\n")
    _fail_if_not_collected(report, "the playbook")


def _fail_if_not_collected(report: CheckReport, written: str) -> None:
    """What was written serves the hosts that answered, but a partial run must not pass in
    CI: the hosts that were not collected named, exit 3, as check does."""
    failures = report_failures(report)
    if failures:
        sys.stderr.write(f"pinmgr: error: {not_collected(failures)}; not in {written}\n")
        raise typer.Exit(EXIT_HOSTS)


def _hold(hold: bool) -> str:
    return " --hold" if hold else ""


def _report_stale(stale: list[str], files: dict[str, str], out: Path, command: str) -> None:
    """--check: one stderr line per stale/missing/orphaned file; exit 1 if there is any."""
    for rel in stale:
        if rel not in files:
            what = "orphaned (its role is no longer in the lockfile)"
        elif not (out / rel).is_file():
            what = "missing"
        else:
            what = "stale"
        sys.stderr.write(f"pinmgr: {what}: {out / rel}\n")
    if stale:
        sys.stderr.write(f"run: pinmgr emit {command} --out {out}\n")
        raise typer.Exit(EXIT_DRIFT)
    sys.stdout.write(f"{out}: up to date\n")


@emit_app.command("salt-state")
def salt_state(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Salt file_roots directory to write into."),
    ],
    drift_only: Annotated[
        bool,
        typer.Option(
            "--drift-only",
            help="Check hosts, then write pinmgr_fix/ with only their drifted and missing "
            "packages (default: the lockfile's states for every role and release, no hosts).",
        ),
    ] = False,
    hold: Annotated[
        bool, typer.Option("--hold", help="Also hold the pinned packages (pkg.installed hold).")
    ] = False,
    pip_bin_env: Annotated[
        str | None,
        typer.Option(
            "--pip-bin-env",
            metavar="PATH",
            help="Virtualenv or interpreter that the lockfile's pip pins go into (without "
            "--drift-only; without it pip pins are listed as not enforced).",
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 if the states in DIR are stale, missing or orphaned.",
        ),
    ] = False,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
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
) -> None:
    """Write Salt states pinning exact versions (see docs/cm-tools.md, Salt).

    Without --drift-only, from the lockfile alone: top.sls (grain pinmgr_role), and per role
    pinmgr/<role>/init.sls choosing pinmgr/<role>/<release>.sls by the os/osrelease grains.
    With --drift-only, hosts are checked (inventory options as for check) and
    pinmgr_fix/<host>.sls fixes each drifted host; apply with state.apply pinmgr_fix.

    \b
      pinmgr emit salt-state --out /srv/salt --hold
      pinmgr emit salt-state --env prod --drift-only --out /srv/salt
    """
    from pinmgr import api
    from pinmgr.emitters import salt_state as emitter

    if not drift_only:
        lock = api.read_lockfile(lockfile)
        files = emitter.emit_states(lock, hold=hold, pip_bin_env=pip_bin_env)
        if check_only:
            _report_stale(emitter.check(files, out), files, out, "salt-state")
            return
        _write_all(files, out)
        return
    if check_only:
        raise UsageError("--check compares the lockfile's states: it does not go with --drift-only")
    if pip_bin_env is not None:
        raise UsageError(
            "--pip-bin-env is for the lockfile's states: --drift-only takes each "
            "host's interpreters from the inventory"
        )
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
    )
    report = check_report(
        lockfile, inventory, options, snapshot=snapshot, max_age=max_age, quiet=quiet
    )
    lock = api.read_lockfile(lockfile)
    _write_all(emitter.emit_drift_states(report, lock, hold=hold), out)
    _fail_if_not_collected(report, "the states")


@emit_app.command("apt-preferences")
def apt_preferences(
    role: Annotated[str, typer.Option("--role", "-r", metavar="ROLE", help="Role to pin.")],
    os_release: Annotated[
        str, typer.Option("--os", metavar="RELEASE", help="OS release key (debian-12, ...).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Directory to write into (default: stdout)."
        ),
    ] = None,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
) -> None:
    """An /etc/apt/preferences.d file pinning the role's deb versions (Pin-Priority 1001).

    \b
      pinmgr emit apt-preferences --role app --os debian-12 > /etc/apt/preferences.d/pinmgr-app
    """
    from pinmgr import api
    from pinmgr.emitters.apt_preferences import emit_apt_preferences

    lock = api.read_lockfile(lockfile)
    if role not in lock.roles:
        raise UsageError(
            f"unknown role {role!r} (roles in {lockfile}: {', '.join(lock.roles) or 'none'})"
        )
    if os_release not in lock.releases_for(role):
        declared = ", ".join(lock.releases_for(role)) or "none"
        raise UsageError(f"role {role} declares no {os_release!r} (declared: {declared})")
    files = emit_apt_preferences(lock, role, os_release)
    if out is None:
        for _rel, text in sorted(files.items()):
            sys.stdout.write(text)
        return
    _write_all(files, out)


@emit_app.command("dnf-versionlock")
def dnf_versionlock(
    role: Annotated[str, typer.Option("--role", "-r", metavar="ROLE", help="Role to lock.")],
    os_release: Annotated[
        str, typer.Option("--os", metavar="RELEASE", help="OS release key (rocky-9, ...).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Directory to write versionlock.list into (default: stdout).",
        ),
    ] = None,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
) -> None:
    """A dnf versionlock list locking the role's exact rpm pins (the versionlock plugin's
    `name-EPOCH:VERSION-RELEASE.*` lines); glob and range pins are skipped with a comment.

    \b
      pinmgr emit dnf-versionlock --role app --os rocky-9 > /etc/dnf/plugins/versionlock.list
    """
    from pinmgr import api
    from pinmgr.emitters.dnf_versionlock import emit_dnf_versionlock

    lock = api.read_lockfile(lockfile)
    files = emit_dnf_versionlock(lock, role, os_release)
    if out is None:
        for _rel, text in sorted(files.items()):
            sys.stdout.write(text)
        return
    _write_all(files, out)


@emit_app.command("chef-recipe")
def chef_recipe(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory receiving pinmgr/.")
    ],
    hold: Annotated[
        bool,
        typer.Option(
            "--hold",
            help="Also hold the pins: apt_preference (Pin-Priority 1001) for deb, the dnf "
            "versionlock list for rpm.",
        ),
    ] = False,
    cookbook_version: Annotated[
        str, typer.Option("--cookbook-version", metavar="X.Y.Z", help="metadata.rb version.")
    ] = "1.0.0",
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the files in DIR are stale or missing."
        ),
    ] = False,
) -> None:
    """Write a Chef Infra cookbook DIR/pinmgr: one recipe per role (see docs/cm-tools.md).

    Add recipe[pinmgr::ROLE] to a node's run list; the recipe installs the exact pins of the
    node's OS release (package 'nginx' do version '1.22.1-9' end). Re-emitting an unchanged
    lockfile changes no byte.
    """
    from pinmgr import api
    from pinmgr.emitters import chef_recipe as emitter

    lock = api.read_lockfile(lockfile)
    digest = hashlib.sha256(Path(lockfile).read_bytes()).hexdigest()
    files = emitter.emit_cookbook(lock, digest, hold=hold, version=cookbook_version)
    if check_only:
        _report_stale(emitter.check(files, out), files, out, "chef-recipe" + _hold(hold))
        return
    _write_all(files, out)


@emit_app.command("puppet-manifest")
def puppet_manifest(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Module path receiving the pinmgr module."),
    ],
    hold: Annotated[
        bool, typer.Option("--hold", help="Also hold deb packages (mark => hold; apt/dpkg only).")
    ] = False,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the files in DIR are stale or missing."
        ),
    ] = False,
) -> None:
    """Write a Puppet module, DIR/pinmgr: class pinmgr::<role> per role installing its exact pins.

    Each class picks the host's OS release from facts (pinmgr::os_release()) and fails on one
    the lockfile does not declare; glob and range pins are comments, not enforced. Apply with
    puppet apply --modulepath DIR -e 'include pinmgr::ROLE' (--noop first).

    \b
      pinmgr emit puppet-manifest --out modules --hold
    """
    from pinmgr import api
    from pinmgr.emitters import puppet_manifest as emitter

    lock = api.read_lockfile(lockfile)
    digest = hashlib.sha256(Path(lockfile).read_bytes()).hexdigest()
    files = emitter.emit_puppet_manifest(lock, digest, hold=hold)
    if check_only:
        _report_stale(emitter.check(files, out), files, out, "puppet-manifest" + _hold(hold))
        return
    _write_all(files, out)
