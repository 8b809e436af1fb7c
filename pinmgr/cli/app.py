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
from pinmgr.cli.settings import SettingsGroup
from pinmgr.errors import EXIT_HOSTS, EXIT_USAGE, PinmgrError, UsageError, WriteError
from pinmgr.model import CheckReport, Ecosystem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pinmgr.api import CheckOptions
    from pinmgr.diff.check import CollectResult
    from pinmgr.model import HostWarning, SourceProblem

EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 drift found; 2 usage or configuration error; "
    "3 some hosts could not be collected (takes precedence over 1)."
)

app = typer.Typer(
    cls=SettingsGroup,  # the inventory's [settings] become the defaults (docs/settings.md)
    name="pinmgr",
    help=(
        "Keep servers on exactly the package versions your team pinned, and say loudly when "
        "they drift.\n\n"
        "The lockfile (pins/pinmgr.toml) pins exact versions per role and OS release; the "
        "inventory (pins/inventory.toml) says which hosts form each environment. "
        "Start with: pinmgr check\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=True,  # typer's --install-completion / --show-completion: bash, zsh, fish
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pinmgr {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            is_eager=True,
            callback=_print_version,
            help="Print pinmgr's version and exit.",
        ),
    ] = False,
) -> None:
    """Options before the command name (the app's help text is set on ``app``)."""


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
    typer.Option(
        "--env",
        "-e",
        metavar="ENV",
        envvar="PINMGR_ENV",
        help="Environment (repeatable). Default: settings.envs, else all.",
    ),
]
RoleOpt = Annotated[
    list[str] | None,
    typer.Option("--role", "-r", metavar="ROLE", help="Only hosts with this role (repeatable)."),
]
ImageOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--image",
        metavar="PATH",
        help="Check this container image instead of the inventory's hosts (repeatable): an "
        "OCI layout directory, an OCI archive or a docker/podman save tarball, read without a "
        "container engine. Needs --role: the role whose pins the image must hold.",
    ),
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        max=512,
        metavar="N",
        envvar="PINMGR_JOBS",
        help="Hosts collected in parallel.",
    ),
]


def _positive(value: float) -> float:
    """A timeout of 0 or less would fail every host at once: a usage error (exit 2) instead."""
    if value <= 0:
        raise typer.BadParameter(f"{value:g} is not a number of seconds above 0")
    return value


TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        envvar="PINMGR_TIMEOUT",
        callback=_positive,
        help="Seconds allowed per host to run the probe.",
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        metavar="SECONDS",
        envvar="PINMGR_CONNECT_TIMEOUT",
        callback=_positive,
        help="Seconds allowed to connect to a host.",
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
SnapshotOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--snapshot",
        metavar="PATH",
        help="Check saved data instead of the hosts (no host is contacted): a pinmgr "
        "snapshot (pinmgr collect), an Ansible fact cache directory (jsonfile plugin) or "
        "ansible --tree output, osquery results (an osqueryd result log, osqueryi --json "
        "files); the kind is read from the content. Repeatable, or a "
        "quoted glob ('shard-*.json.gz'): shards merge, and a host found twice keeps its "
        "newer data (with a warning).",
    ),
]
MaxAgeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-age",
        metavar="AGE",
        help="With --snapshot: a host whose data is older than this (30m, 24h, 7d) is "
        "stale (exit 3) instead of checked.",
    ),
]
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
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Make inventory hosts that cannot be placed (no role group, a bad ansible_port, "
        "...) an error, exit 2, instead of a warning on stderr that leaves them out. For CI.",
    ),
]

