"""``pinmgr outdated``: which pins the hosts' package sources already offer newer versions of."""

from __future__ import annotations

import sys
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
    QuietOpt,
    RoleOpt,
    SshConfigOpt,
    StrictOpt,
    TimeoutOpt,
    _collect_options,
    app,
    color_wanted,
    not_collected,
    some_hosts,
    terminal_width,
)
from pinmgr.errors import EXIT_HOSTS, EXIT_OK


@app.command()
def outdated(
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")
    ] = "table",
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    security: Annotated[
        bool,
        typer.Option(
            "--security",
            help="Only pins for which a security source (Debian/Ubuntu -security suites, "
            "dnf updateinfo security advisories) offers a newer version.",
        ),
    ] = False,
) -> None:
    """List pins for which the hosts' package sources offer a newer version (like pip list
    --outdated).

    Per role and OS release: an exact pin with a newer offered version; a glob or range pin
    whose newest offered version is above the highest one it allows. Asks each host's own
    sources, read-only (apt-cache madison, dnf -C list; pinmgr never runs apt update), so the
    answer is as fresh as the hosts' last update. deb and rpm pins only.

    A "security fix" column names the newest version above the pin that a security source
    of some host offers (a Debian *-security suite, an Ubuntu -security pocket, a dnf
    security advisory with its id, severity and CVEs); --security lists only those pins.

    Informational: exit 0, or 3 when some hosts could not be collected.

    \b
      pinmgr outdated --env production
      pinmgr outdated --role db -f json
      pinmgr outdated --security            # only pins behind a security fix
    """
    from pinmgr import api
    from pinmgr.cli.progress import Progress
    from pinmgr.reporters import outdated as reporter

    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r} is not one of table, json", param_hint="--format")
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
        installable=True,
    )
    with Progress(enabled=not quiet) as progress:
        result = api.outdated(
            lockfile,
            inventory,
            options,
            on_done=progress.advance,
            on_start=some_hosts(progress.start, inventory, options),
        )
    rows, failures = list(result.rows), list(result.failures)
    if security:
        rows = [row for row in rows if row.security is not None]
    if fmt == "json":
        sys.stdout.write(reporter.render_json(rows, failures))
    else:
        sys.stdout.write(
            reporter.render_table(
                rows,
                failures,
                hosts_checked=result.hosts_checked,
                color=color_wanted(),
                width=terminal_width(),
            )
        )
    if failures:
        failed = [(f.host.name, f.kind.value, f.reason) for f in failures]
        sys.stderr.write(f"pinmgr: error: {not_collected(failed)}\n")
    raise typer.Exit(EXIT_HOSTS if failures else EXIT_OK)
