"""The history store on both backends: SQLite (a temp file) and a real PostgreSQL 15 server
(tests/pgserver.py). Same tests, same answers: one schema, one set of queries."""

from __future__ import annotations

import array
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.diff import report as report_mod
from pinmgr.history import codec, open_store
from pinmgr.history.interface import HistoryError, RunRecord, Scope, Store
from pinmgr.history.schema import CURRENT
from pinmgr.model import (
    Direction,
    Ecosystem,
    FailureKind,
    Finding,
    FindingKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
)

T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
SCOPE = Scope.of("pins/pinmgr.toml", ["prod"], [])


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "h" / "history.sqlite")
    server = request.getfixturevalue("pg_server")
    return str(server.new_database())


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = open_store(url, "unused")
    yield s
    s.close()


def host(name: str, env: str = "prod") -> Host:
    return Host(name=name, env=env, roles=("web",))


def snap(name: str, **versions: str) -> HostSnapshot:
    pkgs = tuple(InstalledPackage(Ecosystem.DEB, n, v) for n, v in sorted(versions.items()))
    return HostSnapshot(host(name), OsRelease("debian", "12"), pkgs)


def drift(name: str, package: str, actual: str) -> Finding:
    return Finding(
        FindingKind.DRIFT, name, "prod", "web", Ecosystem.DEB, package, "1.0", actual,
        Direction.NEWER,
    )  # fmt: skip


def run(
    when: dt.datetime,
    results: list[HostSnapshot | HostFailure],
    findings: list[Finding],
    scope: Scope = SCOPE,
) -> RunRecord:
    report = report_mod.build(
        findings,
        hosts_total=len(results),
        hosts_collected=sum(isinstance(r, HostSnapshot) for r in results),
        lockfile=scope.lockfile,
        environments=["prod"],
    )
    return RunRecord("check", scope, when, results, report)


def test_a_version_change_shows_with_the_time_of_the_run_that_saw_it(store: Store) -> None:
    store.record(run(T0, [snap("web1", nginx="1.0", curl="8.0")], []))
    store.record(run(T0 + DAY, [snap("web1", nginx="1.1", curl="8.0")], []))
    store.record(run(T0 + 2 * DAY, [snap("web1", nginx="1.1", curl="8.0")], []))

    spans = store.versions(host="web1", package="nginx")
    assert [(s.version, s.appeared, s.disappeared, s.first_recorded) for s in spans] == [
        ("1.0", T0, T0 + DAY, True),
        ("1.1", T0 + DAY, None, False),
    ]
    # --since: only what changed in the window; curl never changed.
    recent = store.versions(since=T0 + DAY)
    assert {(s.package, s.version) for s in recent} == {("nginx", "1.0"), ("nginx", "1.1")}
    assert [r.id for r in store.runs()] == [3, 2, 1]


def test_a_failed_host_keeps_its_versions_open(store: Store) -> None:
    store.record(run(T0, [snap("web1", nginx="1.0")], []))
    failure = HostFailure(host("web1"), FailureKind.TIMEOUT, "timed out")
    store.record(run(T0 + DAY, [failure], []))
    store.record(run(T0 + 2 * DAY, [snap("web1", nginx="1.0")], []))
    (span,) = store.versions(host="web1")
    assert span.disappeared is None and span.appeared == T0


def test_known_since_comes_from_the_previous_run_of_the_same_scope(store: Store) -> None:
    old = drift("web1", "nginx", "1.1")
    first = store.record(run(T0, [snap("web1", nginx="1.1")], [old]))
    assert first.known_since == {} and first.previous_run is None
    other_scope = Scope.of("pins/pinmgr.toml", ["staging"], [])
    store.record(run(T0 + DAY, [snap("web1", nginx="1.1")], [], scope=other_scope))

    new = drift("web1", "curl", "9.0")
    second = store.record(run(T0 + 2 * DAY, [snap("web1", nginx="1.1")], [old, new]))
    assert second.known_since == {old: T0}  # carried from run 1, not reset by run 2
    third = store.record(run(T0 + 3 * DAY, [snap("web1", nginx="1.1")], [old, new]))
    assert third.known_since == {old: T0, new: T0 + 2 * DAY}
    # A drift that went away and came back is new again.
    store.record(run(T0 + 4 * DAY, [snap("web1", nginx="1.1")], [new]))
    back = store.record(run(T0 + 5 * DAY, [snap("web1", nginx="1.1")], [old, new]))
    assert back.known_since == {new: T0 + 2 * DAY}
    assert set(store.last_findings(SCOPE) or ()) == {new, old}


