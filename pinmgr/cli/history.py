"""``pinmgr history`` (what changed on which host, past runs, pruning), and the recording of
``check`` / ``collect`` runs into the history store (docs/history.md)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinmgr.cli.app import (
    DEFAULT_LOCKFILE,
    EnvOpt,
    HistoryOpt,
    LockfileOpt,
    app,
)
from pinmgr.errors import UsageError

if TYPE_CHECKING:
    from pinmgr.api import CheckOptions
    from pinmgr.diff.check import CollectResult
    from pinmgr.history.interface import RunInfo, VersionSpan
    from pinmgr.model import CheckReport

SCHEMA_VERSIONS = "pinmgr.history/1"
SCHEMA_RUNS = "pinmgr.history-runs/1"


def _recorded(
    command: str,
    lockfile: Path,
    options: CheckOptions,
    results: Sequence[CollectResult],
    report: CheckReport | None,
    url: str | None,
    enabled: bool,
) -> CheckReport | None:
    from pinmgr import api
    from pinmgr.collectors.parsers import escape_text

    recording = api.record_run(
        command, lockfile, options, results, report, api.HistoryOptions(url, enabled)
    )
    if recording.warning:
        sys.stderr.write(f"pinmgr: warning: {escape_text(recording.warning, 1000)}\n")
    return recording.report


def record_check(
    lockfile: Path,
    options: CheckOptions,
    results: Sequence[CollectResult],
    report: CheckReport,
    url: str | None,
    enabled: bool,
) -> CheckReport:
    """The report marked new / known since (a store that cannot be written: a warning)."""
    marked = _recorded("check", lockfile, options, results, report, url, enabled)
    return marked if marked is not None else report


def record_collect(
    lockfile: Path,
    options: CheckOptions,
    results: Sequence[CollectResult],
    url: str | None,
    enabled: bool,
) -> None:
    _recorded("collect", lockfile, options, results, None, url, enabled)


def _since(text: str | None, option: str) -> dt.timedelta | None:
    from pinmgr.cli.fleet import parse_max_age

    if text is None:
        return None
    try:
        return parse_max_age(text)
    except typer.BadParameter:
        raise typer.BadParameter(
            f"{text!r}: expected a duration such as 30m, 24h, 7d, 90d", param_hint=option
        ) from None


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else ""


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table; every cell is host text made printable and log-safe."""
    from pinmgr.reporters.text import log_safe, neutralise

    cells = [list(header)] + [[log_safe(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return neutralise("\n".join(lines) + "\n")


def render_versions(spans: Sequence[VersionSpan], fmt: str) -> str:
    from pinmgr.reporters.text import json_text

    if fmt == "json":
        doc = {
            "schema": SCHEMA_VERSIONS,
            "versions": [
                {
                    "env": s.env,
                    "host": s.host,
                    "ecosystem": s.ecosystem,
                    "package": s.package,
                    "version": s.version,
                    "appeared": _iso(s.appeared),
                    "first_recorded": s.first_recorded,
                    "disappeared": _iso(s.disappeared),
                }
                for s in spans
            ],
        }
        return json_text(doc)
    if not spans:
        return "no recorded versions match\n"
    rows = [
        (
            s.host,
            s.env,
            f"{s.ecosystem}:{s.package}",
            s.version,
            ("<= " if s.first_recorded else "") + _when(s.appeared),
            _when(s.disappeared) or "-",
        )
        for s in spans
    ]
    header = ("HOST", "ENV", "PACKAGE", "VERSION", "APPEARED", "DISAPPEARED")
    note = "<= : already there when the host was first recorded\n"
    first = any(s.first_recorded for s in spans)
    return _columns(header, rows) + (note if first else "")


def render_runs(runs: Sequence[RunInfo], fmt: str) -> str:
    from pinmgr.reporters.text import json_text

    if fmt == "json":
        doc = {
            "schema": SCHEMA_RUNS,
            "runs": [
                {
                    "id": r.id,
                    "recorded_at": _iso(r.recorded_at),
                    "command": r.command,
                    "lockfile": r.scope.lockfile,
                    "envs": list(r.scope.envs),
                    "roles": list(r.scope.roles),
                    "hosts_total": r.hosts_total,
                    "hosts_collected": r.hosts_collected,
                    "counts": {k.value: n for k, n in r.counts},
                }
                for r in runs
            ],
        }
        return json_text(doc)
    if not runs:
        return "no runs recorded\n"
    rows = [
        (
            str(r.id),
            _when(r.recorded_at),
            r.command,
            str(r.scope),
            f"{r.hosts_collected}/{r.hosts_total}",
            ", ".join(f"{n} {k.value}" for k, n in r.counts) or "-",
        )
        for r in runs
    ]
    return _columns(("RUN", "RECORDED", "COMMAND", "SCOPE", "HOSTS", "FINDINGS"), rows)


@app.command(name="history")
def history_cmd(
    host: Annotated[
        str | None,
        typer.Argument(
            metavar="[HOST]", help="Only this host: a name, or a glob ('web*', '*' for every host)."
        ),
    ] = None,
    package: Annotated[
        str | None,
        typer.Argument(metavar="[PACKAGE]", help="Only this package (a glob: 'openssl*')."),
    ] = None,
    env: EnvOpt = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="AGE",
            help="Only versions that appeared or disappeared (with --runs: runs recorded) "
            "in the last AGE (24h, 7d, 90d).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")
    ] = "table",
    runs: Annotated[
        bool, typer.Option("--runs", help="List past runs with their summaries instead.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="With --runs: at most N runs.")
    ] = 100,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete runs older than --keep (and what only they used)."),
    ] = False,
    keep: Annotated[
        str | None,
        typer.Option("--keep", metavar="AGE", help="With --prune: keep runs of the last AGE."),
    ] = None,
    lockfile: LockfileOpt = DEFAULT_LOCKFILE,
    history: HistoryOpt = None,
) -> None:
    """Show when each package version appeared and disappeared on which host.

    Reads the history store that every check and collect records into (default:
    .pinmgr/history.sqlite beside the lockfile; --history URL or PINMGR_HISTORY for another,
    such as postgresql://...). Versions are compared between consecutive recorded runs of a
    host, so a change shows with the time of the first run that saw it.

    Examples:

    \b
      pinmgr history                          # every host and package
      pinmgr history web1 openssl             # one host, one package
      pinmgr history --env production '*' 'lib*' --since 7d -f json
      pinmgr history --runs                   # past runs with their summaries
      pinmgr history --prune --keep 90d       # forget runs older than 90 days
    """
    from pinmgr.history import open_store

    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r} is not one of table, json", param_hint="--format")
    if prune != (keep is not None):
        raise UsageError("--prune and --keep AGE go together")
    from pinmgr.history import default_path

    if history is None and not default_path(lockfile).exists():
        # Nothing recorded yet: say so, without creating an empty store beside the lockfile.
        if fmt == "json":
            sys.stdout.write(render_runs([], fmt) if runs else render_versions([], fmt))
        else:
            from pinmgr.reporters.text import printable

            where = printable(str(default_path(lockfile)))
            sys.stdout.write(f"no runs recorded (no store at {where})\n")
        return
    now = dt.datetime.now(dt.timezone.utc)
    store = open_store(history, lockfile, read_only=not prune)
    try:
        if prune:
            age = _since(keep, "--keep")
            assert age is not None
            n = store.prune(now - age)
            sys.stdout.write(f"{n} run{'s' if n != 1 else ''} older than {keep} deleted\n")
            return
        age = _since(since, "--since")
        after = now - age if age else None
        if runs:
            sys.stdout.write(render_runs(store.runs(since=after, limit=limit), fmt))
            return
        spans = store.versions(host=host, package=package, envs=tuple(env or ()), since=after)
        sys.stdout.write(render_versions(spans, fmt))
    finally:
        store.close()
