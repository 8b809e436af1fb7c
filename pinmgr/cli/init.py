"""``pinmgr init``: start a lockfile and an inventory from what a machine runs now.

A new user has neither file, and every other command needs them. ``init`` reads this machine
(or one inventory host, or one host per role of an Ansible inventory), pins its key packages
(``pinmgr.lockfile.keyset``) and writes both files, commented. It never replaces a file
without ``--force``, and then through the same atomic, diff-and-confirm write as every edit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinmgr.cli.app import (
    AcceptNewOpt,
    ConnectTimeoutOpt,
    KnownHostsOpt,
    SshConfigOpt,
    TimeoutOpt,
    _collect_options,
    app,
)
from pinmgr.errors import HostCollectError, UsageError
from pinmgr.model import Host, HostFailure, HostSnapshot, TransportKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from pinmgr.api import CheckOptions

LOCAL_ENV = "local"
LOCAL_HOST = "localhost"


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="Where to write pinmgr.toml and inventory.toml (created if missing).",
        ),
    ] = Path("pins"),
    from_host: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="HOST",
            help="Read this host of the inventory given with -i (env/name if the name is in "
            "several environments) instead of this machine.",
        ),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            metavar="FILE",
            help="With --from: the inventory the host is in (pinmgr TOML, Ansible or OpenSSH "
            "config).",
        ),
    ] = None,
    ansible: Annotated[
        Path | None,
        typer.Option(
            "--ansible",
            metavar="INVENTORY",
            help="Build from an Ansible inventory (INI, YAML, directory or script): the "
            "inventory lists it as a source (roles are its groups), and the lockfile pins one "
            "host per role.",
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            "-r",
            metavar="ROLE",
            help="Role of this machine (default: app), or of the --from host (default: its own).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace files that exist (after showing the diff)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Replace without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show what would be written; write nothing.")
    ] = False,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
) -> None:
    """Start pins/pinmgr.toml and pins/inventory.toml from what a machine runs now.

    Reads this machine's OS release and packages and pins its key packages: web servers,
    databases, runtimes, openssl, openssh, libc, systemd, sudo... (the list:
    docs/quickstart.md). Existing files are never replaced without --force.

    \b
      pinmgr init                                  # this machine, role app, env local
      pinmgr init --from web1 -i hosts.toml        # one host of an inventory
      pinmgr init --ansible ansible/hosts.ini      # roles from the Ansible groups
    """
    from pinmgr import api, authoring
    from pinmgr.inventory.template import native_text

    if from_host is not None and ansible is not None:
        raise UsageError("give either --from or --ansible, not both")
    if inventory is not None and from_host is None:
        raise UsageError("-i names the inventory of the --from host: give --from HOST too")
    options = _collect_options(
        env=None,
        role=None,
        jobs=4,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        strict=False,
    )
    lock_path, inv_path = directory / "pinmgr.toml", directory / "inventory.toml"
    for path in (lock_path, inv_path):
        if path.exists() and not force:
            raise UsageError(f"{path} exists; not overwriting it (--force replaces it)")
    sources: str | None = None
    if ansible is not None:
        snapshots = _one_per_role(ansible, options)
        sources = os.path.relpath(ansible.resolve(), directory.resolve())
        hosts: list[Host] = []
    elif from_host is not None:
        if inventory is None:
            raise UsageError("--from HOST needs the inventory it is in: -i FILE")
        snap = _snapshot(lambda: api.snapshot_of(inventory, from_host, options))
        snapshots = [(role or snap.host.role, snap)]
        hosts = [_as_written(snap.host, snapshots[0][0])]
    else:
        local = Host(LOCAL_HOST, LOCAL_ENV, (role or "app",), transport=TransportKind.LOCAL)
        snap = _snapshot(lambda: _collect_one(local, options))
        snapshots = [(local.role, snap)]
        hosts = [local]
    changes = [
        authoring.plan_init(lock_path, snapshots, force=force),
        authoring.plan_new_file(inv_path, native_text(hosts, sources), force=force),
    ]
    if not dry_run:
        directory.mkdir(parents=True, exist_ok=True)
    for change in changes:
        _write(change, yes=yes, dry_run=dry_run)
    if not dry_run:
        sys.stdout.write(
            f"next: pinmgr check -l {lock_path} -i {inv_path}   (pinmgr validate checks both)\n"
        )


def _snapshot(read: Callable[[], HostSnapshot]) -> HostSnapshot:
    try:
        return read()
    except HostCollectError as exc:
        raise HostCollectError(f"not initialising: {exc.message}; nothing written") from exc


def _collect_one(host: Host, options: CheckOptions) -> HostSnapshot:
    from pinmgr import api

    (result,) = api.collect([host], options)
    if isinstance(result, HostFailure):
        raise HostCollectError(f"{host.name}: {result.kind.value}: {result.reason}")
    return result


def _one_per_role(ansible: Path, options: CheckOptions) -> list[tuple[str, HostSnapshot]]:
    """The first host (by environment, then name) of each role, collected in parallel."""
    from pinmgr import api

    if not ansible.exists():
        raise UsageError(f"{ansible}: no such Ansible inventory")
    found = api.read_inventory(ansible, options)
    chosen: dict[str, Host] = {}
    for host in sorted(found.hosts, key=lambda h: (h.env, h.name)):
        for r in host.roles:
            chosen.setdefault(r, host)
    if not chosen:
        raise UsageError(f"{ansible}: no host with a role (a group) in this Ansible inventory")
    unique = list({(h.env, h.name): h for h in chosen.values()}.values())
    results = {(r.host.env, r.host.name): r for r in api.collect(unique, options)}
    failed = [r for r in results.values() if isinstance(r, HostFailure)]
    if failed:
        named = "; ".join(f"{f.host.name}: {f.kind.value}: {f.reason}" for f in failed)
        raise HostCollectError(f"not initialising: {named}; nothing written")
    out = []
    for r, host in sorted(chosen.items()):
        snap = results[(host.env, host.name)]
        assert isinstance(snap, HostSnapshot)
        out.append((r, snap))
    return out


def _as_written(host: Host, role: str) -> Host:
    """The host for the new inventory: its connection as its own inventory gave it."""
    from dataclasses import replace

    return replace(host, roles=(role,), route=None, source=None)


def _write(change: object, *, yes: bool, dry_run: bool) -> None:
    from pinmgr.authoring import Edit, apply

    assert isinstance(change, Edit)
    for note in change.notes:
        sys.stderr.write(f"pinmgr: note: {note}\n")
    if change.created:
        if dry_run:
            sys.stdout.write(f"--- would create {change.path} ---\n{change.after}")
            return
        apply(change)
        sys.stdout.write(f"{change.path}: created\n")
        return
    if not change.changed:
        sys.stdout.write(f"{change.path}: already up to date\n")
        return
    sys.stdout.write(change.diff())
    if dry_run:
        sys.stdout.write("(dry run: nothing written)\n")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"not replacing {change.path} without confirmation (use --yes)")
        if not typer.confirm(f"Replace {change.path}?", default=False):
            sys.stdout.write("nothing written\n")
            return
    apply(change)
    sys.stdout.write(f"{change.path}: replaced\n")
