"""The history store under pressure: 100 concurrent processes recording a check into one
store lose no run, and a writer killed with SIGKILL mid-transaction leaves a readable store
holding exactly the runs it committed. SQLite and a real PostgreSQL 15 server alike.

Writers are forked from this process (pinmgr already imported, each with its own
connection) and released together: 100 fresh ``pinmgr check`` interpreters would spend this
suite's time budget on start-up alone. ``benchmarks/history.py concurrent`` runs the real CLI
100 times at once (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from pinmgr import api
from pinmgr.diff import report as report_mod
from pinmgr.history import open_store
from pinmgr.history.interface import RunRecord, Scope
from pinmgr.model import (
    Ecosystem,
    Finding,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
)

WRITERS = 100
FORK = multiprocessing.get_context("fork")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return str(request.getfixturevalue("pg_server").new_database())


def _record_one(url: str, n: int, go: object) -> None:
    """What ``pinmgr check`` does once its check is done (cli/history.py -> api.record_run)."""
    go.wait()  # type: ignore[attr-defined]
    hosts = [Host(f"web{i}", "prod", ("app",)) for i in range(3)]
    results = [
        HostSnapshot(h, None, (InstalledPackage(Ecosystem.DEB, "bash", f"5.{n}"),)) for h in hosts
    ]
    drift = Finding(FindingKind.DRIFT, "web1", "prod", "app", Ecosystem.DEB, "bash", "5.0", "5.1")
    rep = report_mod.build([drift], hosts_total=3, hosts_collected=3, environments=["prod"])
    options = api.CheckOptions(envs=("prod",))
    history = api.HistoryOptions(url)
    done = api.record_run("check", "pins/pinmgr.toml", options, results, rep, history)
    os._exit(0 if done.run_id and not done.warning else 1)


def test_concurrent_writers_lose_no_run(store_url: str) -> None:
    go = FORK.Event()
    procs = [FORK.Process(target=_record_one, args=(store_url, n, go)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    go.set()  # all at once
    for p in procs:
        p.join(timeout=600)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    store = open_store(store_url, "x")
    try:
        runs = store.runs(limit=1000)
        spans = store.versions(host="web2")
    finally:
        store.close()
    assert sorted(r.id for r in runs) == list(range(1, WRITERS + 1))
    assert all(r.hosts_collected == 3 and dict(r.counts) == {FindingKind.DRIFT: 1} for r in runs)
    assert sorted(s.version for s in spans) == sorted(f"5.{n}" for n in range(WRITERS))


def _write_forever(url: str, writing: object, committed: object) -> None:
    """Big runs (every host's set new each time: long writes) until killed."""
    store = open_store(url, "x")
    t0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    for n in range(1, 1000):
        results = [
            HostSnapshot(
                Host(f"h{h}", "prod", ("app",)),
                OsRelease("debian", "12"),
                tuple(InstalledPackage(Ecosystem.DEB, f"p{p}", f"{n}.{h}.{p}") for p in range(40)),
            )
            for h in range(1000)
        ]
        writing.value = n  # type: ignore[attr-defined]
        store.record(RunRecord("collect", Scope("x"), t0 + dt.timedelta(days=n), results))
        committed.value = n  # type: ignore[attr-defined]


def test_sigkill_during_a_write_leaves_a_readable_store(store_url: str) -> None:
    writing, committed = FORK.Value("i", 0), FORK.Value("i", 0)
    proc = FORK.Process(target=_write_forever, args=(store_url, writing, committed))
    proc.start()
    deadline = time.monotonic() + 300
    while writing.value < 3:  # two runs committed, the third under way
        assert time.monotonic() < deadline and proc.is_alive()
        time.sleep(0.01)
    time.sleep(0.2)  # into the third write's transaction
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    done = committed.value
    assert done >= 2

    if not store_url.startswith("postgresql"):
        with sqlite3.connect(store_url) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = open_store(store_url, "x")
    try:
        assert len(store.runs(limit=100)) == done
        spans = store.versions(host="h7", package="p1")
        assert [s.version for s in spans] == [f"{n}.7.1" for n in range(1, done + 1)]
    finally:
        store.close()
