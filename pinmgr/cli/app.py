"""Typer commands for checking: parse options, call ``pinmgr.api``, render, write, exit."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinmgr import __version__
from pinmgr.cli.formats import OutputFormat, parse_output, render
from pinmgr.errors import EXIT_USAGE, PinmgrError, WriteError
from pinmgr.model import CheckReport, Ecosystem, HostWarning

if TYPE_CHECKING:
    from pinmgr.api import CheckOptions

EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 drift found; 2 usage or configuration error; "
    "3 some hosts could not be collected (takes precedence over 1)."
)

app = typer.Typer(
    name="pinmgr",
    help=(
        "Keep servers on exactly the package versions your team pinned, and say loudly when "
        "they drift.\n\n"
        "The lockfile (pins/pinmgr.toml) pins exact versions per role and OS release; the "
        "inventory (pins/inventory.toml) says which hosts form each environment. "
        "Start with: pinmgr check\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

LockfileOpt = Annotated[
    Path,
    typer.Option(
        "--lockfile",
        "-l",
        metavar="FILE",
        envvar="PINMGR_LOCKFILE",
        help="The lockfile.",
    ),
]
InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory",
        "-i",
        metavar="FILE",
        envvar="PINMGR_INVENTORY",
        help="Inventory of environments and hosts. When the default file is absent, the "
        "'local' environment (this machine, role 'app') is used.",
    ),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option("--env", "-e", metavar="ENV", help="Environment (repeatable). Default: all."),
]
RoleOpt = Annotated[
    list[str] | None,
    typer.Option("--role", "-r", metavar="ROLE", help="Only hosts with this role (repeatable)."),
]
JobsOpt = Annotated[
    int,
    typer.Option("--jobs", "-j", min=1, max=512, metavar="N", help="Hosts collected in parallel."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", help="Seconds allowed per host to run the probe."),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--connect-timeout", metavar="SECONDS", help="Seconds allowed to connect to a host."
    ),
]
AcceptNewOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new",
        help="Trust and record the host key of hosts seen for the first time (like OpenSSH "
        "StrictHostKeyChecking=accept-new). A changed key is always refused.",
    ),
]
KnownHostsOpt = Annotated[
    Path | None,
    typer.Option(
        "--known-hosts",
        metavar="FILE",
        envvar="PINMGR_KNOWN_HOSTS",
        help="Project known_hosts file, read with ~/.ssh/known_hosts; --accept-new records "
        "new keys here.",
    ),
]
SshConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--ssh-config",
        metavar="FILE",
        help="OpenSSH config to resolve host aliases (default ~/.ssh/config).",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]
TransportOpt = Annotated[
    str | None,
    typer.Option(
        "--transport",
        metavar="ssh|openssh",
        help="Reach every SSH host this way, whatever the inventory says: ssh (built-in "
        "client) or openssh (the system ssh binary, for ~/.ssh/config features such as "
        "certificates, Match, ControlMaster).",
    ),
]

DEFAULT_JOBS = 64  # as collectors.pool.DEFAULT_JOBS (not imported: --help stays light)
DEFAULT_LOCKFILE = Path("pins/pinmgr.toml")
DEFAULT_INVENTORY = Path("pins/inventory.toml")


def color_wanted() -> bool:
    """Colour only for a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def terminal_width() -> int:
    try:
        return max(40, os.get_terminal_size(sys.stdout.fileno()).columns)
    except OSError:
        try:
            return max(40, int(os.environ.get("COLUMNS", "100")))
        except ValueError:
            return 100


def write_file(path: str, text: str) -> None:
    """Report files are written whole (temp file + rename): a reader never sees half of one."""
    from pinmgr.atomic import write_atomic

    try:
        write_atomic(path, text, None)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _warn(warning: HostWarning) -> None:
    sys.stderr.write(f"pinmgr: warning: {warning.message}\n")