def test_trend_counts_per_environment(store: Store) -> None:
    ok = Finding(FindingKind.OK, "web1", "prod", "web", Ecosystem.DEB, "curl", "8.0", "8.0")
    store.record(run(T0, [snap("web1", curl="8.0")], [ok]))
    store.record(run(T0 + DAY, [snap("web1", curl="8.0")], [ok, drift("web1", "a", "2")]))
    points = store.trend(["prod"], limit=10)
    assert [(p.recorded_at, p.env, dict(p.counts)) for p in points] == [
        (T0, "prod", {FindingKind.OK: 1}),
        (T0 + DAY, "prod", {FindingKind.OK: 1, FindingKind.DRIFT: 1}),
    ]
    assert store.trend(["staging"]) == []


def test_prune_keeps_recent_runs_and_their_versions(store: Store) -> None:
    for day in range(5):
        store.record(run(T0 + day * DAY, [snap("web1", nginx=f"1.{day}")], []))
    assert store.prune(T0 + 3 * DAY) == 3
    assert [r.recorded_at for r in store.runs()] == [T0 + 4 * DAY, T0 + 3 * DAY]
    spans = store.versions(host="web1")
    assert [(s.version, s.first_recorded) for s in spans] == [("1.3", True), ("1.4", False)]


HOSTILE = st.text(min_size=1, max_size=30)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=HOSTILE, package=HOSTILE, version=HOSTILE)
def test_any_host_text_comes_back_exactly(
    store: Store, name: str, package: str, version: str
) -> None:
    """NUL, lone surrogates, backslashes: PostgreSQL's TEXT refuses some; the codec keeps all."""
    when = T0 + dt.timedelta(seconds=len(store.runs(limit=1000)))
    f = drift(name, package, version)
    s = HostSnapshot(host(name), None, (InstalledPackage(Ecosystem.DEB, package, version),))
    store.record(run(when, [s], [f]))
    assert f in (store.last_findings(SCOPE) or ())
    versions = {(v.host, v.package, v.version) for v in store.versions(host=name)}
    assert (name, package, version) in versions
    # Found again by the next run (matched by its stored, escaped key): first seen then.
    again = drift(name, package, version)
    later = store.record(run(when + dt.timedelta(milliseconds=500), [s], [again]))
    assert later.known_since == {again: when}


@given(st.text())
def test_codec_round_trips_any_text(text: str) -> None:
    stored = codec.to_db(text)
    assert "\x00" not in stored
    stored.encode("utf-8")  # no lone surrogate left
    assert codec.from_db(stored) == text


def test_a_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    open_store(str(path), "x").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE pinmgr_schema SET version = ?", (CURRENT + 1,))
    with pytest.raises(HistoryError, match=r"schema version 2 is newer than this pinmgr knows"):
        open_store(str(path), "x")


def test_an_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(HistoryError, match="unknown store"):
        open_store("mysql://db/x", "x")


@given(st.lists(st.integers(1, 2**31), max_size=60), st.booleans())
def test_package_sets_encode_as_their_sorted_distinct_ids(ids: list[int], presorted: bool) -> None:
    """Equal sets must give equal bytes (stored once, by digest), duplicates or order aside."""
    given_ids = sorted(ids) if presorted else ids
    ordered = sorted(set(ids))
    expected = array.array("I", (b - a for a, b in zip([0, *ordered], ordered, strict=False)))
    assert codec.encode_set(given_ids) == expected.tobytes()
    assert codec.decode_set(codec.compress(codec.encode_set(given_ids))) == frozenset(ids)
