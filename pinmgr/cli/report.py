"""``pinmgr report --html FILE``: the check report as one self-contained HTML page.

The report comes from the same place as ``check``'s (live hosts, or ``--snapshot`` data);
the page is ``reporters.html.render`` written whole through ``write_file``.

The trend comes from the history store (``api.history_view``: read only, never created);
``--from-history`` takes the last recorded check of the same scope instead of checking.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinmgr.cli.app import (
    DEFAULT_INVENTORY,
    DEFAULT_JOBS,
    DEFAULT_LOCKFILE,
    AcceptNewOpt,
    ConnectTimeoutOpt,
    EnvOpt,
    HistoryOpt,
    InventoryOpt,
    JobsOpt,
    KnownHostsOpt,
    LockfileOpt,
    MaxAgeOpt,
    NoHistoryOpt,
    QuietOpt,
    RoleOpt,
    SnapshotOpt,
    SshConfigOpt,
    StrictOpt,
    TimeoutOpt,
    TransportOpt,
    _collect_options,
    app,
    check_report,
    not_collected,
    report_failures,
    write_file,
)
from pinmgr.errors import EXIT_HOSTS

if TYPE_CHECKING:
    from pinmgr.model import CheckReport, TrendPoint


def html_report(report: CheckReport, trend: Sequence[TrendPoint] = ()) -> str:
    """The page for ``report``; ``trend`` is the history store's points (none yet: no chart)."""
    from pinmgr.reporters import html

    return html.render(report, trend)


def source_report(
    build_live_or_saved: Callable[[], CheckReport],
    recorded: Callable[[], CheckReport] | None = None,
) -> CheckReport:
    """The last recorded run when ``recorded`` is given (history store), else a live check or
    ``--snapshot`` data."""
    return recorded() if recorded is not None else build_live_or_saved()


@app.command(name="report")
def report_cmd(
    html_out: Annotated[
        Path,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write the report here: one HTML file with no external asset and no "
            "network access (open it in any browser, attach it to a CI run).",
        ),
    ],
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="WHAT",
            help="What makes the exit code non-zero, as for check: any, drift, missing, "
            "unreachable, never. Default never: the page is the result.",
        ),
    ] = "never",
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
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    from_history: Annotated[
        bool,
        typer.Option(
            "--from-history",
            help="Report the last check recorded in the history store for this lockfile, "
            "--env and --role instead of checking (no host contacted; its ok findings are "
            "counted, not listed).",
        ),
    ] = False,
) -> None:
    """Check hosts (or --snapshot data) and write an HTML report to browse and share.

    The page has a summary, an environment x host x package matrix coloured by finding
    (click a cell for expected vs installed and the reason), filters by environment, role,
    ecosystem, finding and text, the list of findings needing a look, and the trend of
    findings per environment over recorded runs. It loads nothing from the network, runs no
    script but its own (Content-Security-Policy), fits a phone screen and prints. See
    docs/report.md.

    Examples:

    \b
      pinmgr report --html report.html
      pinmgr report --html report.html --env production --snapshot fleet.json.gz
      pinmgr report --html report.html --fail-on any    # and exit like check
      pinmgr report --html report.html --from-history   # the last recorded check, no SSH

    The trend is read from the history store every check records into (docs/history.md);
    report itself records nothing.
    """
    from pinmgr.diff.exitcode import FailOn, exit_code

    try:
        policy = FailOn(fail_on)
    except ValueError:
        choices = ", ".join(f.value for f in FailOn)
        raise typer.BadParameter(
            f"{fail_on!r} is not one of {choices}", param_hint="--fail-on"
        ) from None
    options = _collect_options(
        env=env,
        role=role,
        jobs=jobs,
        timeout=timeout,
        connect_timeout=connect_timeout,
        accept_new=accept_new,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        transport=transport,
        strict=strict,
    )
    from pinmgr import api
    from pinmgr.errors import UsageError

    if from_history and (no_history or snapshot):
        other = "--no-history" if no_history else "--snapshot"
        raise UsageError(f"--from-history reads the history store: not with {other}")
    recorded, trend = api.history_view(
        lockfile, options, api.HistoryOptions(history, not no_history)
    )
    if from_history and recorded is None:
        raise UsageError(
            "--from-history: no check of this lockfile, --env and --role is recorded "
            "(run pinmgr check first; docs/history.md)"
        )
    report = source_report(
        lambda: check_report(
            lockfile, inventory, options, snapshot=snapshot, max_age=max_age, quiet=quiet
        ),
        (lambda: recorded) if from_history and recorded is not None else None,
    )
    write_file(str(html_out), html_report(report, trend))
    s = report.summary
    sys.stdout.write(f"wrote {html_out} ({s.hosts_total} hosts, {len(report.findings)} findings)\n")
    code = exit_code(report, policy)
    failures = report_failures(report)
    if failures:
        level = "error" if code == EXIT_HOSTS else "warning"
        sys.stderr.write(f"pinmgr: {level}: {not_collected(failures)}\n")
    raise typer.Exit(code)