def run_check(
    lockfile: Path, inventory: Path, options: CheckOptions, *, quiet: bool
) -> CheckReport:
    """``api.check`` with a progress bar; Ctrl-C cancels collection and reports what came in."""
    from pinmgr import api
    from pinmgr.cli.progress import Progress

    cancel = threading.Event()
    with Progress(enabled=not quiet) as progress:
        try:
            return api.check(
                lockfile,
                inventory,
                options,
                on_done=progress.advance,
                on_start=progress.start,
                cancel=cancel,
                on_warning=_warn,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise


def _ask_passphrase(path: str) -> str | None:
    """Prompt on the terminal (never echoed) for an encrypted key not held by ssh-agent."""
    import getpass

    try:
        return getpass.getpass(f"Passphrase for {path} (empty to skip): ") or None
    except (EOFError, KeyboardInterrupt):
        return None


def _collect_options(
    *,
    env: list[str] | None,
    role: list[str] | None,
    jobs: int,
    timeout: float,
    connect_timeout: float,
    accept_new: bool,
    known_hosts: Path | None,
    ssh_config: Path | None,
    unpinned: bool = False,
    installable: bool = False,
    transport: str | None = None,
) -> CheckOptions:
    from pinmgr import api
    from pinmgr.model import TransportKind

    kind: TransportKind | None = None
    if transport is not None:
        if transport not in ("ssh", "openssh"):
            raise typer.BadParameter(
                f"{transport!r} is not one of ssh, openssh", param_hint="--transport"
            )
        kind = TransportKind(transport)

    return api.CheckOptions(
        passphrase=_ask_passphrase if sys.stdin.isatty() else None,
        envs=tuple(env or ()),
        roles=tuple(role or ()),
        unpinned=unpinned,
        jobs=jobs,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=str(known_hosts) if known_hosts else None,
        ssh_config=str(ssh_config) if ssh_config else None,
        installable=installable,
        transport=kind,
    )


@app.command()
def check(
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="Format written to stdout."),
    ] = OutputFormat.TABLE,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FORMAT=PATH",
            help="Also write a report file, e.g. junit=pinmgr.xml (repeatable; formats as "
            "--format).",
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="WHAT",
            help="What makes the exit code non-zero: any (drift, missing, unsupported-os, "
            "inconsistent, mixed-os, not-installable, or hosts not collected), drift "
            "(version drift and OS problems only), missing, unreachable (only hosts not "
            "collected), never.",
        ),
    ] = "any",
    by_host: Annotated[
        bool,
        typer.Option("--by-host", help="One table row per host instead of grouping hosts."),
    ] = False,
    show_waived: Annotated[
        bool,
        typer.Option(
            "--show-waived",
            help="After the report, list every waiver of the lockfile with its status "
            "(active, expired, unused).",
        ),
    ] = False,
    unpinned: Annotated[
        bool, typer.Option("--unpinned", help="Also list installed packages with no pin.")
    ] = False,
    installable: Annotated[
        bool,
        typer.Option(
            "--installable",
            help="Also ask each host's configured package sources (apt-cache, dnf -C; "
            "read-only, never apt update) whether they still offer every pinned version: "
            "not-installable otherwise.",
        ),
    ] = False,
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    transport: TransportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Check hosts against the lockfile: ok / drift / missing per pinned package.

    Each host is checked against its role's pins for the OS release it runs (from
    /etc/os-release) plus the shared pins. Hosts of one role that disagree with each other
    are reported as inconsistent even where nothing is pinned.

    Examples:

    \b
      pinmgr check                          # every environment of pins/inventory.toml
      pinmgr check --env staging -f json    # one environment, JSON on stdout
      pinmgr check -e dev -e production -o junit=drift.xml -o sarif=drift.sarif
      pinmgr check --env production --role db --accept-new
      pinmgr check --installable            # also: are the pinned versions still offered?
    """
    from pinmgr import api
    from pinmgr.diff.exitcode import FailOn, exit_code

    try:
        policy = FailOn(fail_on)
    except ValueError:
        choices = ", ".join(f.value for f in FailOn)
        raise typer.BadParameter(
            f"{fail_on!r} is not one of {choices}", param_hint="--fail-on"
        ) from None
    outputs = [parse_output(spec) for spec in output or ()]
    options = _collect_options(
        env=env,
        role=role,
        jobs=jobs,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        unpinned=unpinned,
        installable=installable,
        transport=transport,
    )
    report = run_check(lockfile, inventory, options, quiet=quiet)
    for out_fmt, path in outputs:
        write_file(path, render(report, out_fmt, color=False, width=120, by_host=by_host))
    color = color_wanted() and fmt is OutputFormat.TABLE
    sys.stdout.write(render(report, fmt, color=color, width=terminal_width(), by_host=by_host))
    if show_waived:
        from pinmgr.reporters.waivers import render as render_waivers

        lock = api.read_lockfile(lockfile)
        sys.stdout.write(
            render_waivers(lock, report, options.today_or_now(), width=terminal_width())
        )
    sys.stdout.flush()
    raise typer.Exit(exit_code(report, policy))


@app.command()
def validate(
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
) -> None:
    """Check the lockfile and inventory for mistakes; list all of them as file:line:col."""
    from pinmgr import api

    problems = api.validate(lockfile, inventory)
    for problem in problems:
        sys.stderr.write(f"pinmgr: error: {problem}\n")
    if problems:
        n = len(problems)
        sys.stderr.write(f"{n} problem{'s' if n != 1 else ''} found\n")
        raise typer.Exit(EXIT_USAGE)
    sys.stdout.write(f"{lockfile}: ok\n{inventory if inventory.exists() else 'inventory'}: ok\n")


@app.command(name="diff")
def diff_cmd(
    left: Annotated[str, typer.Argument(metavar="LEFT", help="Environment or host name.")],
    right: Annotated[str, typer.Argument(metavar="RIGHT", help="Environment or host name.")],
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    role: RoleOpt = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="PATTERN", help="Only packages matching this glob."),
    ] = None,
    ecosystem: Annotated[
        list[Ecosystem] | None,
        typer.Option("--ecosystem", help="Only this ecosystem (repeatable)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")
    ] = "table",
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare what two environments (or two hosts) have installed, without a lockfile.

    Lists, per role, the packages whose versions differ, and whether RIGHT is newer or
    older than LEFT. Exit 0 when they agree, 1 when they differ, 3 when hosts failed.

    Examples:

    \b
      pinmgr diff production staging
      pinmgr diff production staging --role app --only 'nginx*' --ecosystem deb
      pinmgr diff web1 web2 -f json
    """
    from pinmgr import api
    from pinmgr.cli.progress import Progress
    from pinmgr.reporters import envdiff as envdiff_reporter

    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r} is not one of table, json", param_hint="--format")
    options = _collect_options(
        env=None,
        role=role,
        jobs=jobs,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
    )
    with Progress(enabled=not quiet) as progress:
        result = api.diff(
            inventory,
            left,
            right,
            options,
            only=tuple(only or ()),
            ecosystems=tuple(ecosystem or ()),
            on_done=progress.advance,
            on_start=progress.start,
        )
    if fmt == "json":
        sys.stdout.write(envdiff_reporter.render_json(result))
    else:
        sys.stdout.write(
            envdiff_reporter.render_table(result, color=color_wanted(), width=terminal_width())
        )
    raise typer.Exit(api.diff_exit_code(result))


@app.command(name="version")
def version_cmd() -> None:
    """Print pinmgr's version."""
    sys.stdout.write(f"pinmgr {__version__}\n")


__all__ = ["PinmgrError", "app"]
