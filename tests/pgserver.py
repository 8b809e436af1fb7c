"""A throwaway PostgreSQL 15 server for the history store's tests.

Debian's server binaries (package postgresql-15) run as the unprivileged ``nobody`` account
(PostgreSQL refuses root) on a cluster made by ``initdb`` in a temp dir, listening only on a
unix socket in that dir: no port, no service, no package cluster touched. ``stop`` ends it
and removes the dir.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "nobody"
SUPERUSER = "pinmgr"


def available() -> str | None:
    """Why the server cannot run here, or None."""
    if not (BIN / "postgres").exists():
        return "needs the PostgreSQL 15 server (apt-get install postgresql-15)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "needs psycopg (pip install 'pinmgr[postgresql]')"
    if os.geteuid() != 0:
        return "needs root (to run the server as nobody)"
    return None


@dataclass
class PgServer:
    dir: Path
    process: subprocess.Popen[bytes]
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}"

    def new_database(self) -> str:
        """A fresh empty database: one store per test."""
        import psycopg

        name = f"store{len(self.databases) + 1}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return self.url(name)


def _as_nobody() -> dict[str, object]:
    account = pwd.getpwnam(USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def start(deadline_s: float = 60.0) -> PgServer:
    base = Path(tempfile.mkdtemp(prefix="pmpg"))  # short: a unix socket path has a length cap
    account = pwd.getpwnam(USER)
    os.chown(base, account.pw_uid, account.pw_gid)
    data = base / "data"
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": str(base)}
    subprocess.run(
        [
            str(BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        env=env,
        cwd=base,
        check=True,
        capture_output=True,
        **_as_nobody(),  # type: ignore[arg-type]
    )
    log = (base / "server.log").open("wb")
    os.chown(base / "server.log", account.pw_uid, account.pw_gid)
    args = [str(BIN / "postgres"), "-D", str(data), "-k", str(base)]
    # Unix socket only; enough connections for 100 concurrent writers; crash safety of
    # the server itself is not under test (the clients are the ones killed).
    args += ["-c", "listen_addresses=", "-c", "max_connections=250", "-c", "fsync=off"]
    process = subprocess.Popen(
        args,
        env=env,
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
        **_as_nobody(),  # type: ignore[arg-type]
    )
    server = PgServer(base, process)
    _wait_ready(server, deadline_s)
    return server


def _wait_ready(server: PgServer, deadline_s: float) -> None:
    import psycopg

    deadline = time.monotonic() + deadline_s
    while True:
        if server.process.poll() is not None:
            log = (server.dir / "server.log").read_text(errors="replace")
            raise RuntimeError(f"postgres exited ({server.process.returncode}): {log[-2000:]}")
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                stop(server)
                raise
            time.sleep(0.05)  # polling for readiness, bounded by the deadline


def stop(server: PgServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)  # "fast" shutdown: clients cut off
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.dir, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[PgServer]:
    server = start()
    try:
        yield server
    finally:
        stop(server)