HistoryOpt = Annotated[
    str | None,
    typer.Option(
        "--history",
        metavar="URL",
        envvar="PINMGR_HISTORY",
        help="Record this run in this history store: a path or sqlite:///PATH (SQLite), or "
        "postgresql://... (default: .pinmgr/history.sqlite beside the lockfile). See "
        "docs/history.md.",
    ),
]
NoHistoryOpt = Annotated[
    bool,
    typer.Option(
        "--no-history",
        envvar="PINMGR_NO_HISTORY",
        help="Record nothing in the history store (and mark no finding new or known).",
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


def some_hosts(
    start: Callable[[int], None], inventory: Path, options: CheckOptions
) -> Callable[[int], None]:
    """``start`` (the progress bar's), refusing when the filters leave no host to collect.

    A check of nothing would exit 0 and read as "all clean"; it is a usage error (exit 2)
    naming the filters, raised before any host is contacted.
    """

    def checked(total: int) -> None:
        if total == 0:
            filters = [f"--env {e}" for e in options.envs] + [f"--role {r}" for r in options.roles]
            where = inventory if inventory.exists() else "the default inventory"
            what = f"{' '.join(filters)} in {where}" if filters else f"{where} lists none"
            raise UsageError(f"no hosts selected ({what})")
        start(total)

    return checked


def not_collected(failures: Iterable[tuple[str, str, str]]) -> str:
    """One line naming every host not collected and why: ``(host, kind, reason)`` triples."""
    from pinmgr.reporters.text import printable

    parts = [f"{host} ({kind}: {printable(reason)})" for host, kind, reason in failures]
    return f"not collected: {'; '.join(parts)}"


def report_failures(report: CheckReport) -> list[tuple[str, str, str]]:
    """The ``(host, kind, reason)`` of every host ``report`` could not collect, once each."""
    seen: dict[str, tuple[str, str, str]] = {}
    for f in report.findings:
        if f.kind.is_host_failure and f.host not in seen:
            seen[f.host] = (f.host, f.kind.value, f.reason)
    return [seen[h] for h in sorted(seen)]


def run_check(
    lockfile: Path,
    inventory: Path,
    options: CheckOptions,
    *,
    quiet: bool,
    collected: list[CollectResult] | None = None,
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
                on_start=some_hosts(progress.start, inventory, options),
                cancel=cancel,
                collected=collected,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise


def check_report(
    lockfile: Path,
    inventory: Path,
    options: CheckOptions,
    *,
    snapshot: list[Path] | None,
    max_age: str | None,
    quiet: bool,
    collected: list[CollectResult] | None = None,
) -> CheckReport:
    """The check report from ``--snapshot`` data when given (no host contacted), else live.

    One place for every command taking ``--snapshot``/``--max-age`` (check, accept, emit).
    """
    from pinmgr import api

    if snapshot:
        from pinmgr.cli.fleet import parse_max_age

        age = parse_max_age(max_age) if max_age is not None else None
        return api.check_saved(
            lockfile, inventory, snapshot, options, max_age=age, collected=collected
        )
    if max_age is not None:
        raise typer.BadParameter("only with --snapshot", param_hint="--max-age")
    return run_check(lockfile, inventory, options, quiet=quiet, collected=collected)


def _ask_passphrase(path: str) -> str | None:
    """Prompt on the terminal (never echoed) for an encrypted key not held by ssh-agent."""
    import getpass

    try:
        return getpass.getpass(f"Passphrase for {path} (empty to skip): ") or None
    except (EOFError, KeyboardInterrupt):
        return None


def inventory_problem_printer(*, strict: bool) -> Callable[[SourceProblem], None]:
    """One stderr line per inventory host left out: a warning, or an error under --strict."""
    from pinmgr.collectors.parsers import escape_text

    label = "error" if strict else "warning"

    def show(problem: SourceProblem) -> None:
        sys.stderr.write(f"pinmgr: {label}: {escape_text(str(problem), 1000)}; host left out\n")

    return show


def inventory_warning(warning: HostWarning) -> None:
    """One stderr line per host loaded with a caveat (a warning even with --strict)."""
    from pinmgr.collectors.parsers import escape_text

    sys.stderr.write(f"pinmgr: warning: {escape_text(warning.message, 1000)}\n")


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
    strict: bool = False,
    image: list[Path] | None = None,
    security: bool = False,
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
        security=security,
        transport=kind,
        strict=strict,
        images=tuple(str(p) for p in image or ()),
        on_inventory_problem=inventory_problem_printer(strict=strict),
        on_inventory_warning=inventory_warning,
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
            envvar="PINMGR_OUTPUT",
            help="Also write a report file, e.g. junit=pinmgr.xml (repeatable; formats as "
            "--format).",
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="WHAT",
            envvar="PINMGR_FAIL_ON",
            help="What makes the exit code non-zero: any (drift, missing, unsupported-os, "
            "inconsistent, mixed-os, not-installable, security-update, not-in-inventory, "
            "not-checked, or hosts not collected), drift "
            "(version drift and OS problems only), missing, security (only pins behind a "
            "security fix; with --security), unreachable (only hosts not "
            "collected), new (as any, but only findings the previous recorded run of the "
            "same lockfile, --env and --role did not have: docs/history.md), never.",
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
    security: Annotated[
        bool,
        typer.Option(
            "--security",
            help="Also ask each host's security sources (Debian/Ubuntu -security suites, "
            "dnf updateinfo security advisories; read-only, same round trip) whether they "
            "offer a fix newer than a pin: security-update. See docs/security.md.",
        ),
    ] = False,
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    transport: TransportOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    snapshot: SnapshotOpt = None,
    max_age: MaxAgeOpt = None,
    image: ImageOpt = None,
    no_ok: Annotated[
        bool,
        typer.Option(
            "--no-ok",
            help="List no ok findings in any format (summary counts still include them): "
            "most of a big fleet's report is ok findings.",
        ),
    ] = False,
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    new_only: Annotated[
        bool,
        typer.Option(
            "--new-only",
            help="List only findings the previous recorded run of the same scope did not "
            "have (summary counts still include all); pairs with --fail-on new.",
        ),
    ] = False,
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
      pinmgr check --security --fail-on security   # fail only on pins behind a security fix
      pinmgr check --snapshot fleet.json.gz --max-age 24h   # saved data, no SSH
      pinmgr check --image app.tar --role app                 # a docker save tarball
      pinmgr check --fail-on new --new-only # fail only on drift the last run did not have

    Every check is recorded in the history store (pinmgr history; --no-history: not).
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
        strict=strict,
        image=image,
        security=security,
    )
    if no_ok:  # ok findings counted, never built
        from dataclasses import replace

        options = replace(options, list_ok=False)
    if image and not role:
        raise typer.BadParameter("needs --role R: the role whose pins the image must hold")
    from pinmgr.cli.history import record_check

    if no_history and (policy is FailOn.NEW or new_only):
        what = "--fail-on new" if policy is FailOn.NEW else "--new-only"
        raise UsageError(f"{what} compares with the history store: not with --no-history")
    collected: list[CollectResult] = []
    report = check_report(
        lockfile,
        inventory,
        options,
        snapshot=snapshot,
        max_age=max_age,
        quiet=quiet,
        collected=collected,
    )
    report = record_check(lockfile, options, collected, report, history, not no_history)
    if new_only:
        from pinmgr.diff.report import only_new

        report = only_new(report)
    if no_ok:
        from pinmgr.diff.report import without_ok

        report = without_ok(report)
    for out_fmt, path in outputs:
        write_file(path, render(report, out_fmt, color=False, width=120, by_host=by_host))
    color = color_wanted() and fmt is OutputFormat.TABLE
    if fmt is OutputFormat.JSON:  # in pieces: a fleet's report need not be one string
        from pinmgr.reporters import json as json_reporter

        sys.stdout.writelines(json_reporter.chunks(report))
    else:
        sys.stdout.write(render(report, fmt, color=color, width=terminal_width(), by_host=by_host))
    if show_waived:
        from pinmgr.reporters.waivers import render as render_waivers

        lock = api.read_lockfile(lockfile)
        sys.stdout.write(
            render_waivers(lock, report, options.today_or_now(), width=terminal_width())
        )
    sys.stdout.flush()
    code = exit_code(report, policy)
    failures = report_failures(report)
    if failures:  # --fail-on drift/never: still said, but not as the error that ended the run
        level = "error" if code == EXIT_HOSTS else "warning"
        sys.stderr.write(f"pinmgr: {level}: {not_collected(failures)}\n")
    raise typer.Exit(code)


@app.command()
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[FILE]...",
            help="A lockfile and/or an inventory to check instead of -l/-i; which one each "
            "is, is read from its content (a TOML file with [roles] or [shared] is a "
            "lockfile, anything else an inventory).",
            show_default=False,
        ),
    ] = None,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    strict: StrictOpt = False,
) -> None:
    """Check the lockfile and inventory for mistakes; list all of them as file:line:col.

    A host an inventory source cannot place is a warning (exit 0: check leaves it out), or
    with --strict an error (exit 2).

    \b
      pinmgr validate
      pinmgr validate pins/pinmgr.toml
      pinmgr validate -l pins/pinmgr.toml -i ansible/hosts.ini --strict
    """
    from pinmgr import api
    from pinmgr.lockfile.sniff import looks_like_lockfile

    for path in files or ():
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if looks_like_lockfile(path):
            lockfile = path
        else:
            inventory = path

    options = api.CheckOptions(
        strict=strict,
        on_inventory_problem=inventory_problem_printer(strict=False),
        on_inventory_warning=inventory_warning,
    )
    problems = api.validate(lockfile, inventory, options)
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
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    snapshot: Annotated[
        list[Path] | None,
        typer.Option(
            "--snapshot",
            metavar="PATH",
            help="Compare saved data instead of the hosts (no host is contacted), as for "
            "check --snapshot: pinmgr snapshots, Ansible fact caches or --tree output, "
            "osquery results (repeatable, or a quoted glob).",
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            metavar="AGE",
            help="With --snapshot: a host whose data is older than this (30m, 24h, 7d) is "
            "stale (exit 3) instead of compared.",
        ),
    ] = None,
) -> None:
    """Compare what two environments (or two hosts) have installed, without a lockfile.

    Lists, per role, the packages whose versions differ, and whether RIGHT is newer or
    older than LEFT. Exit 0 when they agree, 1 when they differ, 3 when hosts failed.
    Debian (deb) hosts on one side and RHEL-family (rpm) hosts on the other share no package
    names: packages are compared per family, and a note says what was left out.

    Examples:

    \b
      pinmgr diff production staging
      pinmgr diff production staging --role app --only 'nginx*' --ecosystem deb
      pinmgr diff web1 web2 -f json
      pinmgr diff production staging --snapshot 'shard-*.json.gz'   # saved data, no SSH
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
        strict=strict,
    )
    from pinmgr.cli.fleet import diff_snapshots

    # Saved data (--snapshot) when given, else the hosts themselves.
    saved = diff_snapshots(inventory, left, right, snapshot, options, only, ecosystem, max_age)
    with Progress(enabled=not quiet and saved is None) as progress:
        result = saved or api.diff(
            inventory,
            left,
            right,
            options,
            only=tuple(only or ()),
            ecosystems=tuple(ecosystem or ()),
            on_done=progress.advance,
            on_start=some_hosts(progress.start, inventory, options),
        )
    if fmt == "json":
        sys.stdout.write(envdiff_reporter.render_json(result))
    else:
        sys.stdout.write(
            envdiff_reporter.render_table(result, color=color_wanted(), width=terminal_width())
        )
    if result.failures:
        failed = [(f.host.name, f.kind.value, f.reason) for f in result.failures]
        sys.stderr.write(f"pinmgr: error: {not_collected(failed)}\n")
    raise typer.Exit(api.diff_exit_code(result))


@app.command(name="version")
def version_cmd() -> None:
    """Print pinmgr's version."""
    sys.stdout.write(f"pinmgr {__version__}\n")


__all__ = ["PinmgrError", "app"]
