"""``pinmgr collect``: save what the hosts have to a snapshot file, for ``check --snapshot``."""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
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
    NoHistoryOpt,
    QuietOpt,
    RoleOpt,
    SshConfigOpt,
    StrictOpt,
    TimeoutOpt,
    TransportOpt,
    _collect_options,
    app,
)
from pinmgr.errors import WriteError
from pinmgr.model import Ecosystem, HostFailure

if TYPE_CHECKING:
    from pinmgr.api import CheckOptions, DiffResult

_AGE = re.compile(r"([0-9]{1,9})([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_max_age(text: str) -> dt.timedelta:
    """``--max-age``: ``90m``, ``24h``, ``7d`` or plain seconds."""
    m = _AGE.fullmatch(text.strip())
    if not m or int(m.group(1)) == 0:
        raise typer.BadParameter(
            f"{text!r}: expected a duration such as 30m, 24h, 7d", param_hint="--max-age"
        )
    return dt.timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2)])


@app.command()
def collect(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Snapshot file to write (JSON; gzip-compressed when FILE ends in .gz).",
        ),
    ],
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Collect only shard K of N (1 <= K <= N): hosts are split by a stable hash "
            "of their name, so N CI jobs with 1/N .. N/N cover every selected host once.",
        ),
    ] = None,
    jobs: JobsOpt = DEFAULT_JOBS,
    timeout: TimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    accept_new: AcceptNewOpt = False,
    known_hosts: KnownHostsOpt = None,
    ssh_config: SshConfigOpt = None,
    transport: TransportOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    lockfile: Annotated[
        Path,
        typer.Option(
            "--lockfile",
            "-l",
            metavar="FILE",
            envvar="PINMGR_LOCKFILE",
            help="Only to place the default history store (.pinmgr/ beside it) and name the "
            "run's scope; not read.",
        ),
    ] = DEFAULT_LOCKFILE,
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
) -> None:
    """Collect hosts into a snapshot file, to check later with check --snapshot FILE.

    The snapshot holds every selected host's environment, roles, OS release and packages,
    and the hosts that could not be collected (with the reason): the file is written even
    then, and the exit code is 3. Format: docs/snapshot.md.

    Examples:

    \b
      pinmgr collect -o fleet.json.gz
      pinmgr collect --env production --shard 2/8 -o shard-2.json.gz   # one of 8 CI jobs
      pinmgr check --snapshot 'shard-*.json.gz'   # all shards (a quoted glob), no SSH
    """
    from pinmgr import api
    from pinmgr import snapshot as snapshot_mod
    from pinmgr.cli.progress import Progress
    from pinmgr.inventory.shard import parse_shard

    part = parse_shard(shard) if shard is not None else None
    if not output.absolute().parent.is_dir():  # say so before a long collection, not after
        raise WriteError(f"cannot write {output}: no directory {output.absolute().parent}")
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
    cancel = threading.Event()
    with Progress(enabled=not quiet) as progress:
        try:
            snap = api.collect_snapshot(
                inventory,
                options,
                shard=part,
                on_done=progress.advance,
                on_start=progress.start,
                cancel=cancel,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise
    snapshot_mod.write(output, snap)
    from pinmgr.cli.history import record_collect

    results = [s.result for s in snap.results]
    record_collect(lockfile, options, results, history, not no_history)
    failed = sum(1 for s in snap.results if isinstance(s.result, HostFailure))
    n = len(snap.results)
    sys.stderr.write(
        f"{output}: {n} host{'s' if n != 1 else ''} written"
        + (f" ({failed} not collected)" if failed else "")
        + "\n"
    )
    raise typer.Exit(api.snapshot_exit_code(snap))


def diff_snapshots(
    inventory: Path,
    left: str,
    right: str,
    snapshot: list[Path] | None,
    options: CheckOptions,
    only: list[str] | None,
    ecosystem: list[Ecosystem] | None,
    max_age: str | None,
) -> DiffResult | None:
    """``diff --snapshot``: the result from saved data, or None when no --snapshot was given."""
    from pinmgr import api

    if not snapshot:
        if max_age is not None:
            raise typer.BadParameter("only with --snapshot", param_hint="--max-age")
        return None
    return api.diff_saved(
        inventory,
        left,
        right,
        snapshot,
        options,
        only=tuple(only or ()),
        ecosystems=tuple(ecosystem or ()),
        max_age=parse_max_age(max_age) if max_age is not None else None,
    )
