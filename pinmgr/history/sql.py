"""The store over a DB-API connection: every query of both dialects, written once.

SQL is written with ``?`` placeholders; a dialect turns them into its own and supplies the
few things that differ (column types, how a writer takes the store's write lock, bulk
insert). Writers are serialised by that lock (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL
advisory lock), so concurrent runs never interleave and ids follow commit order.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from pinmgr.history import codec
from pinmgr.history.interface import (
    FindingTimes,
    HistoryError,
    Recorded,
    RunInfo,
    RunRecord,
    Scope,
    StoreUnavailable,
    VersionSpan,
)
from pinmgr.history.schema import CURRENT, MIGRATIONS
from pinmgr.model import (
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    TrendPoint,
)

Row = tuple[Any, ...]
_CHUNK = 500  # ids per ``IN (...)``: under SQLite's bound-parameter limit

FindingKey = tuple[str, str, str, str, str, str, str, str]


class Dialect(Protocol):
    """What differs between SQLite and PostgreSQL."""

    id_type: str
    blob_type: str

    def sql(self, text: str) -> str: ...
    def begin_write(self, cur: Any) -> None: ...
    def bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], rows: list[Row]
    ) -> None: ...
    def errors(self) -> tuple[type[BaseException], ...]: ...


def finding_key(f: Finding) -> FindingKey:
    """What makes a finding "the same" across runs: not its reason text nor its waiver."""
    # ``_value_``, not ``value`` (a Python-level property): called for every finding of a fleet.
    eco = f.ecosystem._value_ if f.ecosystem else ""
    return (f.kind._value_, f.env, f.host, f.role, eco, f.package, f.expected, f.actual)


def _csv(values: Sequence[str]) -> str:
    return to_db(",".join(values))


to_db = codec.to_db
from_db = codec.from_db


class SqlStore:
    """``interface.Store`` on an open connection (autocommit; transactions are explicit)."""

    def __init__(self, url: str, conn: Any, dialect: Dialect, *, read_only: bool = False) -> None:
        self.url = url
        self._conn = conn
        self._d = dialect
        if read_only:
            self._check_schema()
        else:
            self._migrate()

    # -- plumbing ---------------------------------------------------------------------------

    def _q(self, cur: Any, text: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._d.sql(text), tuple(params))
        return cur

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction under the store's write lock; driver errors -> HistoryError."""
        cur = self._conn.cursor()
        try:
            self._d.begin_write(cur)
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except self._d.errors() as exc:
            raise StoreUnavailable(f"{self.url}: cannot write the history store: {exc}") from exc
        finally:
            cur.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        cur = self._conn.cursor()
        try:
            yield cur
        except self._d.errors() as exc:
            raise StoreUnavailable(f"{self.url}: cannot read the history store: {exc}") from exc
        finally:
            cur.close()

    def _check_schema(self) -> None:
        """A store opened read-only is read as it is: only its own schema version will do."""
        with self._read() as cur:
            row = self._q(cur, "SELECT version FROM pinmgr_schema").fetchone()
        version = int(row[0]) if row else 0
        if version != CURRENT:
            newer = "newer than this pinmgr knows" if version > CURRENT else "older"
            raise HistoryError(
                f"{self.url}: history schema version {version} is {newer} ({CURRENT}) and the "
                "store is read-only here: open it once where it can be written"
            )

    def _migrate(self) -> None:
        with self._write() as cur:
            self._q(cur, "CREATE TABLE IF NOT EXISTS pinmgr_schema (version INTEGER NOT NULL)")
            row = self._q(cur, "SELECT version FROM pinmgr_schema").fetchone()
            version = int(row[0]) if row else 0
            if version > CURRENT:
                raise HistoryError(
                    f"{self.url}: history schema version {version} is newer than this pinmgr "
                    f"knows ({CURRENT}): upgrade pinmgr, or use another --history store"
                )
            for step in MIGRATIONS[version:]:
                for statement in step:
                    text = statement.format(id=self._d.id_type, blob=self._d.blob_type)
                    self._q(cur, text)
            if version == 0:
                self._q(cur, "INSERT INTO pinmgr_schema (version) VALUES (?)", (CURRENT,))
            elif version < CURRENT:
                self._q(cur, "UPDATE pinmgr_schema SET version = ?", (CURRENT,))

    def close(self) -> None:
        self._conn.close()

    def _chunked(self, cur: Any, template: str, values: Sequence[Any]) -> Iterator[Row]:
        """Rows of ``template`` (with ``{marks}`` for an ``IN`` list) over ``values`` in chunks."""
        for i in range(0, len(values), _CHUNK):
            part = values[i : i + _CHUNK]
            text = template.format(marks=", ".join("?" * len(part)))
            yield from self._q(cur, text, part).fetchall()

    def _ids(self, cur: Any, select: str, values: list[Row], insert: str) -> dict[Row, int]:
        """Ids of ``values`` (natural keys), inserting the missing ones; under the write lock."""
        known: dict[Row, int] = {}
        for row in self._q(cur, select).fetchall():
            known[tuple(row[1:])] = int(row[0])
        missing = [v for v in dict.fromkeys(values) if v not in known]
        if missing:
            cur.executemany(self._d.sql(insert), missing)
            for row in self._q(cur, select).fetchall():
                known[tuple(row[1:])] = int(row[0])
        return known

    # -- recording --------------------------------------------------------------------------

    def record(self, run: RunRecord) -> Recorded:
        with self._write() as cur:
            return self._record(cur, run)

    def _record(self, cur: Any, run: RunRecord) -> Recorded:
        scope = run.scope
        previous = self._last_run(cur, scope) if run.command == "check" else None
        at = codec.time_text(run.recorded_at)
        collected = sum(1 for r in run.results if isinstance(r, HostSnapshot))
        (run_id,) = self._q(
            cur,
            "INSERT INTO runs (recorded_at, command, lockfile, envs, roles, hosts_total, "
            "hosts_collected) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                at,
                run.command,
                to_db(scope.lockfile),
                _csv(scope.envs),
                _csv(scope.roles),
                len(run.results),
                collected,
            ),
        ).fetchone()
        self._record_hosts(cur, int(run_id), run.results)
        known: Mapping[Finding, dt.datetime] = FindingTimes()
        if run.report is not None:
            known = self._record_findings(cur, int(run_id), previous, run, at)
        return Recorded(int(run_id), known, previous)

    def _record_hosts(
        self, cur: Any, run_id: int, results: Sequence[HostSnapshot | HostFailure]
    ) -> None:
        host_ids = self._ids(
            cur,
            "SELECT id, env, name FROM hosts",
            [(to_db(r.host.env), to_db(r.host.name)) for r in results],
            "INSERT INTO hosts (env, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        snaps = [r for r in results if isinstance(r, HostSnapshot)]
        # A fleet has millions of package records but few distinct ones (the snapshot
        # reader shares one InstalledPackage per distinct record): key them by identity,
        # with C-level map/zip per host, and build the (ecosystem, name, version) key once
        # per distinct record. The snapshots hold every record alive, so ids are stable.
        distinct: dict[int, InstalledPackage] = {}
        seen: set[int] = set()
        for s in snaps:
            # Only a host holding a record no host before it held adds pairs (after the first
            # few hosts, almost none does): adding ids to a set is cheaper than pairs to a dict.
            before = len(seen)
            seen.update(map(id, s.packages))
            if len(seen) != before:
                distinct.update(zip(map(id, s.packages), s.packages, strict=True))
        keys = {i: (p.ecosystem._value_, p.name, p.version) for i, p in distinct.items()}
        flat = self._version_ids(cur, set(keys.values()))
        vid = {i: flat[key] for i, key in keys.items()}
        raw_of: dict[tuple[str, str], bytes] = {}
        for s in snaps:
            ids = list(map(vid.__getitem__, map(id, s.packages)))
            raw_of[(s.host.env, s.host.name)] = codec.encode_set(ids)
        set_ids = self._set_ids(cur, raw_of.values())
        rows: list[Row] = []
        for r in results:
            host_id = host_ids[(to_db(r.host.env), to_db(r.host.name))]
            roles = _csv(r.host.roles)
            if isinstance(r, HostSnapshot):
                set_id = set_ids[codec.digest(raw_of[(r.host.env, r.host.name)])]
                release = to_db(r.os_release.key) if r.os_release else ""
                rows.append((run_id, host_id, roles, release, set_id, "", ""))
            else:
                rows.append((run_id, host_id, roles, "", None, r.kind.value, to_db(r.reason)))
        # One row per host: a host named twice in a run (two inventory sources) keeps its last.
        unique = list({row[1]: row for row in rows}.values())
        columns = ("run_id", "host_id", "roles", "os_release", "set_id", "failure", "reason")
        self._d.bulk_insert(cur, "run_hosts", columns, unique)

    def _version_ids(
        self, cur: Any, wanted: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], int]:
        """Ids of the run's distinct versions, keyed by the raw (unescaped) strings."""
        # New versions get ids in name order: a host's packages (sorted by name) then map to
        # nearly sorted ids, which the package-set encoding sorts quickly.
        stored = {(e, to_db(n), to_db(v)): (e, n, v) for e, n, v in sorted(wanted)}
        known = self._ids(
            cur,
            "SELECT id, ecosystem, name, version FROM versions",
            list(stored),
            "INSERT INTO versions (ecosystem, name, version) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
        )
        return {raw: known[key] for key, raw in stored.items()}

    def _set_ids(self, cur: Any, raws: Iterable[bytes]) -> dict[str, int]:
        """Digest -> package_sets id; a set no run had before is stored (compressed) once."""
        by_digest = {codec.digest(raw): raw for raw in raws}
        found = self._by_digest(cur, list(by_digest))
        missing = [(d, codec.compress(raw)) for d, raw in by_digest.items() if d not in found]
        if missing:
            self._d.bulk_insert(cur, "package_sets", ("digest", "body"), missing)
            found.update(self._by_digest(cur, [d for d, _ in missing]))
        return found

    def _by_digest(self, cur: Any, digests: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        query = "SELECT digest, id FROM package_sets WHERE digest IN ({marks})"
        for d, set_id in self._chunked(cur, query, digests):
            out[d] = int(set_id)
        return out

    def _record_findings(
        self, cur: Any, run_id: int, previous: int | None, run: RunRecord, at: str
    ) -> FindingTimes:
        assert run.report is not None
        # The previous run's findings by their stored key: ``to_db`` is one-to-one, so a
        # finding's stored key (computed anyway for its row) finds it without unescaping
        # ~300,000 rows of a fleet first.
        first_seen: dict[tuple[str, ...], str] = {}
        if previous is not None:
            rows_before = self._q(
                cur,
                "SELECT kind, env, host, role, ecosystem, package, expected, actual, first_seen "
                "FROM findings WHERE run_id = ?",
                (previous,),
            )
            first_seen = {tuple(row[:8]): row[8] for row in rows_before}
        known = FindingTimes()
        rows: list[Row] = []
        counts: Counter[tuple[str, str]] = Counter()
        times: dict[str, dt.datetime] = {}
        ok = FindingKind.OK
        ok_by_env: Counter[str] = Counter()
        stored = _Memo(to_db).__getitem__  # a fleet's findings repeat their strings
        for f in run.report.findings:
            if f.kind is ok:  # most of a fleet's findings: counted by env alone, fast
                ok_by_env[f.env] += 1
                continue
            key = tuple(map(stored, finding_key(f)))
            counts[(f.env, key[0])] += 1
            seen = first_seen.get(key)
            if seen is not None:
                if seen not in times:
                    times[seen] = codec.parse_time(seen)
                known.add(f, times[seen])
            rows.append(
                (
                    run_id,
                    *key,
                    f.direction._value_ if f.direction else "",
                    stored(f.reason),
                    stored(f.os_release),
                    stored(f.waiver_reason),
                    seen or at,
                )
            )
        columns = (
            "run_id", "kind", "env", "host", "role", "ecosystem", "package", "expected",
            "actual", "direction", "reason", "os_release", "waiver", "first_seen",
        )  # fmt: skip
        self._d.bulk_insert(cur, "findings", columns, rows)
        for env, n in ok_by_env.items():
            counts[(env, ok.value)] += n
        self._counts(cur, run_id, run, counts)
        return known

    def _counts(
        self, cur: Any, run_id: int, run: RunRecord, counts: Counter[tuple[str, str]]
    ) -> None:
        """Per environment and kind; ok findings a ``--no-ok`` report left out come from the
        summary (as one total under the first environment when there are several)."""
        assert run.report is not None
        listed_ok = sum(n for (_, kind), n in counts.items() if kind == FindingKind.OK.value)
        missing_ok = run.report.summary.count(FindingKind.OK) - listed_ok
        if missing_ok > 0:
            env = run.report.environments[0] if run.report.environments else ""
            counts[(env, FindingKind.OK.value)] += missing_ok
        rows = [(run_id, to_db(env), kind, n) for (env, kind), n in sorted(counts.items())]
        self._d.bulk_insert(cur, "run_counts", ("run_id", "env", "kind", "n"), rows)

    def _last_run(self, cur: Any, scope: Scope) -> int | None:
        row = self._q(
            cur,
            "SELECT max(id) FROM runs WHERE lockfile = ? AND envs = ? AND roles = ? "
            "AND command = 'check'",
            (to_db(scope.lockfile), _csv(scope.envs), _csv(scope.roles)),
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    # -- reading ----------------------------------------------------------------------------

    def last_findings(self, scope: Scope) -> tuple[Finding, ...] | None:
        with self._read() as cur:
            run_id = self._last_run(cur, scope)
            if run_id is None:
                return None
            rows = self._q(
                cur,
                "SELECT kind, env, host, role, ecosystem, package, expected, actual, "
                "direction, reason, os_release, waiver FROM findings WHERE run_id = ?",
                (run_id,),
            ).fetchall()
        return tuple(_finding(row) for row in rows)

    def runs(self, *, since: dt.datetime | None = None, limit: int = 100) -> list[RunInfo]:
        after = codec.time_text(since) if since else ""
        with self._read() as cur:
            rows = self._q(
                cur,
                "SELECT id, recorded_at, command, lockfile, envs, roles, hosts_total, "
                "hosts_collected FROM runs WHERE recorded_at >= ? ORDER BY id DESC LIMIT ?",
                (after, limit),
            ).fetchall()
            counts = self._run_counts(cur, [int(r[0]) for r in rows])
        out = []
        for r in rows:
            per_kind: Counter[str] = Counter()
            for _, kind, n in counts.get(int(r[0]), []):
                per_kind[kind] += n
            scope = Scope(from_db(r[3]), _split(r[4]), _split(r[5]))
            out.append(
                RunInfo(
                    int(r[0]),
                    codec.parse_time(r[1]),
                    r[2],
                    scope,
                    int(r[6]),
                    int(r[7]),
                    tuple((k, per_kind[k.value]) for k in FindingKind if per_kind[k.value]),
                )
            )
        return out

    def _run_counts(self, cur: Any, run_ids: list[int]) -> dict[int, list[tuple[str, str, int]]]:
        out: dict[int, list[tuple[str, str, int]]] = {}
        query = "SELECT run_id, env, kind, n FROM run_counts WHERE run_id IN ({marks})"
        for run_id, env, kind, n in self._chunked(cur, query, run_ids):
            out.setdefault(int(run_id), []).append((from_db(env), kind, int(n)))
        return out

    def trend(self, envs: Sequence[str] = (), limit: int = 30) -> list[TrendPoint]:
        with self._read() as cur:
            rows = self._q(
                cur,
                "SELECT id, recorded_at FROM runs WHERE command = 'check' ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
            counts = self._run_counts(cur, [int(r[0]) for r in rows])
        points: list[TrendPoint] = []
        for run_id, at in reversed(rows):
            per_env: dict[str, Counter[str]] = {}
            for env, kind, n in counts.get(int(run_id), []):
                if not envs or env in envs:
                    per_env.setdefault(env, Counter())[kind] += n
            when = codec.parse_time(at)
            for env in sorted(per_env):
                c = per_env[env]
                points.append(
                    TrendPoint(when, env, tuple((k, c[k.value]) for k in FindingKind if c[k.value]))
                )
        return points

    def versions(
        self,
        *,
        host: str | None = None,
        package: str | None = None,
        envs: Sequence[str] = (),
        since: dt.datetime | None = None,
    ) -> list[VersionSpan]:
        with self._read() as cur:
            if host is None or _is_glob(host):
                rows = self._q(cur, "SELECT id, env, name FROM hosts").fetchall()
            else:
                rows = self._q(
                    cur, "SELECT id, env, name FROM hosts WHERE name = ?", (to_db(host),)
                ).fetchall()
            hosts = {
                int(i): (from_db(e), from_db(n))
                for i, e, n in rows
                if (not envs or from_db(e) in envs)
                and (host is None or fnmatch.fnmatchcase(from_db(n), host))
            }
            states = self._states(cur, list(hosts))
            versions: dict[int, tuple[str, str, str]] = {}
            if package is not None:  # the package's versions first: sets shrink as decoded
                for i, e, n, v in self._q(cur, "SELECT id, ecosystem, name, version FROM versions"):
                    if fnmatch.fnmatchcase(from_db(n), package):
                        versions[int(i)] = (e, from_db(n), from_db(v))
            keep = frozenset(versions) if package is not None else None
            sets = self._sets(cur, {s for seq in states.values() for _, _, s in seq}, keep)
            if package is None:
                used = sorted(frozenset().union(*sets.values())) if sets else []
                query = "SELECT id, ecosystem, name, version FROM versions WHERE id IN ({marks})"
                for i, e, n, v in self._chunked(cur, query, used):
                    versions[int(i)] = (e, from_db(n), from_db(v))
        spans: list[VersionSpan] = []
        wanted = frozenset(versions)
        for host_id, seq in states.items():
            env, name = hosts[host_id]
            spans.extend(_spans(env, name, seq, sets, wanted, versions))
        if since is not None:
            spans = [
                s
                for s in spans
                if (s.appeared >= since and not s.first_recorded)
                or (s.disappeared is not None and s.disappeared >= since)
            ]
        spans.sort(key=lambda s: (s.env, s.host, s.ecosystem, s.package, s.appeared, s.version))
        return spans

    def _states(self, cur: Any, host_ids: list[int]) -> dict[int, list[tuple[int, str, int]]]:
        """Per host, (run id, recorded_at, set id) of every run that collected it, in order."""
        out: dict[int, list[tuple[int, str, int]]] = {}
        query = (
            "SELECT rh.host_id, rh.run_id, r.recorded_at, rh.set_id FROM run_hosts rh "
            "JOIN runs r ON r.id = rh.run_id WHERE rh.host_id IN ({marks}) "
            "AND rh.set_id IS NOT NULL ORDER BY rh.host_id, rh.run_id"
        )
        for host_id, run_id, at, set_id in self._chunked(cur, query, host_ids):
            out.setdefault(int(host_id), []).append((int(run_id), at, int(set_id)))
        return out

    def _sets(
        self, cur: Any, set_ids: set[int], keep: frozenset[int] | None = None
    ) -> dict[int, frozenset[int]]:
        """Decoded sets; with ``keep``, only those ids of each (small sets for one package)."""
        out: dict[int, frozenset[int]] = {}
        query = "SELECT id, body FROM package_sets WHERE id IN ({marks})"
        for set_id, body in self._chunked(cur, query, sorted(set_ids)):
            ids = codec.decode_set(bytes(body))
            out[int(set_id)] = ids if keep is None else ids & keep
        return out

    # -- pruning ----------------------------------------------------------------------------

    def prune(self, before: dt.datetime) -> int:
        cutoff = codec.time_text(before)
        old = "SELECT id FROM runs WHERE recorded_at < ?"
        with self._write() as cur:
            (n,) = self._q(
                cur, "SELECT count(*) FROM runs WHERE recorded_at < ?", (cutoff,)
            ).fetchone()
            for table in ("findings", "run_counts", "run_hosts"):
                self._q(cur, f"DELETE FROM {table} WHERE run_id IN ({old})", (cutoff,))  # noqa: S608
            self._q(cur, "DELETE FROM runs WHERE recorded_at < ?", (cutoff,))
            self._q(
                cur,
                "DELETE FROM package_sets WHERE id NOT IN "
                "(SELECT set_id FROM run_hosts WHERE set_id IS NOT NULL)",
            )
            self._q(cur, "DELETE FROM hosts WHERE id NOT IN (SELECT host_id FROM run_hosts)")
        return int(n)


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


class _Memo(dict[str, str]):
    """``to_db``/``from_db`` of each distinct string once (a call for a new one only)."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, text: str) -> str:
        out = self[text] = self._convert(text)
        return out


def _split(text: str) -> tuple[str, ...]:
    return tuple(from_db(text).split(",")) if text else ()


def _finding(row: Row) -> Finding:
    kind, env, host, role, eco, package, expected, actual, direction, reason, release, waiver = (
        from_db(v) for v in row
    )
    return Finding(
        kind=FindingKind(kind),
        host=host,
        env=env,
        role=role,
        ecosystem=Ecosystem(eco) if eco else None,
        package=package,
        expected=expected,
        actual=actual,
        direction=Direction(direction) if direction else None,
        reason=reason,
        os_release=release,
        waiver_reason=waiver,
    )


def _spans(
    env: str,
    host: str,
    seq: list[tuple[int, str, int]],
    sets: dict[int, frozenset[int]],
    wanted: frozenset[int],
    versions: dict[int, tuple[str, str, str]],
) -> Iterator[VersionSpan]:
    """Walk one host's recorded sets in run order: each change opens and closes spans."""
    opened: dict[int, tuple[dt.datetime, bool]] = {}
    previous_set: int | None = None
    current: frozenset[int] = frozenset()
    for index, (_, at, set_id) in enumerate(seq):
        if set_id == previous_set:
            continue
        previous_set = set_id
        now = sets[set_id] & wanted
        when = codec.parse_time(at)
        for vid in current - now:
            appeared, first = opened.pop(vid)
            yield _span(env, host, versions[vid], appeared, when, first)
        for vid in now - current:
            opened[vid] = (when, index == 0)
        current = now
    for vid, (appeared, first) in opened.items():
        yield _span(env, host, versions[vid], appeared, None, first)


def _span(
    env: str,
    host: str,
    version: tuple[str, str, str],
    appeared: dt.datetime,
    disappeared: dt.datetime | None,
    first: bool,
) -> VersionSpan:
    eco, name, text = version
    return VersionSpan(env, host, eco, name, text, appeared, disappeared, first)
