"""History store benchmark: what recording costs a fleet check, and how fast ``history`` answers.

``record``: ``pinmgr check --snapshot ... -f json --no-ok`` on a synthetic fleet
(benchmarks/fleet.py's data: 10,000 hosts by default), once with ``--no-history`` and twice
recording into a fresh SQLite store (the first recording stores every host's package set; the
second finds them unchanged, as a daily run of a stable fleet does), each in a fresh process;
prints wall and CPU time and the ratio to the run without history (target: under 1.20).

``query``: a store holding 365 daily runs of 1,000 hosts (1,500 packages each; every day
2% of the hosts change one package version), written with the store's own schema and codec,
then ``history HOST`` timed in-process (``Store.versions``) and as the CLI in a fresh process
(start-up included). Target: under 1 s.

    python benchmarks/history.py record --hosts 10000 --out /tmp/pinmgr-fleet
    python benchmarks/history.py query --out /tmp/pinmgr-history
    python benchmarks/history.py record --backend postgresql://...   # an existing server
    python benchmarks/history.py concurrent -n 100 [--backend postgresql://...]

``concurrent``: N real ``pinmgr check`` processes started at once, recording into one store;
prints their exit codes and how many runs the store holds afterwards (must be N).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet import generate, run

from pinmgr.history import codec, open_store


def bench_record(n_hosts: int, out: Path, backend: str | None) -> None:
    where = generate(n_hosts, out)
    store = backend or str(where / "bench-history.sqlite")
    if backend is None:
        for suffix in ("", "-wal", "-shm"):
            Path(store + suffix).unlink(missing_ok=True)
    rows = [
        ("no history", run(where, ["--no-ok", "--no-history"])),
        ("history, first run", run(where, ["--no-ok", "--history", store])),
        ("history, unchanged fleet", run(where, ["--no-ok", "--history", store])),
    ]
    base = rows[0][1]
    print(f"{n_hosts} hosts, store {'SQLite' if backend is None else 'PostgreSQL'}")
    print(f"{'run':<26} {'wall s':>8} {'cpu s':>8} {'x wall':>7} {'x cpu':>7} {'peak MB':>8}")
    for name, r in rows:
        print(
            f"{name:<26} {r['wall']:8.1f} {r['cpu']:8.1f} {r['wall'] / base['wall']:7.2f} "
            f"{r['cpu'] / base['cpu']:7.2f} {r['rss_mb']:8.0f}"
        )
    if backend is None:
        size = sum(Path(store + s).stat().st_size for s in ("", "-wal") if Path(store + s).exists())
        print(f"store size after two runs: {size / 1e6:.1f} MB")


def build_year(path: Path, hosts: int = 1000, packages: int = 1500, days: int = 365) -> None:
    """365 daily runs of ``hosts`` hosts, written straight into the schema (the store's own
    ``record`` would take minutes per year: it re-encodes every host every run)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    open_store(str(path), "x").close()  # schema by the store itself
    rng = random.Random(365)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    versions: dict[tuple[str, str], int] = {}

    def vid(name: str, version: str) -> int:
        key = (name, version)
        if key not in versions:
            cur = conn.execute(
                "INSERT INTO versions (ecosystem, name, version) VALUES ('deb', ?, ?) RETURNING id",
                key,
            )
            versions[key] = cur.fetchone()[0]
        return versions[key]

    base = {f"pkg{p:04d}": f"1.{p % 17}.{p % 5}-1" for p in range(packages)}
    state = [dict(base) for _ in range(hosts)]
    conn.executemany(
        "INSERT INTO hosts (env, name) VALUES ('prod', ?)", [(f"h{h:04d}",) for h in range(hosts)]
    )
    set_of: dict[str, int] = {}

    def set_id(pkgs: dict[str, str]) -> int:
        raw = codec.encode_set(vid(n, v) for n, v in pkgs.items())
        d = codec.digest(raw)
        if d not in set_of:
            cur = conn.execute(
                "INSERT INTO package_sets (digest, body) VALUES (?, ?) RETURNING id",
                (d, codec.compress(raw)),
            )
            set_of[d] = cur.fetchone()[0]
        return set_of[d]

    current = [set_id(s) for s in state]
    t0 = dt.datetime(2025, 12, 7, 6, 0, tzinfo=dt.timezone.utc)
    for day in range(days):
        for h in rng.sample(range(hosts), hosts // 50):
            name = f"pkg{rng.randrange(packages):04d}"
            state[h][name] = f"{state[h][name]}+u{day}"
            current[h] = set_id(state[h])
        (run_id,) = conn.execute(
            "INSERT INTO runs (recorded_at, command, lockfile, envs, roles, hosts_total, "
            "hosts_collected) VALUES (?, 'check', 'pins/pinmgr.toml', '', '', ?, ?) RETURNING id",
            (codec.time_text(t0 + dt.timedelta(days=day)), hosts, hosts),
        ).fetchone()
        conn.executemany(
            "INSERT INTO run_hosts VALUES (?, ?, 'app', 'debian-12', ?, '', '')",
            [(run_id, h + 1, current[h]) for h in range(hosts)],
        )
    conn.execute("COMMIT")
    conn.close()


def bench_query(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "year.sqlite"
    if not path.exists():
        t = time.perf_counter()
        build_year(path)
        print(f"built 365 runs x 1,000 hosts in {time.perf_counter() - t:.1f}s: {path}")
    print(f"store size: {path.stat().st_size / 1e6:.1f} MB")
    store = open_store(str(path), "x")
    for host in ("h0042", "h0777"):
        t = time.perf_counter()
        spans = store.versions(host=host)
        print(
            f"Store.versions(host={host!r}): {len(spans)} spans in {time.perf_counter() - t:.3f}s"
        )
    t = time.perf_counter()
    spans = store.versions(package="pkg0100")
    took = time.perf_counter() - t
    print(f"Store.versions(package='pkg0100'), all hosts: {len(spans)} spans in {took:.3f}s")
    store.close()
    pinmgr = shutil.which("pinmgr") or "pinmgr"
    for args in (["h0042"], ["h0042", "pkg01*"], ["--runs", "--limit", "365"]):
        t = time.perf_counter()
        done = subprocess.run(
            [pinmgr, "history", *args, "--history", str(path)], capture_output=True, check=True
        )
        lines = done.stdout.count(b"\n")
        took = time.perf_counter() - t
        print(f"pinmgr history {' '.join(args)}: {lines} lines in {took:.3f}s (fresh process)")


CONCURRENT_SNAPSHOT = {
    "format": "pinmgr-snapshot",
    "format_version": 1,
    "pinmgr_version": "bench",
    "started_at": "2026-12-01T00:00:00Z",
    "finished_at": "2026-12-01T00:00:01Z",
    "selection": {"envs": [], "roles": [], "shard": None},
    "hosts": [
        {
            "name": f"web{i}",
            "env": "prod",
            "roles": ["app"],
            "collected_at": "2026-12-01T00:00:01Z",
            "sources": ["deb"],
            "os_release": {"id": "debian", "version_id": "12"},
            "packages": {"deb": [{"name": "bash", "version": f"5.2.15-{i}", "arch": "amd64"}]},
            "warnings": [],
        }
        for i in range(3)
    ],
}


def bench_concurrent(n: int, out: Path, backend: str | None) -> None:
    """``n`` real ``pinmgr check`` processes started at once, recording into one store."""
    out.mkdir(parents=True, exist_ok=True)
    snap = out / "three-hosts.json"
    snap.write_text(json.dumps(CONCURRENT_SNAPSHOT))
    store = backend or str(out / "concurrent.sqlite")
    if backend is None:
        for suffix in ("", "-wal", "-shm"):
            Path(store + suffix).unlink(missing_ok=True)
    lock = Path(__file__).resolve().parents[1] / "pins" / "pinmgr.toml"
    argv = [sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "--snapshot", str(snap)]
    argv += ["--history", store, "-q", "--no-ok", "-f", "json"]
    t = time.perf_counter()
    procs = [
        # cwd: a directory with no pins/inventory.toml, so the snapshot's hosts are the fleet
        subprocess.Popen(argv, cwd=out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(n)
    ]
    codes = [p.wait() for p in procs]
    errors = [p.stderr.read() for p in procs if p.stderr]
    took = time.perf_counter() - t
    recorded = open_store(store, lock)
    runs = len(recorded.runs(limit=n + 10))
    recorded.close()
    print(
        f"{n} concurrent pinmgr check processes in {took:.1f}s: exit codes "
        f"{sorted(set(codes))}, {sum(1 for e in errors if e)} wrote to stderr, "
        f"{runs} runs recorded"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--hosts", type=int, default=10000)
    rec.add_argument("--out", type=Path, default=Path("/tmp/pinmgr-fleet"))
    rec.add_argument("--backend", default=None, help="a postgresql:// URL (default: SQLite)")
    conc = sub.add_parser("concurrent")
    conc.add_argument("-n", type=int, default=100)
    conc.add_argument("--out", type=Path, default=Path("/tmp/pinmgr-history"))
    conc.add_argument("--backend", default=None, help="a postgresql:// URL (default: SQLite)")
    query = sub.add_parser("query")
    query.add_argument("--out", type=Path, default=Path("/tmp/pinmgr-history"))
    args = parser.parse_args()
    if args.what == "record":
        bench_record(args.hosts, args.out, args.backend)
    elif args.what == "concurrent":
        bench_concurrent(args.n, args.out, args.backend)
    else:
        bench_query(args.out)


if __name__ == "__main__":
    main()
